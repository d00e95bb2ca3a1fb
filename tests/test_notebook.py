"""notebooks/chapter.ipynb: it runs top to bottom (one epoch here), and its stored outputs are a full run's.

papermill runs it: it overrides the cell tagged ``parameters`` by the convention the notebook follows, runs
every cell in a real Jupyter kernel as a reader's Jupyter would, and fails on the first cell that raises.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import REPO

NOTEBOOK = REPO / "notebooks" / "chapter.ipynb"
# where this machine's files live: none of it belongs in what a reader downloads
ABSOLUTE_PATH = re.compile(r"(/root|/home|/work|/tmp|/Users|[A-Z]:\\\\)[/\\\\]")


def outputs(notebook: dict) -> list[dict]:
    return [output for cell in notebook["cells"] if cell["cell_type"] == "code" for output in cell["outputs"]]


def text_of(output: dict) -> str:
    text = output.get("text") or output.get("data", {}).get("text/plain") or ""
    return "".join(text) if isinstance(text, list) else text


@pytest.mark.integration
def test_the_notebook_runs_top_to_bottom_at_one_epoch(tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill", reason='the notebook extra: pip install -e ".[notebook]"')
    executed = tmp_path / "chapter.ipynb"
    parameters = {"epochs": 1, "log_dir": str(tmp_path / "logs"), "npy_dir": str(tmp_path / "npy")}
    papermill.execute_notebook(
        str(NOTEBOOK), str(executed), parameters=parameters, cwd=str(REPO), kernel_name="python3", progress_bar=False
    )
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    assert not [output for output in outputs(notebook) if output["output_type"] == "error"]
    printed = "".join(text_of(output) for output in outputs(notebook))
    for config in ("one_hidden", "two_hidden", "two_hidden_tuned", "cnn"):
        assert re.search(rf"{config}: 测试准确率 0\.\d{{4}}，认错 \d+ 张", printed), config
    assert sorted(path.name for path in (tmp_path / "npy").iterdir()) == [
        "x_test.npy", "x_train.npy", "y_test.npy", "y_train.npy"
    ]  # fmt: skip


def test_the_stored_notebook_shows_a_full_run_with_its_figures_and_no_paths_of_this_machine() -> None:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    (parameters,) = [cell for cell in notebook["cells"] if "parameters" in cell["metadata"].get("tags", [])]
    assert re.search(r"^epochs = 20\b", "".join(parameters["source"]), re.M)  # the configs' 20 epochs
    stored = outputs(notebook)
    assert not [output for output in stored if output["output_type"] == "error"]
    pictures = [output for output in stored if "image/png" in output.get("data", {})]
    assert len(pictures) >= 10  # a digit; per network the curves and the misclassified; the confusion matrix
    printed = "".join(text_of(output) for output in stored)
    assert "训练集: 60000 张；测试集: 10000 张" in printed and "形状 (60000, 28, 28)" in printed
    assert re.search(r"one_hidden: 测试准确率 0\.97\d\d，认错 \d+ 张（教材：0.9746，254 张）", printed)
    assert re.search(r"two_hidden: 测试准确率 0\.97\d\d，认错 \d+ 张（教材：0.9786，214 张）", printed)
    everything = json.dumps([output for output in stored if "image/png" not in output.get("data", {})])
    assert not ABSOLUTE_PATH.search(everything), ABSOLUTE_PATH.search(everything)
