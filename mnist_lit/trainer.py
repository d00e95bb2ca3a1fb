"""The Trainer the CLI builds: Lightning's, with `predict`'s ``--output`` and the `serve`, `export` and
`robustness` subcommands.

LightningCLI makes a subcommand of each Trainer method it is told about (``MnistLitCLI.subcommands``) and
a command-line option of each of the method's parameters, so a subcommand's options live here, typed and
documented once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch

from mnist_lit.callbacks import PredictionWriter
from mnist_lit.checkpoint import load_classifier, model_card
from mnist_lit.errors import MnistLitError
from mnist_lit.onnx_model import OnnxClassifier, is_onnx
from mnist_lit.robustness import record, score_suite, write_reports
from mnist_lit.serve.settings import DEFAULT_HOST, DEFAULT_PORT, Limits, cores


class Trainer(L.Trainer):
    """Lightning's Trainer plus what this project's command line does beyond training and evaluating."""

    def __init__(
        self,
        limit_train_batches: int | float | None = None,
        limit_val_batches: int | float | None = None,
        limit_test_batches: int | float | None = None,
        limit_predict_batches: int | float | None = None,
        **kwargs: Any,
    ) -> None:
        """Lightning's Trainer, its batch limits typed int before float: Lightning's signature puts float first,
        and the command line takes the first type a value fits, so ``--trainer.limit_train_batches 1`` would be
        1.0, every batch, where Lightning documents one.

        Args:
            limit_train_batches: Training batches an epoch: an int counts them (``FastClassifier``'s
                ``training_step`` calls, of ``steps_per_call`` batches each), a float is a fraction (1.0: all).
            limit_val_batches: Validation batches: an int counts them, a float is a fraction (1.0: all).
            limit_test_batches: Test batches: an int counts them, a float is a fraction (1.0: all).
            limit_predict_batches: Prediction batches: an int counts them, a float is a fraction (1.0: all).
        """
        super().__init__(
            limit_train_batches=limit_train_batches,
            limit_val_batches=limit_val_batches,
            limit_test_batches=limit_test_batches,
            limit_predict_batches=limit_predict_batches,
            **kwargs,
        )

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
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        max_file_mb: float = Limits.max_file_mb,
        max_files: int = Limits.max_files,
        max_megapixels: float = Limits.max_megapixels,
        workers: int | None = None,
        max_queued: int = Limits.max_queued,
    ) -> None:
        """Serve the trained model over HTTP: a page to draw digits on at /, a JSON API at /predict.

        Args:
            ckpt_path: The model to serve: a checkpoint (a path, ``last`` or ``best``, as `test` takes them),
                or an ``.onnx`` file written by `export`.
            host: The address to listen on; 127.0.0.1 (the default) answers this machine only, 0.0.0.0 every
                machine that can reach this one.
            port: The TCP port.
            max_file_mb: The largest picture a request may send, in MB (larger: HTTP 413).
            max_files: The most pictures one request may send (more: HTTP 413).
            max_megapixels: A picture of more megapixels gets an error of its own, decided from its header
                before it is decoded; a phone's photo passes the default.
            workers: How many pictures are decoded and classified at once (default: the machine's cores).
            max_queued: How many requests may wait for a worker; more get HTTP 503 with Retry-After.
        """
        from mnist_lit.serve import serve_model  # FastAPI and uvicorn: the [serve] extra

        if is_onnx(ckpt_path):
            served = OnnxClassifier(ckpt_path)
            card = served.card
        else:
            served = load_classifier(ckpt_path)
            card = model_card(served, datamodule.hparams.dataset, ckpt_path)
        limits = Limits(max_file_mb, max_files, max_megapixels, workers or cores(), max_queued)
        serve_model(served, card, host=host, port=port, limits=limits)

    def export(
        self,
        model: L.LightningModule,
        datamodule: L.LightningDataModule,
        ckpt_path: str | None = None,
        output: str = "model.onnx",
    ) -> None:
        """Export the trained model to ONNX, written only if it gives the checkpoint's answers on the test set.

        Args:
            ckpt_path: The checkpoint to export: a path, ``last`` or ``best`` (as `test` takes them).
            output: The ``.onnx`` file to write (replaced whole, never left half-written).
        """
        from mnist_lit.export import export_onnx  # onnx, onnxscript, onnxruntime: the [onnx] extra

        classifier = load_classifier(ckpt_path)
        datamodule.prepare_data()
        datamodule.setup("test")
        images = torch.cat([images for images, _ in datamodule.test_dataloader()])
        card = model_card(classifier, datamodule.hparams.dataset, ckpt_path)
        parity = export_onnx(classifier, card, output, images)
        print(
            f"Wrote {output}: on all {parity.images:,} test images its predicted classes equal the checkpoint's "
            f"and its probabilities are within {parity.max_probability_difference:.1e} of them."
        )

    def robustness(
        self,
        model: L.LightningModule,
        datamodule: L.LightningDataModule,
        ckpt_path: str | None = None,
        images: int | None = None,
        examples: int = 8,
    ) -> dict[str, float]:
        """Score the trained model on the corruption suite made from the test set (docs/robustness.md).

        Writes robustness.csv (accuracy per kind and their mean), a picture of each kind's first digits with
        the model's answers and a bar chart into the run's folder, and sends them to the loggers. Scored
        on the whole test set, the summary is kept beside the checkpoint, and the model card (`serve`'s
        /model, `export`'s ONNX metadata) shows it.

        Args:
            ckpt_path: The checkpoint to score: a path, ``last`` or ``best`` (as `test` takes them).
            images: Score on the first N test images only (a quick look; not kept for the model card).
            examples: Digits per kind in the picture.
        """
        if datamodule.input_shape != (1, 28, 28):
            raise MnistLitError(
                f"The corruption suite is made of 28×28 grayscale digits, but {datamodule.info.title} images are "
                f"{'×'.join(map(str, datamodule.input_shape))}. Score a model of MNIST, Fashion-MNIST or KMNIST."
            )
        if (images is not None and images < 1) or examples < 1:
            raise MnistLitError(
                f"--images and --examples must be at least 1, got {images} and {examples}. Leave --images out to "
                "score all 10,000 test digits."
            )
        classifier = load_classifier(ckpt_path, device=self.strategy.root_device)
        datamodule.prepare_data()
        datamodule.setup("test")
        test_images, test_labels = datamodule.splits["test"]
        scores = score_suite(classifier, test_images[:images], test_labels[:images], examples)
        folder = Path(self.log_dir or self.default_root_dir) / "robustness"
        written = write_reports(self, scores, folder, classifier.class_names)
        width = max(map(len, scores.accuracy))
        print(f"Accuracy on {scores.images:,} test digits, clean and corrupted ({len(scores.kinds)} kinds):")
        for kind, value in [*scores.accuracy.items(), ("mean", scores.mean)]:
            print(f"  {kind:<{width}}  {value:.4f}")
        print(f"Wrote {', '.join(map(str, written))}.")
        if scores.images == len(test_labels):  # the whole suite: the model card's figure
            print(
                f"Kept the summary for the model card (serve's /model, the ONNX metadata): {record(ckpt_path, scores)}"
            )
        return {**scores.accuracy, "mean": scores.mean}
