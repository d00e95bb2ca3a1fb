"""What a run tells the experiment trackers, whichever loggers are configured.

Lightning sends every logger the hyperparameters and the per-epoch metrics. This module adds the rest:
the reports (a picture and its tables: :func:`publish`), the run's config (:class:`RunConfig`) and the
checkpoint it wrote (:func:`record_checkpoints`). The files are written into the run's folder first;
then TensorBoard gets the picture as an image, MLflow every file as an artifact of the run, Weights &
Biases the picture, and a CSV logger (which cannot hold a picture) the files beside its ``metrics.csv``.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import lightning as L
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, MLFlowLogger, TensorBoardLogger, WandbLogger
from matplotlib.figure import Figure


def publish(trainer: L.Trainer, key: str, figure: Figure, files: Sequence[Path]) -> None:
    """``key`` names the report (``test/confusion_matrix``); ``files`` are already in the run's folder."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_figure(key, figure, global_step=trainer.global_step)
        elif isinstance(logger, MLFlowLogger):
            for path in files:
                logger.experiment.log_artifact(logger.run_id, str(path), artifact_path=path.parent.name)
        elif isinstance(logger, WandbLogger):
            pictures = [str(path) for path in files if path.suffix == ".png"]  # wandb.Image reads the files
            logger.log_image(key=key, images=pictures, step=trainer.global_step)
        elif isinstance(logger, CSVLogger):
            folder = Path(logger.log_dir) / files[0].parent.name
            if folder.resolve() != files[0].parent.resolve():  # not already the run's folder
                folder.mkdir(parents=True, exist_ok=True)
                for path in files:
                    shutil.copy2(path, folder / path.name)


class RunConfig(SaveConfigCallback):
    """LightningCLI's ``config.yaml`` in the run's folder, and as an artifact of each MLflow run.

    Lightning's own callback stops with a bare ``AssertionError`` when the first logger keeps no local
    folder (MLflow on a database, Weights & Biases): then the file goes to the trackers only.
    """

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.log_dir is None:
            self.save_to_log_dir = False
        super().setup(trainer, pl_module, stage)

    def save_config(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        text = self.parser.dump(self.config, skip_none=False)
        for logger in trainer.loggers:
            if isinstance(logger, MLFlowLogger):
                logger.experiment.log_text(logger.run_id, text, self.config_filename)


def record_checkpoints(trainer: L.Trainer) -> None:
    """Tag each MLflow run with the checkpoints `fit` wrote (``checkpoint.last``, ``checkpoint.best``)."""
    saver = trainer.checkpoint_callback
    if saver is None or not trainer.is_global_zero:
        return
    paths = {"checkpoint.last": saver.last_model_path, "checkpoint.best": saver.best_model_path}
    for logger in trainer.loggers:
        if isinstance(logger, MLFlowLogger):
            for key, path in paths.items():
                if path:
                    logger.experiment.set_tag(logger.run_id, key, str(Path(path).resolve()))
