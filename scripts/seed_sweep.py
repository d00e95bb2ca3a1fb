"""Train and test one config for several seeds; report test accuracy and errors as mean and range.

    python scripts/seed_sweep.py --config configs/one_hidden.yaml --seeds 0 1 2

Each seed runs `fit` then `test` on the trained weights through `cli_main`, exactly as a user would,
with its logs under ``--log-dir``. Any further arguments go to both commands unchanged
(for example ``--trainer.max_epochs 5``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from mnist_lit import EpochTimer, cli_main


def run_seed(config: str, seed: int, log_dir: str, extra: list[str]) -> dict:
    common = ["--config", config, "--seed_everything", str(seed), "--trainer.logger.init_args.save_dir", log_dir]
    fit = cli_main(["fit", *common, *extra])
    timer = next(callback for callback in fit.trainer.callbacks if isinstance(callback, EpochTimer))
    checkpoint = fit.trainer.checkpoint_callback.last_model_path
    test = cli_main(["test", *common, "--ckpt_path", checkpoint, *extra])
    misclassified = Path(test.trainer.log_dir) / "misclassified" / "misclassified.csv"
    return {
        "seed": seed,
        "test_acc": float(test.trainer.callback_metrics["test/acc"]),
        "misclassified": len(misclassified.read_text().splitlines()) - 1,
        "epoch_seconds": timer.epoch_seconds,
        "checkpoint": checkpoint,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--log-dir", default="logs/seed_sweep")
    parser.add_argument("--json", default=None, help="results file (default: benchmarks/sweep_CONFIG.json)")
    args, extra = parser.parse_known_args()

    runs = [run_seed(args.config, seed, args.log_dir, extra) for seed in args.seeds]
    accs = [run["test_acc"] for run in runs]
    errors = [run["misclassified"] for run in runs]
    epoch_s = [s for run in runs for s in run["epoch_seconds"][1:]] or [s for run in runs for s in run["epoch_seconds"]]
    summary = {
        "config": args.config,
        "extra_args": extra,
        "seeds": args.seeds,
        "test_acc_mean": statistics.mean(accs),
        "test_acc_min": min(accs),
        "test_acc_max": max(accs),
        "misclassified_mean": statistics.mean(errors),
        "epoch_seconds_median": statistics.median(epoch_s),
        "runs": runs,
    }
    name = Path(args.config).stem
    path = Path(args.json or f"benchmarks/sweep_{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2))
    print("\n| config | seeds | test acc mean (min-max) | misclassified mean (per seed) | s/epoch median |")
    print("|---|---|---|---|---|")
    print(
        f"| {name} | {' '.join(map(str, args.seeds))} | {summary['test_acc_mean']:.4f} "
        f"({summary['test_acc_min']:.4f}-{summary['test_acc_max']:.4f}) | {summary['misclassified_mean']:.1f} "
        f"({', '.join(map(str, errors))}) | {summary['epoch_seconds_median']:.2f} |"
    )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
