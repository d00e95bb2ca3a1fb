"""Pictures of digits and learning curves, drawn on a bare matplotlib Figure (no pyplot state, no display needed)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from torch import Tensor

# per panel: its title, the per-epoch curves, and the test score drawn as a level line
CURVES = (("loss", ("train/loss", "val/loss"), "test/loss"), ("accuracy", ("train/acc", "val/acc"), "test/acc"))


def plot_digits(images: Tensor, titles: list[str], columns: int = 5) -> Figure:
    """A grid of images, each with its title (the textbook's ``True: t, Pred: p``).

    ``images`` is ``[N, H, W]`` (grayscale digits) or ``[N, 3, H, W]`` (colour, shown as such).
    """
    rows = max(1, -(-len(images) // columns))
    fig = Figure(figsize=(2 * columns, 2.3 * rows))
    for position, (image, title) in enumerate(zip(images, titles), start=1):
        ax = fig.add_subplot(rows, columns, position)
        ax.imshow(image.permute(1, 2, 0).numpy() if image.ndim == 3 else image.numpy(), cmap="gray")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig


def read_scalars(run_dir: str | Path) -> dict[str, list[float]]:
    """Every scalar a run logged to TensorBoard, in logging order (one point per epoch here)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir)).Reload()
    return {tag: [event.value for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def plot_curves(scalars: dict[str, list[float]], tested: str = "") -> Figure:
    """Train and validation curves per epoch; the test score of the ``tested`` checkpoint as a dashed line."""
    fig = Figure(figsize=(10, 4))
    for position, (title, tags, test_tag) in enumerate(CURVES, start=1):
        ax = fig.add_subplot(1, 2, position)
        for tag in tags:
            if tag in scalars:
                ax.plot(range(1, len(scalars[tag]) + 1), scalars[tag], marker="o", markersize=3, label=tag)
        if test_tag in scalars:
            ax.axhline(scalars[test_tag][-1], color="black", linestyle="--", label=f"{test_tag} ({tested})")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
