"""The Trainer the CLI builds: Lightning's, with `predict`'s ``--output`` and the `serve` subcommand.

LightningCLI makes a subcommand of each Trainer method it is told about (``MnistLitCLI.subcommands``) and
a command-line option of each of the method's parameters, so a subcommand's options live here, typed and
documented once.
"""

from __future__ import annotations

from typing import Any

import lightning as L

from mnist_lit.callbacks import PredictionWriter
from mnist_lit.checkpoint import load_classifier


class Trainer(L.Trainer):
    """Lightning's Trainer plus what this project's command line does beyond training and evaluating."""

    def predict(self, *args: Any, output: str | None = None, **kwargs: Any) -> Any:
        """Classify the test set or your own pictures (``--data.predict_path``) and write predictions.csv.

        Args:
            output: The CSV file to write, instead of predictions.csv in the run's log dir.
        """
        for writer in (c for c in self.callbacks if isinstance(c, PredictionWriter)):
            writer.output = output or writer.output
        return super().predict(*args, **kwargs)

    def serve(
        self,
        model: L.LightningModule,
        datamodule: L.LightningDataModule,
        ckpt_path: str | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        max_file_mb: float = 10.0,
        max_files: int = 100,
    ) -> None:
        """Serve the trained model over HTTP: a page to draw digits on at /, a JSON API at /predict.

        Args:
            ckpt_path: The checkpoint to serve: a path, ``last`` or ``best`` (as `test` takes them).
            host: The address to listen on; 127.0.0.1 (the default) answers this machine only, 0.0.0.0 every
                machine that can reach this one.
            port: The TCP port.
            max_file_mb: The largest picture a request may send, in MB (larger: HTTP 413).
            max_files: The most pictures one request may send (more: HTTP 413).
        """
        from mnist_lit.serve import Limits, serve_model  # FastAPI and uvicorn: the [serve] extra

        classifier = load_classifier(ckpt_path)
        limits = Limits(max_file_bytes=round(max_file_mb * 1e6), max_files=max_files)
        serve_model(classifier, datamodule.hparams.dataset, ckpt_path, host=host, port=port, limits=limits)
