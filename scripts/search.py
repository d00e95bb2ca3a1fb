"""Search the recipe's hyperparameters with Optuna, on the validation split only; write the best as a config.

    python scripts/search.py --config configs/one_hidden.yaml --trials 40 --epochs 20 \\
        --storage sqlite:///search.db --study one_hidden --out configs/one_hidden_search.yaml

Each trial trains the config's network with `fit` (a process of its own, as the command line runs it)
on the training images less a validation split (``--val-size``, 5,000 by default), with the options it
picked (``--search``: learning rate, schedule, optimizer and weight decay, label smoothing, shifts, batch
size), and scores the best epoch's validation accuracy. The test set is never used. A trial that falls
behind the others' median at the same epoch is pruned. The study lives in ``--storage``: stopped with
Ctrl-C, the same command resumes it and runs the trials still missing from ``--trials``. ``--jobs N``
runs N trials at a time, each with its share of the cores. Any further ``--section.key value``
arguments (``--data.data_dir DIR``, ``--trainer.accelerator gpu``) go to every trial's `fit`.

At the end it prints the best trials, writes the best as a config that `fit --config` accepts (with a
validation split, keeping ``best.ckpt`` by validation accuracy, as ``configs/*_tuned.yaml``), and writes
each option's importance (Optuna's fANOVA) as JSON beside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from mnist_lit.atomic import write_file
from mnist_lit.errors import MnistLitError, exits_on_user_error
from mnist_lit.runs import thread_env, threads_per_job
from mnist_lit.search import OPTIONS

try:
    import optuna
except ImportError:  # named in a clear error by main()
    optuna = None

FINISHED = ("COMPLETE", "PRUNED")


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="the config whose network and recipe are searched")
    parser.add_argument("--trials", type=int, required=True, help="trials in the study, finished or pruned")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per trial")
    parser.add_argument("--storage", default="sqlite:///search.db", help="where the study lives (resumable)")
    parser.add_argument("--study", default=None, help="the study's name (default: the config's)")
    parser.add_argument("--out", default=None, help="the best trial's config (default: configs/NAME_search.yaml)")
    parser.add_argument("--search", nargs="+", default=list(OPTIONS), metavar="OPTION", help="the options searched")
    parser.add_argument("--val-size", type=int, default=5000, help="validation images held out of training")
    parser.add_argument("--jobs", type=int, default=1, help="trials at a time")
    parser.add_argument("--threads", type=int, default=None, help="threads per trial (default: the cores / jobs)")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed and every trial's")
    args, extra = parser.parse_known_args(argv)
    name = Path(args.config).stem
    args.study = args.study or name
    args.out = Path(args.out or Path(args.config).with_name(f"{name}_search.yaml"))
    unknown = [option for option in args.search if option not in OPTIONS]
    if unknown:
        raise MnistLitError(
            f"--search names options that cannot be searched: {', '.join(unknown)}. The recipe's options are: "
            f"{', '.join(OPTIONS)}. Set anything else for every trial as --section.key value."
        )
    if args.trials < 1 or args.epochs < 1 or args.jobs < 1 or args.val_size < 1:
        raise MnistLitError(
            f"The budget must be positive: --trials {args.trials}, --epochs {args.epochs}, --jobs {args.jobs}, "
            f"--val-size {args.val_size}. For example --trials 40 --epochs 20 (docs/recipe.md)."
        )
    if not Path(args.config).is_file():
        raise MnistLitError(f"--config {args.config} does not exist. Pass one of configs/*.yaml.")
    return args, extra


def open_study(args: argparse.Namespace) -> optuna.Study:
    """The study in its storage, created or resumed; a storage that cannot be written is a clear error."""
    try:
        return optuna.create_study(
            study_name=args.study,
            storage=args.storage,
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=args.seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3),
            load_if_exists=True,
        )
    except Exception as err:  # SQLAlchemy's errors for a path that cannot be opened or written, a bad URL
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise MnistLitError(
            f"Cannot open the study's storage {args.storage} ({reason}). Use a writable SQLite file, for "
            "example --storage sqlite:///search.db (a path relative to this folder) or sqlite:////abs/path.db."
        ) from err


def run_trial(trial: optuna.Trial, args: argparse.Namespace, extra: list[str], threads: int) -> float:
    """One `fit` with the trial's options, in a child process; its best validation accuracy.

    The child writes each epoch's accuracy; this reports it to the study as it comes, and stops the child
    when the study prunes the trial.
    """
    picked = [OPTIONS[name] for name in OPTIONS if name in args.search]
    overrides = [item for option in picked for item in (option.flag, str(option.suggest(trial)))]
    with tempfile.TemporaryDirectory(prefix="search.") as tmp:
        report, log = Path(tmp) / "val_acc.json", Path(tmp) / "fit.log"
        callback = {"class_path": "mnist_lit.search.EpochAccuracy", "init_args": {"out": str(report)}}
        command = [sys.executable, "-m", "mnist_lit", "fit", "--config", args.config, *overrides,
                   "--trainer.max_epochs", str(args.epochs), "--data.val_size", str(args.val_size),
                   "--seed_everything", str(args.seed), "--trainer.logger.init_args.save_dir", tmp,
                   "--trainer.enable_progress_bar", "false", f"--trainer.callbacks+={json.dumps(callback)}",
                   *extra]  # fmt: skip
        with open(log, "w") as output:
            child = subprocess.Popen(command, env=thread_env(threads), stdout=output, stderr=subprocess.STDOUT)
            try:
                values = follow(child, report, trial)
            finally:
                if child.poll() is None:  # pruned, or this process was interrupted
                    child.terminate()
                    child.wait()
        if values is None:
            raise optuna.TrialPruned()
        if child.returncode != 0 or not values:
            raise MnistLitError(
                f"Trial {trial.number}'s `fit` failed (exit {child.returncode}), so the search stops; its output "
                f"ends:\n{log.read_text()[-2000:]}"
            )
    return max(values)


def follow(child: subprocess.Popen, report: Path, trial: optuna.Trial) -> list[float] | None:
    """Report each epoch's accuracy as the child writes it; None as soon as the study prunes the trial."""
    reported: list[float] = []
    while True:
        running = child.poll() is None
        values = json.loads(report.read_text()) if report.exists() else []
        for epoch in range(len(reported), len(values)):
            trial.report(values[epoch], step=epoch)
            reported.append(values[epoch])
            if trial.should_prune():
                return None
        if not running:
            return reported
        time.sleep(0.5)


