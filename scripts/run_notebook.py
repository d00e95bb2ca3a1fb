"""Run the chapter's notebook top to bottom and store it with its outputs, as a reader sees them.

    python scripts/run_notebook.py                                   # the full run stored in the repository
    python scripts/run_notebook.py --epochs 1 --out /tmp/chapter.ipynb

papermill runs it in a Jupyter kernel from the repository's root (``--epochs`` overrides the cell tagged
``parameters``, papermill's convention), then the progress bars' carriage returns are folded as Jupyter
shows them (nbconvert's ``CoalesceStreamsPreprocessor``): the file keeps each bar's last state, not every
update. The notebook is written whole, only once every cell has run without an error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "chapter.ipynb"


def main(argv: list[str] | None = None) -> int:
    import nbformat
    import papermill
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    from mnist_lit.atomic import write_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, help="epochs per network (default: the notebook's own, 20)")
    parser.add_argument("--out", type=Path, default=NOTEBOOK, help="where to write the run notebook")
    args = parser.parse_args(argv)
    parameters = {} if args.epochs is None else {"epochs": args.epochs}
    with tempfile.TemporaryDirectory() as scratch:
        executed = Path(scratch) / "chapter.ipynb"
        papermill.execute_notebook(str(NOTEBOOK), str(executed), parameters=parameters, cwd=str(REPO),
                                   progress_bar=False)  # fmt: skip
        notebook = nbformat.read(executed, as_version=4)
    notebook, _ = CoalesceStreamsPreprocessor().preprocess(notebook, {})
    notebook.metadata.pop("papermill", None)  # the run's own paths and times: nothing a reader needs
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    write_file(args.out, nbformat.writes(notebook) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
