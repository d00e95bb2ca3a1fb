"""After `test`, the confusion matrix (a picture and a table) and each class's accuracy."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning as L
from matplotlib.figure import Figure
from torch import Tensor
from torchmetrics.classification import MulticlassConfusionMatrix

from mnist_lit.atomic import write_figure, write_rows
from mnist_lit.tracking import publish


class ConfusionMatrix(L.Callback):
    """Write ``confusion/confusion_matrix.csv`` and ``.png`` and ``confusion/per_class.csv`` after `test`.

    Rows are true classes, columns predicted ones; the cells sum to the test-set size. The per-class
    table gives each class's count, correct predictions and accuracy. The picture also goes to TensorBoard.
    torchmetrics' ``MulticlassConfusionMatrix`` counts, sums the counts across DDP processes, and draws it.
    """

    def __init__(self) -> None:
        self.metric: MulticlassConfusionMatrix | None = None

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.metric = MulticlassConfusionMatrix(num_classes=pl_module.hparams.num_classes).to(pl_module.device)

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: dict[str, Tensor],
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self.metric.update(outputs["logits"], batch[1])

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # every rank asks for log_dir (asking on rank zero alone can deadlock) and computes (a collective)
        out_dir = Path(trainer.log_dir or trainer.default_root_dir) / "confusion"
        matrix = self.metric.compute().cpu()
        if not trainer.is_global_zero:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        names = pl_module.class_names
        table = [["true \\ predicted", *names]] + [[name, *row] for name, row in zip(names, matrix.tolist())]
        write_rows(out_dir / "confusion_matrix.csv", table)
        per_class = [["class", "name", "count", "correct", "accuracy"]]
        for index, (name, row) in enumerate(zip(names, matrix)):
            count, correct = int(row.sum()), int(row[index])
            per_class.append([index, name, count, correct, round(correct / count, 6) if count else ""])
        write_rows(out_dir / "per_class.csv", per_class)
        size = max(5.0, 0.6 * len(names) + 2)
        fig = Figure(figsize=(size, size))  # a bare Figure: no pyplot state, no display needed
        with warnings.catch_warnings():
            # torchmetrics hands matplotlib a tensor, whose __array__ predates numpy 2's copy keyword; numpy
            # then copies, as it must, and the picture is the same
            warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword")
            self.metric.plot(matrix, ax=fig.add_subplot(), labels=names)
        write_figure(out_dir / "confusion_matrix.png", fig)
        publish(
            trainer,
            "test/confusion_matrix",
            fig,
            [out_dir / "confusion_matrix.csv", out_dir / "per_class.csv", out_dir / "confusion_matrix.png"],
        )
