"""One Markdown report of a run, with PNG figures, from its TensorBoard logs: no TensorBoard needed to read it.

python scripts/report.py logs/two_hidden/version_0

RUN_DIR is a `fit` run; the `test` runs of its checkpoints (which Lightning logs as later versions) are
found by their config's ``ckpt_path`` and included. The report (``report.md``, ``curves.png`` and copies
of the confusion matrix and misclassified pictures) goes to ``RUN_DIR/report`` unless ``--out`` says where.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

import yaml

from mnist_lit.atomic import write_figure, write_file
from mnist_lit.errors import MnistLitError, exits_on_user_error
from mnist_lit.plots import plot_curves, read_scalars

# a report is written whole or not at all: the one before it, if any, is kept
ADVICE = "Run the script again once there is room, or choose another folder with --out DIR."
FIGURES = (("Confusion matrix", "confusion/confusion_matrix.png"), ("Misclassified", "misclassified/misclassified.png"))


def read_config(run_dir: Path) -> dict:
    path = run_dir / "config.yaml"
    return yaml.safe_load(path.read_text()) if path.is_file() else {}


def test_runs_of(run_dir: Path) -> list[Path]:
    """The sibling runs that tested a checkpoint of ``run_dir``, oldest first."""
    checkpoints = (run_dir / "checkpoints").resolve()
    return [
        sibling
        for sibling in sorted(run_dir.parent.iterdir(), key=lambda path: path.stat().st_mtime)
        if sibling != run_dir
        and (ckpt := read_config(sibling).get("ckpt_path"))
        and Path(ckpt).resolve().parent == checkpoints
    ]


def newest_file(runs: list[Path], relative: str) -> Path | None:
    """``relative`` in the newest of ``runs`` that has it."""
    return next((run / relative for run in reversed(runs) if (run / relative).is_file()), None)


def markdown_table(header: list[str], rows: list[list[object]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(cell) for cell in row) + " |" for row in rows
    ]


def flattened(prefix: str, values: dict) -> dict:
    """Nested settings as ``prefix.key.subkey`` rows: the network's ``model.net.init_args.hidden_sizes``."""
    rows = {}
    for key, value in values.items():
        rows |= flattened(f"{prefix}.{key}", value) if isinstance(value, dict) else {f"{prefix}.{key}": value}
    return rows


def write_report(run_dir: Path, out_dir: Path) -> Path:
    """Write ``report.md`` and its figures; returns the report's path."""
    if not list(run_dir.glob("events.out.tfevents.*")):
        raise MnistLitError(
            f"{run_dir} holds no TensorBoard event files, so it is not a run's log dir. Pass a folder such as "
            "logs/two_hidden/version_0 (the one with checkpoints/ after `fit`)."
        )
    tests = test_runs_of(run_dir)
    scalars = read_scalars(run_dir)
    for test_run in tests:
        scalars.update({tag: values for tag, values in read_scalars(test_run).items() if tag.startswith("test/")})
    tested = Path(read_config(tests[-1])["ckpt_path"]).name if tests else ""
    write_figure(out_dir / "curves.png", plot_curves(scalars, tested), ADVICE)

    config = read_config(run_dir)
    model = config.get("model") or {}
    hyper = {"model": model.get("class_path")} if "class_path" in model else {}
    hyper |= flattened("model", model.get("init_args", model) or {})
    hyper |= {f"data.{key}": value for key, value in (config.get("data") or {}).items()}
    hyper |= {
        "trainer.max_epochs": (config.get("trainer") or {}).get("max_epochs"),
        "seed": config.get("seed_everything"),
    }
    final = [
        [tag, f"{values[-1]:.4f}"]
        for tag, values in sorted(scalars.items())
        if "/" in tag and not tag.startswith("time/")
    ]
    if "time/epoch_s" in scalars:
        final.append(["seconds per epoch (median)", f"{statistics.median(scalars['time/epoch_s']):.2f}"])

    lines = [f"# Run report: {run_dir}", ""]
    tested_by = f"Tested by: {', '.join(str(path) for path in tests)} (newest: {tested})"
    lines += [tested_by if tests else "Not tested yet: run `test`.", ""]
    lines += ["## Final metrics", "", *markdown_table(["metric", "value"], final), ""]
    lines += ["## Loss and accuracy per epoch", "", "![curves](curves.png)", ""]
    for title, relative in FIGURES:
        if source := newest_file(tests, relative):
            write_file(out_dir / source.name, source.read_bytes(), ADVICE)
            lines += [f"## {title}", "", f"![{title}]({source.name})", ""]
    if per_class := newest_file(tests, "confusion/per_class.csv"):
        rows = list(csv.reader(per_class.open()))
        lines += ["## Accuracy per class", "", *markdown_table(rows[0], rows[1:]), ""]
    lines += ["## Hyperparameters", "", *markdown_table(["name", "value"], [[k, v] for k, v in hyper.items()]), ""]
    report = out_dir / "report.md"
    write_file(report, "\n".join(lines), ADVICE)
    return report


@exits_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a fit run's log dir, e.g. logs/two_hidden/version_0")
    parser.add_argument("--out", type=Path, help="folder for the report (default: RUN_DIR/report)")
    args = parser.parse_args(argv)
    report = write_report(args.run_dir, args.out or args.run_dir / "report")
    print(f"report written to {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
