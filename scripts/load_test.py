"""Drive `serve` on loopback with concurrent clients; report requests per second, latency, errors and memory.

    python scripts/load_test.py --config configs/two_hidden.yaml --ckpt_path last --clients 8 --requests 2000
    python scripts/load_test.py --onnx model.onnx --clients 8 --requests 2000      # the server without torch

The script starts the server itself (``python -m mnist_lit serve``, or ``python -m mnist_lit.serve`` for an
``.onnx`` model, on a free port of 127.0.0.1), sends
pictures of the MNIST test set's digits, enlarged to the drawing pad's 280×280 PNGs, and stops after
``--requests`` requests or ``--seconds`` seconds, whichever comes first, then stops the server. An error
is any answer that is not HTTP 200 with one prediction per picture and no error in it; the exit status
is 1 if there was any. The server's memory (resident set size) is read before the first request, after
one warm-up request, and after the last, with its peak. ``--picture-side N`` sends N×N PNGs of a drawn
ring instead (few bytes, many pixels: what a picture's pixels cost the server). Any further arguments go
to `serve` (for example ``--data.data_dir DIR``).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from PIL import Image, ImageDraw

from mnist_lit.data import load_split

PAD_SIDE = 280  # the page's drawing pad


def digit_pngs(data_dir: str, count: int) -> list[tuple[bytes, int]]:
    """The first ``count`` test digits as pad-sized PNG files, with their labels."""
    images, labels = load_split(data_dir, train=False)
    pngs = []
    for image, label in zip(images[:count], labels[:count].tolist()):
        buffer = io.BytesIO()
        Image.fromarray(image.numpy()).resize((PAD_SIDE, PAD_SIDE), Image.BILINEAR).save(buffer, format="PNG")
        pngs.append((buffer.getvalue(), label))
    return pngs


def ring_picture(side: int, format: str = "PNG", mode: str = "L") -> bytes:
    """A drawn ring on a ``side`` × ``side`` white picture: few bytes, many pixels (a picture whose pixels cost)."""
    picture = Image.new(mode, (side, side), "white")
    ImageDraw.Draw(picture).ellipse([0.3 * side, 0.2 * side, 0.7 * side, 0.8 * side], outline="black",
                                    width=max(1, side // 40))  # fmt: skip
    buffer = io.BytesIO()
    picture.save(buffer, format=format)
    return buffer.getvalue()


def multipart(pictures: list[bytes]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with the pictures in the field ``files``; the body and its content type."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{i}.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + picture
        + b"\r\n"
        for i, picture in enumerate(pictures)
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def resident_mb(pid: int, key: str = "VmRSS") -> float:
    """A process's resident memory (VmRSS), or its peak so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line")


def start_server(args: argparse.Namespace, extra: list[str]) -> tuple[subprocess.Popen, int]:
    """`serve` on a free loopback port; waits (at most two minutes) until it answers /health."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    if args.onnx:  # the server without torch
        command = [sys.executable, "-m", "mnist_lit.serve", args.onnx, "--port", str(port), *extra]
    else:
        command = [sys.executable, "-m", "mnist_lit", "serve", "--config", args.config, "--ckpt_path", args.ckpt_path,
                   "--host", "127.0.0.1", "--port", str(port), *extra]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            error = server.communicate()[1]
            raise SystemExit(f"error: `serve` exited with status {server.returncode}:\n{error[-2000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return server, port
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    server.kill()
    server.communicate()
    raise SystemExit("error: `serve` did not answer /health within two minutes")


def client(port: int, payloads: list[tuple[bytes, str, list[int]]], budget: Budget, results: list) -> None:
    """One client: a kept-alive connection sending requests while the budget lasts."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while (turn := budget.take()) is not None:
        body, content_type, labels = payloads[turn % len(payloads)]
        start = time.perf_counter()
        try:
            connection.request("POST", "/predict", body=body, headers={"Content-Type": content_type})
            response = connection.getresponse()
            answer = json.loads(response.read())
            ok = response.status == 200 and len(answer["predictions"]) == len(labels)
            # a digit is answered with a class; a picture of unknown content (None) may be refused in its entry
            ok = ok and all(p["error"] is None for p, label in zip(answer["predictions"], labels) if label is not None)
            right = sum(p["pred"] == label for p, label in zip(answer["predictions"], labels)) if ok else 0
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            ok, right = False, 0
        results.append((time.perf_counter() - start, ok, right, len(labels)))
    connection.close()


class Budget:
    """At most ``requests`` turns, and none after ``seconds``: every client stops by itself."""

    def __init__(self, requests: int, seconds: float) -> None:
        self.left = requests
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()

    def take(self) -> int | None:
        with self.lock:
            if self.left <= 0 or time.monotonic() > self.deadline:
                return None
            self.left -= 1
            return self.left


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(100 * fraction) - 1]


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="serve this config's checkpoint (python -m mnist_lit serve)")
    parser.add_argument("--ckpt_path", default="last")
    parser.add_argument("--onnx", help="or serve this exported model without torch (python -m mnist_lit.serve)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients, each with its own connection")
    parser.add_argument("--requests", type=int, default=2000, help="requests in all (the budget)")
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long even if requests remain")
    parser.add_argument("--files-per-request", type=int, default=1)
    parser.add_argument("--data-dir", default="data", help="where the MNIST test set is read from")
    parser.add_argument("--picture-side", type=int, help="send SIDE×SIDE PNGs of a drawn ring instead of digits")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args, extra = parser.parse_known_args(argv)
    if (args.config is None) == (args.onnx is None):
        parser.error("give either --config (and --ckpt_path) or --onnx")
    if args.clients < 1 or args.requests < 1 or args.seconds <= 0 or args.files_per_request < 1:
        parser.error("--clients, --requests, --seconds and --files-per-request must be positive")
    return args, extra


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    digits = [(ring_picture(args.picture_side), None)] if args.picture_side else digit_pngs(args.data_dir, 100)
    groups = [digits[i : i + args.files_per_request] for i in range(0, len(digits), args.files_per_request)]
    payloads = [(*multipart([png for png, _ in group]), [label for _, label in group]) for group in groups]
    server, port = start_server(args, extra)
    try:
        memory_start = resident_mb(server.pid)
        client(port, payloads, Budget(1, 60), [])  # the first request pays for imports and allocations
        memory_before = resident_mb(server.pid)
        results: list[tuple[float, bool, int, int]] = []
        budget = Budget(args.requests, args.seconds)
        threads = [threading.Thread(target=client, args=(port, payloads, budget, results)) for _ in range(args.clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        memory_after = resident_mb(server.pid)
        memory_peak = resident_mb(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.communicate(timeout=30)
    latencies = sorted(1e3 * seconds for seconds, *_ in results)
    answered = [r for r in results if r[1]]
    report = {
        "clients": args.clients,
        "files_per_request": args.files_per_request,
        "requests": len(results),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(results) / elapsed, 1),
        "latency_ms_p50": round(percentile(latencies, 0.50), 2) if len(latencies) > 1 else None,
        "latency_ms_p99": round(percentile(latencies, 0.99), 2) if len(latencies) > 1 else None,
        "errors": len(results) - len(answered),
        "accuracy": round(sum(r[2] for r in answered) / max(1, sum(r[3] for r in answered)), 4),
        "server_rss_mb": {
            "started": round(memory_start, 1),
            "before": round(memory_before, 1),
            "after": round(memory_after, 1),
            "peak": round(memory_peak, 1),
        },
    }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
