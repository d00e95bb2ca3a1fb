"""Train and test one config for several seeds; report test accuracy and errors as mean and range.

    python scripts/seed_sweep.py --config configs/one_hidden.yaml --seeds 0 1 2
    python scripts/seed_sweep.py --config configs/one_hidden_tuned.yaml --seeds 0 1 2 --checkpoint best
    python scripts/seed_sweep.py --config configs/one_hidden_tuned.yaml --validation-only --model.label_smoothing 0
    python scripts/seed_sweep.py --config configs/one_hidden.yaml --seeds 0 1 --jobs 2
    python scripts/seed_sweep.py --config configs/cnn_robust.yaml --seeds 0 1 2 --robustness

Each seed runs `fit` then `test` on the trained weights through `cli_main`, exactly as a user would,
with its logs under ``--log-dir``. ``--checkpoint best`` tests the epoch kept by validation accuracy
(configs with a validation split) instead of the last. ``--validation-only`` skips `test` and reports
the validation accuracy of that checkpoint: what a recipe is chosen on, never the test set.
``--robustness`` also scores each seed's checkpoint on the corruption suite (`robustness`: the mean over
its kinds, and its worst kind). Any further
arguments go to both commands unchanged (for example ``--trainer.max_epochs 5``).

``--jobs N`` trains N seeds at a time, each in a process of its own (this script again, for one seed)
with its share of the cores as threads (``--threads``): torch's default pools, a thread per core in
every process, would make the processes fight over the cores and each run several times slower.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from mnist_lit import EpochTimer, cli_main
from mnist_lit.runs import thread_env, threads_per_job


def run_seed(
    config: str, seed: int, log_dir: str, extra: list[str], checkpoint: str, test: bool, robustness: bool = False
) -> dict:
    common = ["--config", config, "--seed_everything", str(seed), "--trainer.logger.init_args.save_dir", log_dir]
    fit = cli_main(["fit", *common, *extra])
    timer = next(callback for callback in fit.trainer.callbacks if isinstance(callback, EpochTimer))
    saver = fit.trainer.checkpoint_callback
    run = {"seed": seed, "epoch_seconds": timer.epoch_seconds}
    if checkpoint == "best":
        run |= {"checkpoint": saver.best_model_path, "val_acc": float(saver.best_model_score)}
    else:
        run |= {"checkpoint": saver.last_model_path}
        if "val/acc" in fit.trainer.callback_metrics:
            run["val_acc"] = float(fit.trainer.callback_metrics["val/acc"])
    if not test:
        return run
    tested = cli_main(["test", *common, "--ckpt_path", run["checkpoint"], *extra])
    misclassified = Path(tested.trainer.log_dir) / "misclassified" / "misclassified.csv"
    run |= {
        "test_acc": float(tested.trainer.callback_metrics["test/acc"]),
        "misclassified": len(misclassified.read_text().splitlines()) - 1,
    }
    if robustness:
        scored = cli_main(["robustness", *common, "--ckpt_path", run["checkpoint"], *extra])
        with (Path(scored.trainer.log_dir) / "robustness" / "robustness.csv").open() as table:
            accuracy = {row["kind"]: float(row["accuracy"]) for row in csv.DictReader(table)}
        kinds = {kind: value for kind, value in accuracy.items() if kind not in ("clean", "mean")}
        worst = min(kinds, key=kinds.get)
        run |= {"suite_mean": accuracy["mean"], "suite_worst": kinds[worst], "worst_kind": worst}
    return run


def mean_and_range(runs: list[dict], key: str) -> dict[str, float]:
    values = [run[key] for run in runs]
    return {f"{key}_mean": statistics.mean(values), f"{key}_min": min(values), f"{key}_max": max(values)}


def run_seeds_in_processes(args: argparse.Namespace, threads: int, extra: list[str]) -> list[dict]:
    """Each seed in a child process (this script, ``--jobs 1``), ``args.jobs`` at a time; their runs in seed order."""
    env = thread_env(threads)
    shared = ["--config", args.config, "--log-dir", args.log_dir, "--checkpoint", args.checkpoint]
    shared += ["--validation-only"] if args.validation_only else []
    shared += ["--robustness"] if args.robustness else []

    with tempfile.TemporaryDirectory(prefix="seed_sweep.") as tmp:

        def one(seed: int) -> dict:
            out = Path(tmp) / f"seed_{seed}.json"
            command = [sys.executable, __file__, *shared, "--seeds", str(seed), "--json", str(out), *extra]
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"error: seed {seed} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
            run = json.loads(out.read_text())["runs"][0]
            print(f"seed {seed} done", flush=True)  # the children's own output is kept for a failure's report
            return run

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            return list(pool.map(one, args.seeds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--log-dir", default="logs/seed_sweep")
    parser.add_argument("--checkpoint", choices=["last", "best"], default="last", help="which checkpoint to score")
    parser.add_argument("--validation-only", action="store_true", help="report validation accuracy, do not test")
    parser.add_argument("--robustness", action="store_true", help="also score each seed on the corruption suite")
    parser.add_argument("--json", default=None, help="results file (default: benchmarks/sweep_CONFIG.json)")
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at a time, each in its own process")
    parser.add_argument(
        "--threads", type=int, default=None, help="threads per process (default: the cores split by --jobs; 0: torch's)"
    )
    args, extra = parser.parse_known_args(argv)
    if args.jobs < 1 or (args.threads is not None and args.threads < 0):
        parser.error(f"--jobs must be at least 1 and --threads at least 0, got {args.jobs} and {args.threads}")

    threads = threads_per_job(args.jobs, args.threads) if args.jobs > 1 else args.threads
    started = time.perf_counter()
    if args.jobs > 1:
        runs = run_seeds_in_processes(args, threads, extra)
    else:
        if threads:
            torch.set_num_threads(threads)
        runs = [
            run_seed(args.config, seed, args.log_dir, extra, args.checkpoint, not args.validation_only, args.robustness)
            for seed in args.seeds
        ]
    wall_seconds = time.perf_counter() - started
    epoch_s = [s for run in runs for s in run["epoch_seconds"][1:]] or [s for run in runs for s in run["epoch_seconds"]]
    summary = {"config": args.config, "extra_args": extra, "seeds": args.seeds, "checkpoint": args.checkpoint}
    summary |= {"jobs": args.jobs, "threads": threads, "wall_seconds": wall_seconds}
    if "val_acc" in runs[0]:
        summary |= mean_and_range(runs, "val_acc")
    if not args.validation_only:
        summary |= mean_and_range(runs, "test_acc") | {
            "misclassified_mean": statistics.mean(r["misclassified"] for r in runs)
        }
    if args.robustness:
        summary |= mean_and_range(runs, "suite_mean") | mean_and_range(runs, "suite_worst")
    summary |= {"epoch_seconds_median": statistics.median(epoch_s), "runs": runs}
    name = Path(args.config).stem
    path = Path(args.json or f"benchmarks/sweep_{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2))
    columns = (("val_acc", "val acc"), ("test_acc", "test acc"), ("suite_mean", "suite"), ("suite_worst", "worst kind"))
    shown = [(key, title) for key, title in columns if f"{key}_mean" in summary]
    headers = ["config", "extra args", "seeds", "checkpoint", *(f"{title} mean (min-max)" for _, title in shown)]
    headers += ["misclassified per seed", "s/epoch median", "jobs", "wall s"]
    cells = [name, " ".join(extra) or "-", " ".join(map(str, args.seeds)), args.checkpoint]
    for key, _ in shown:
        cells.append(f"{summary[f'{key}_mean']:.4f} ({summary[f'{key}_min']:.4f}-{summary[f'{key}_max']:.4f})")
    cells += [", ".join(str(run["misclassified"]) for run in runs if "misclassified" in run) or "-"]
    cells += [f"{summary['epoch_seconds_median']:.2f}", str(args.jobs), f"{wall_seconds:.1f}"]
    print("\n| " + " | ".join(headers) + " |\n" + "|---" * len(headers) + "|\n| " + " | ".join(cells) + " |")
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
