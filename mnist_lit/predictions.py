"""The answers of `predict` and of :func:`mnist_lit.classify`: one record per input, as a table or CSV."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_lit.atomic import write_rows

TOP_K = 3
CSV_HEADER = ("file", "pred", "confidence", "top2", "top2_prob", "top3", "top3_prob", "error")


@dataclass(frozen=True)
class Prediction:
    """One input's answer: its most probable classes, best first, or why it could not be read.

    Attributes:
        name: The input: a file path, or ``source[i]`` for the i-th digit of an array or IDX file.
        top: Up to three ``(class, probability)`` pairs, most probable first; empty when ``error`` is set.
        error: Why the input could not be read (not an image, empty, truncated, blank); ``None`` if it was.
    """

    name: str
    top: tuple[tuple[int, float], ...] = ()
    error: str | None = None

    @property
    def pred(self) -> int | None:
        return self.top[0][0] if self.top else None

    @property
    def confidence(self) -> float | None:
        return self.top[0][1] if self.top else None

    def csv_row(self, class_names: Sequence[str] | None = None) -> list[object]:
        """``file, pred, confidence, top2, top2_prob, top3, top3_prob, error``; classes by name if given."""
        ranked = [value for c, p in self.top for value in (_named(c, class_names), p)]
        ranked += [""] * (2 * TOP_K - len(ranked))
        return [self.name, *ranked, self.error or ""]


def predictions_from(
    names: Sequence[str], positions: np.ndarray, probs: np.ndarray, errors: Mapping[int, str]
) -> list[Prediction]:
    """One record per name, in order: ``probs[i]`` answers ``names[positions[i]]``, ``errors`` the rest.

    Of equal probabilities, the lower class comes first.
    """
    probs = np.asarray(probs, dtype=np.float32)
    top_classes = np.argsort(-probs, axis=1, kind="stable")[:, :TOP_K]
    top_probs = np.take_along_axis(probs, top_classes, axis=1)
    answered = {
        position: Prediction(names[position], tuple((c, round(p, 6)) for c, p in zip(classes, chances)))
        for position, classes, chances in zip(positions.tolist(), top_classes.tolist(), top_probs.tolist())
    }
    return [
        answered.get(position) or Prediction(name, error=errors.get(position, "no prediction was made"))
        for position, name in enumerate(names)
    ]


def _named(label: int, class_names: Sequence[str] | None) -> int | str:
    return class_names[label] if class_names is not None else label


def write_csv(predictions: Sequence[Prediction], path: Path, class_names: Sequence[str] | None = None) -> None:
    """The answers as CSV, classes named by ``class_names`` (MNIST's are the digits themselves)."""
    write_rows(path, [CSV_HEADER, *(prediction.csv_row(class_names) for prediction in predictions)])


def format_table(predictions: Sequence[Prediction], limit: int = 10, class_names: Sequence[str] | None = None) -> str:
    """The first ``limit`` answers as aligned text: file, class, confidence and the runners-up."""
    width = max([len("file")] + [len(p.name) for p in predictions[:limit]])
    pred_width = max([4] + [len(str(_named(p.pred, class_names))) for p in predictions[:limit] if p.top])
    lines = [f"{'file':<{width}}  {'pred':>{pred_width}}  confidence  top-3"]
    for prediction in predictions[:limit]:
        if prediction.error:
            lines.append(f"{prediction.name:<{width}}  error: {prediction.error}")
            continue
        ranked = "  ".join(f"{_named(c, class_names)} ({p:.3f})" for c, p in prediction.top)
        pred = _named(prediction.pred, class_names)
        lines.append(f"{prediction.name:<{width}}  {pred:>{pred_width}}  {prediction.confidence:>10.4f}  {ranked}")
    if len(predictions) > limit:
        lines.append(f"... and {len(predictions) - limit} more")
    return "\n".join(lines)
