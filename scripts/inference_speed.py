"""Time classifying with the checkpoint (torch) against its ONNX export (ONNX Runtime): latency and throughput.

    python -m mnist_lit export --config configs/two_hidden.yaml --ckpt_path last --output model.onnx
    python scripts/inference_speed.py --ckpt_path logs/two_hidden/version_0/checkpoints/last.ckpt --onnx model.onnx

Per-image latency: one digit per call (the model alone, the test set's first ``--single`` digits one after
another), median and 99th percentile. Batch throughput: the whole test set in batches of ``--batch-size``,
digits per second, best of ``--rounds``. Both runtimes use their default threads (one per core). The
preprocessing of a picture (a 280×280 PNG, as the page sends, made MNIST-style) is timed once: it is the
same NumPy code on both paths.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mnist_lit import OnnxClassifier, load_classifier
from mnist_lit.data import load_split, to_model_input
from mnist_lit.data.pictures import open_image
from mnist_lit.data.preprocess import mnist_style_array


def torch_probabilities(checkpoint: str) -> Callable[[np.ndarray], np.ndarray]:
    classifier = load_classifier(checkpoint)

    def probabilities(images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return classifier(torch.from_numpy(images)).softmax(dim=1).numpy()

    return probabilities


def latency_us(probabilities: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> dict[str, float]:
    probabilities(images[:1])  # warm-up
    times = []
    for i in range(len(images)):
        start = time.perf_counter()
        probabilities(images[i : i + 1])
        times.append(1e6 * (time.perf_counter() - start))
    return {"median": statistics.median(times), "p99": statistics.quantiles(times, n=100)[98]}


def throughput(probabilities: Callable[[np.ndarray], np.ndarray], images: np.ndarray, batch: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for first in range(0, len(images), batch):
            probabilities(images[first : first + batch])
        best = min(best, time.perf_counter() - start)
    return len(images) / best


def preprocessing_ms(images: np.ndarray, count: int = 200) -> float:
    """Median time to read a 280×280 PNG of a digit and make it MNIST-style."""
    pngs = []
    for image in images[:count]:
        buffer = io.BytesIO()
        Image.fromarray((image.reshape(28, 28) * 255).astype(np.uint8)).resize((280, 280)).save(buffer, "PNG")
        pngs.append(buffer.getvalue())
    times = []
    for content in pngs:
        start = time.perf_counter()
        mnist_style_array(open_image(content))
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint written by `fit`")
    parser.add_argument("--onnx", required=True, help="its export, written by `export`")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--single", type=int, default=2000, help="digits classified one per call")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    images = to_model_input(load_split(args.data_dir, train=False)[0]).numpy()
    sides = {"torch": torch_probabilities(args.ckpt_path), "onnxruntime": OnnxClassifier(args.onnx).probabilities}
    report = {
        side: {
            "latency_us": latency_us(probabilities, images[: args.single]),
            "digits_per_second": throughput(probabilities, images, args.batch_size, args.rounds),
        }
        for side, probabilities in sides.items()
    }
    report["preprocessing_ms_per_picture"] = preprocessing_ms(images)
    report["torch_threads"] = torch.get_num_threads()
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
