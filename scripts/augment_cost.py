"""What augmentation costs per training epoch, for each network: `fit` with and without it, interleaved.

    python scripts/augment_cost.py --epochs 3 --rounds 2

Each run is ``python -m mnist_lit fit --config CONFIG`` in a fresh process, with the augmentation of
configs/cnn_robust.yaml added on the command line or not; the epoch times are the run's ``time/epoch_s``
(the first epoch, warm-up, left out). Prints a Markdown table of the best epoch of each side.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from mnist_lit.plots import read_scalars

REPO = Path(__file__).resolve().parents[1]
NETWORKS = {"784→64→10": "one_hidden.yaml", "784→64→1024→10": "two_hidden.yaml", "LeNet-5 (cnn.yaml)": "cnn.yaml"}


def augment_flags() -> list[str]:
    """The robust recipe's augmentation (configs/cnn_robust.yaml) as command-line flags."""
    settings = yaml.safe_load((REPO / "configs" / "cnn_robust.yaml").read_text())["data"]["augment"]
    return [
        f"--data.augment.{kind}.{key}={value}" for kind, chance in settings.items() for key, value in chance.items()
    ]


def epoch_seconds(config: str, augmented: bool, epochs: int, log_dir: Path) -> float:
    """The best epoch after the first, of one `fit` in its own process."""
    command = [sys.executable, "-m", "mnist_lit", "fit", "--config", str(REPO / "configs" / config),
               "--trainer.max_epochs", str(epochs), "--trainer.enable_progress_bar", "false",
               "--trainer.logger.init_args.save_dir", str(log_dir)]  # fmt: skip
    command += augment_flags() if augmented else []
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = max(log_dir.glob("*/version_*"), key=lambda path: path.stat().st_mtime)
    return min(read_scalars(run)["time/epoch_s"][1:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run; the first is not counted (min 2)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of both sides")
    parser.add_argument("--networks", nargs="*", default=list(NETWORKS), choices=list(NETWORKS))
    args = parser.parse_args(argv)
    print("| network | plain s/epoch | augmented s/epoch | ratio |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for network in args.networks:
            best = {False: float("inf"), True: float("inf")}
            for _ in range(args.rounds):
                for augmented in best:
                    seconds = epoch_seconds(NETWORKS[network], augmented, args.epochs, Path(folder))
                    best[augmented] = min(best[augmented], seconds)
            print(f"| {network} | {best[False]:.2f} | {best[True]:.2f} | {best[True] / best[False]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