def best_config(args: argparse.Namespace, trial: optuna.trial.FrozenTrial) -> str:
    """The config file that trains the best trial's recipe: the searched config with its values."""
    config = yaml.safe_load(Path(args.config).read_text())
    for name, option in OPTIONS.items():
        if name in args.search:
            value = trial.params.get(name, 0.0)  # weight decay is only picked with AdamW
            target = config["model"].setdefault("init_args", {}) if option.section == "model" else config["data"]
            target[option.key] = value
    config["data"]["val_size"] = args.val_size
    config["trainer"]["logger"] = {"init_args": {"name": args.out.stem}}
    config["trainer"]["callbacks"] = [{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                                       "init_args": {"monitor": "val/acc", "mode": "max", "filename": "best",
                                                     "save_top_k": 1, "save_last": True}}]  # fmt: skip
    header = (
        f"# Found by scripts/search.py (study {args.study!r}, trial {trial.number}): validation accuracy "
        f"{trial.value:.4f}, the best epoch of {args.epochs}, on {args.val_size:,} held-out training images.\n"
        f"# Test best.ckpt once: python -m mnist_lit test --config {args.out} --ckpt_path best\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False)


def table(study: optuna.Study, rows: int = 5) -> str:
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    ranked = sorted(done, key=lambda t: t.value, reverse=True)[:rows]
    lines = [f"{'trial':>5}  {'val acc':>7}  options"]
    lines += [
        f"{t.number:>5}  {t.value:.4f}  " + ", ".join(f"{k}={_short(v)}" for k, v in t.params.items()) for t in ranked
    ]
    return "\n".join(lines)


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


@exits_on_user_error
def main(argv: list[str] | None = None) -> int:
    if optuna is None:
        raise MnistLitError('scripts/search.py needs Optuna, which is not installed: pip install -e ".[track]".')
    args, extra = parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(args)
    finished = sum(t.state.name in FINISHED for t in study.trials)
    threads = threads_per_job(args.jobs, args.threads)
    lock = threading.Lock()

    def objective(trial: optuna.Trial) -> float:
        value = run_trial(trial, args, extra, threads)
        with lock:
            print(f"trial {trial.number}: val acc {value:.4f}", flush=True)
        return value

    if finished < args.trials:
        print(f"study {args.study!r}: {finished} trials done, {args.trials - finished} to run, {args.jobs} at a time")
        study.optimize(objective, n_trials=args.trials - finished, n_jobs=args.jobs)
    best = study.best_trial
    print(table(study))
    write_file(args.out, best_config(args, best))
    completed = [t for t in study.trials if t.state.name == "COMPLETE"]
    importance = optuna.importance.get_param_importances(study) if len(completed) > 1 else {}
    importance_path = args.out.with_suffix(".importance.json")
    write_file(importance_path, json.dumps({k: round(v, 4) for k, v in importance.items()}, indent=2))
    print(f"best: trial {best.number}, val acc {best.value:.4f}; wrote {args.out} and {importance_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
