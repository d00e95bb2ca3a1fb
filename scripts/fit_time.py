"""Time a whole `fit` from the shell's point of view: process start, data, compiling and every epoch.

    python scripts/fit_time.py --config configs/one_hidden.yaml --cache cold -- --model.compiled_steps 5

Each run is ``python -m mnist_lit fit --config CONFIG ARGS...`` in a fresh process, its logs in a temporary
folder. ``--cache cold`` gives it an empty compile cache (``TORCHINDUCTOR_CACHE_DIR``), as on a machine that
never compiled this model; ``--cache warm`` runs it once untimed to fill a cache, then times the runs that
use it. The wall-clock seconds of each run are printed, and the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def timed_fit(config: str, extra: list[str], cache: str) -> float:
    """Seconds for one `fit` in a fresh process with ``cache`` as its compile cache."""
    with tempfile.TemporaryDirectory() as logs:
        quiet = ["--trainer.logger.init_args.save_dir", logs, "--trainer.enable_progress_bar", "false"]
        command = [sys.executable, "-m", "mnist_lit", "fit", "--config", config, *quiet, *extra]
        start = time.perf_counter()
        done = subprocess.run(
            command, env=os.environ | {"TORCHINDUCTOR_CACHE_DIR": cache}, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"error: fit failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--cache", choices=["cold", "warm"], default="cold")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("extra", nargs="*", help="more arguments for fit, after --")
    args = parser.parse_args(argv)
    seconds = []
    with tempfile.TemporaryDirectory() as warm_cache:
        if args.cache == "warm":
            timed_fit(args.config, args.extra, warm_cache)
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as empty_cache:
                seconds.append(timed_fit(args.config, args.extra, warm_cache if args.cache == "warm" else empty_cache))
    runs, median = ", ".join(f"{s:.1f}" for s in seconds), statistics.median(seconds)
    print(f"{args.config} {' '.join(args.extra)} ({args.cache} cache): {runs} s; median {median:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
