"""The HTTP server: a page to draw digits on at ``/``, and a JSON API over the code `predict` uses.

Uploads are read into memory and never written anywhere under a name a request chose; the file names
they carry only label the answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np

from mnist_lit.data.digit_inputs import DigitInputs, from_image_bytes
from mnist_lit.data.preprocess import MNIST_SIDE, STROKE_SHARE
from mnist_lit.errors import MnistLitError
from mnist_lit.onnx_model import OnnxClassifier
from mnist_lit.predictions import Prediction
from mnist_lit.recognize import classify
from mnist_lit.serve.settings import LOOPBACK, Limits

try:
    import python_multipart  # noqa: F401  (FastAPI's parser of file uploads)
    import uvicorn
    from fastapi import FastAPI, File, HTTPException, UploadFile
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.types import ASGIApp, Receive, Scope, Send
except ImportError as err:
    raise MnistLitError(
        f"`serve` needs FastAPI, python-multipart and uvicorn, and {err.name} is not installed. Install the serve "
        'extra: pip install -e ".[serve]" (in a clone) or pip install "mnist_lit[serve]".'
    ) from err

if TYPE_CHECKING:
    from mnist_lit.model import Classifier

PAGE = files("mnist_lit.serve") / "page"
TOO_LARGE = 413
BUSY = 503
RETRY_AFTER_S = 1


class Workers:
    """At most ``workers`` pictures decoded and classified at once; at most ``max_queued`` requests waiting.

    A picture's cost is bounded (:mod:`mnist_lit.data.pictures`), so this bounds the server's: requests
    beyond the queue get 503 with ``Retry-After`` at once, instead of each holding a thread and its uploads.
    """

    def __init__(self, workers: int, max_queued: int) -> None:
        self.slots = threading.BoundedSemaphore(workers)
        self.admitted = threading.BoundedSemaphore(workers + max_queued)
        self.workers, self.max_queued = workers, max_queued

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a place in the server for one request, or answer 503 if there is none."""
        if not self.admitted.acquire(blocking=False):
            raise HTTPException(
                BUSY,
                f"The server is busy: {self.workers} workers and {self.max_queued} requests waiting (--workers, "
                f"--max_queued). Try again in {RETRY_AFTER_S} s.",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        try:
            yield
        finally:
            self.admitted.release()

    def read(self, contents: list[bytes], names: list[str], max_megapixels: float) -> DigitInputs:
        """The pictures made MNIST-style, one worker's slot per picture."""
        parts = []
        for content, name in zip(contents, names):
            with self.slots:
                parts.append(from_image_bytes([content], [name], max_megapixels))
        return DigitInputs.concat(parts)


class BodyLimit:
    """Answer 413 as soon as a request body passes ``limit`` bytes, declared or streamed, before it is read whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:  # refused before a byte of it is read
            await JSONResponse({"detail": self.message()}, TOO_LARGE)(scope, receive, send)
            return
        received = 0

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise HTTPException(TOO_LARGE, self.message())  # inside the route: FastAPI answers it as JSON
            return message

        await self.app(scope, counted, send)

    def message(self) -> str:
        return (
            f"The request is larger than {self.limit:,} bytes, the most this server takes at once (--max_files "
            "pictures of at most --max_file_mb each). Send fewer or smaller pictures per request."
        )


def create_app(model: Classifier | OnnxClassifier, card: dict, limits: Limits | None = None) -> FastAPI:
    """The server's application: ``/`` (the page), ``POST /predict``, ``GET /health``, ``GET /model``, ``/docs``.

    Args:
        model: A trained module, or an exported model (which serves without torch).
        card: What ``/model`` shows: ``mnist_lit.checkpoint.model_card`` of a checkpoint, or an ONNX model's.
        limits: What one request may send.
    """
    limits = limits or Limits()
    if list(card["image_shape"]) != [MNIST_SIDE, MNIST_SIDE]:
        raise MnistLitError(
            f"`serve` reads pictures as 28×28 grayscale digits, but {card['title']} models take "
            f"{'×'.join(map(str, card['image_shape']))} inputs. Serve a model of a 28×28 dataset (MNIST, "
            "Fashion-MNIST, KMNIST)."
        )
    class_names = list(card["class_names"])
    app = FastAPI(
        title="mnist_lit",
        version=card["version"],
        description=f"Classify pictures of digits with the {card['title']} model of `{card['checkpoint']}`.",
    )
    app.add_middleware(BodyLimit, limit=limits.max_request_bytes)
    workers = Workers(limits.workers, limits.max_queued)
    app.mount("/static", StaticFiles(directory=str(PAGE)), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(PAGE / "index.html"))

    @app.get("/health")
    def health() -> dict[str, str]:
        """Whether the server is up and its model loaded."""
        return {"status": "ok"}

    @app.get("/model")
    def model_info() -> dict[str, Any]:
        """The model served: its dataset, class names, checkpoint and input size; ``stroke_share``, the pen the
        page redraws a digit's strokes with before sending them, as a share of their extent (MNIST's)."""
        return card | {"stroke_share": STROKE_SHARE}

    @app.post("/predict")
    def predict(
        files: Annotated[list[UploadFile], File(description="One or more pictures, one digit each")],
        pixels: bool = False,
    ) -> dict[str, list[dict[str, Any]]]:
        """Classify each picture as `predict` does: made MNIST-style, then the model's top three.

        One answer per file, in order: ``name``, ``pred`` (class index), ``label`` (its name), ``confidence``,
        ``top`` (``[label, probability]`` pairs) and ``error`` (why a file could not be read, else null).
        ``pixels=true`` adds the 28×28 picture the model received (rows of values in [0, 1]).
        """
        with workers.admit():
            return answer(files, pixels)

    def answer(files: list[UploadFile], pixels: bool) -> dict[str, list[dict[str, Any]]]:
        if len(files) > limits.max_files:
            raise HTTPException(
                TOO_LARGE,
                f"The request sends {len(files)} files; this server takes at most {limits.max_files} per request "
                "(--max_files). Send them in several requests.",
            )
        contents = [upload.file.read(limits.max_file_bytes + 1) for upload in files]
        for upload, content in zip(files, contents):
            if len(content) > limits.max_file_bytes:
                raise HTTPException(
                    TOO_LARGE,
                    f"{upload.filename or 'A file'} is larger than {limits.max_file_bytes:,} bytes, the most this "
                    "server takes per picture (--max_file_mb). Send a smaller picture: a digit needs no more than "
                    "a few hundred pixels a side.",
                )
        names = [upload.filename or f"files[{i}]" for i, upload in enumerate(files)]
        digits = workers.read(contents, names, limits.max_megapixels)
        answers = classify(model, digits)
        seen = _pictures_by_position(digits) if pixels else {}
        return {"predictions": [_as_json(a, class_names, seen.get(i), pixels) for i, a in enumerate(answers)]}

    return app


def _pictures_by_position(digits: DigitInputs) -> dict[int, list[list[float]]]:
    rounded = digits.images.astype(np.float64).round(3)  # short JSON: 0.123, not 0.12300000339
    return dict(zip(digits.positions.tolist(), rounded.tolist()))


def _as_json(answer: Prediction, class_names: list[str], seen: list | None, pixels: bool) -> dict[str, Any]:
    """One answer as the API gives it: the class by index (``pred``) and by name (``label``, ``top``)."""
    answer_json = {
        "name": answer.name,
        "pred": answer.pred,
        "label": None if answer.pred is None else class_names[answer.pred],
        "confidence": answer.confidence,
        "top": [[class_names[c], p] for c, p in answer.top],
        "error": answer.error,
    }
    return answer_json | ({"pixels": seen} if pixels else {})


def serve_model(model: Classifier | OnnxClassifier, card: dict, host: str, port: int, limits: Limits) -> None:
    """Serve until Ctrl-C; the model is loaded once, before, for every request."""
    app = create_app(model, card, limits)
    if host not in LOOPBACK:
        print(f"Listening on {host}: every machine that can reach this one can use the model and its page.")
    print(f"Serving {card['checkpoint']} at http://{host}:{port}/ (API: POST /predict, docs: /docs). Ctrl-C stops it.")
    uvicorn.run(app, host=host, port=port, access_log=False)
