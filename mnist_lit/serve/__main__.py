"""Serve an exported model without torch: ``python -m mnist_lit.serve model.onnx [--host H] [--port P]``.

What it needs: NumPy, Pillow, onnxruntime, FastAPI, uvicorn and python-multipart; not torch, not Lightning
(the model card in the file says what the model is). A checkpoint is served with ``python -m mnist_lit
serve --config CONFIG --ckpt_path last`` instead.
"""

from __future__ import annotations

import argparse
import sys

from mnist_lit.errors import MnistLitError, print_error
from mnist_lit.serve.settings import DEFAULT_HOST, DEFAULT_PORT, Limits, cores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_lit.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="an .onnx file written by `python -m mnist_lit export`")
    parser.add_argument("--host", default=DEFAULT_HOST, help="127.0.0.1: this machine only; 0.0.0.0: every machine")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--max_file_mb", type=float, default=Limits.max_file_mb, help="larger pictures: HTTP 413")
    parser.add_argument("--max_files", type=int, default=Limits.max_files, help="more per request: HTTP 413")
    parser.add_argument("--max_megapixels", type=float, default=Limits.max_megapixels,
                        help="larger pictures get an error of their own, decided before decoding")  # fmt: skip
    parser.add_argument("--workers", type=int, default=cores(), help="pictures read at once (default: the cores)")
    parser.add_argument("--max_queued", type=int, default=Limits.max_queued, help="more waiting: HTTP 503")
    args = parser.parse_args(argv)
    try:
        from mnist_lit.onnx_model import OnnxClassifier, is_onnx
        from mnist_lit.serve.app import serve_model

        if not is_onnx(args.model):
            raise MnistLitError(
                f"{args.model} is not an .onnx file. Serve an exported model here, or a checkpoint with "
                "python -m mnist_lit serve --config CONFIG --ckpt_path PATH."
            )
        model = OnnxClassifier(args.model)
        limits = Limits(args.max_file_mb, args.max_files, args.max_megapixels, args.workers, args.max_queued)
        serve_model(model, model.card, args.host, args.port, limits)
    except MnistLitError as err:
        return print_error(err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
