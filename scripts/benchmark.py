"""Time the project's training against a plain PyTorch loop, side by side in one process.

    python scripts/benchmark.py --model one --batch-size 32 --epochs 3 --rounds 3

Each round trains (a) a plain loop with default Adam, (b) the same loop with fused Adam and
(c) the project through `cli_main(["fit", ...])` exactly as the CLI builds it, one after the other, so
that the machine's slow and fast spells fall on every side. The first epoch of each run is excluded
(warm-up); the minimum and median over the remaining epochs are reported, with test accuracy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from torch.nn import functional as F

from mnist_lit import EpochTimer, cli_main
from mnist_lit.data import ensure_raw_files, load_split, to_model_input
from mnist_lit.network import MLP

# the repository's configs, wherever the script is run from
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = {"one": str(CONFIG_DIR / "one_hidden.yaml"), "two": str(CONFIG_DIR / "two_hidden.yaml")}
HIDDEN = {"one": (64,), "two": (64, 1024)}


def plain_run(data: dict, hidden: tuple[int, ...], batch_size: int, epochs: int, fused: bool, seed: int) -> dict:
    """The reference: in-memory tensors, shuffled index batches, a bare PyTorch training loop."""
    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = data["x_train"], data["y_train"], data["x_test"], data["y_test"]
    net = MLP(x_train.shape[1], hidden, 10).to(x_train.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for idx in torch.randperm(len(x_train)).to(x_train.device).split(batch_size):
            loss = F.cross_entropy(net(x_train[idx]), y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if x_train.is_cuda:
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    with torch.no_grad():
        accuracy = (net(x_test).argmax(dim=1) == y_test).float().mean().item()
    return {"epoch_seconds": seconds, "test_acc": accuracy}


def project_run(args: argparse.Namespace, out_dir: str) -> dict:
    """The project's own path: the CLI's Trainer, DataModule and LightningModule, built from the config."""
    cli = cli_main([
        "fit",
        "--config", CONFIGS[args.model],
        "--seed_everything", str(args.seed),
        "--data.data_dir", args.data_dir,
        "--data.batch_size", str(args.batch_size),
        "--trainer.max_epochs", str(args.epochs),
        "--trainer.accelerator", args.accelerator,
        "--trainer.logger.init_args.save_dir", out_dir,
        "--trainer.enable_model_summary", "false",
        "--model.compile", str(args.compile).lower(),
        *(["--model.steps_per_call", str(args.steps_per_call)] if args.steps_per_call else []),
    ])  # fmt: skip
    timer = next(callback for callback in cli.trainer.callbacks if isinstance(callback, EpochTimer))
    metrics = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]
    return {"epoch_seconds": list(timer.epoch_seconds), "test_acc": metrics["test/acc"]}


def summarise(runs: list[dict], steps: int) -> dict:
    timed = [s for run in runs for s in run["epoch_seconds"][1:]]  # first epoch of each run: warm-up
    return {
        "ms_per_step_min": 1e3 * min(timed) / steps,
        "ms_per_step_median": 1e3 * statistics.median(timed) / steps,
        "s_per_epoch_min": min(timed),
        "s_per_epoch_median": statistics.median(timed),
        "test_acc": [run["test_acc"] for run in runs],
    }


def machine() -> dict:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else ""
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "lightning": L.__version__,
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(CONFIGS), default="one")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run; the first is excluded (min 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every side")
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--compile", action="store_true", help="the project side compiles its network")
    parser.add_argument(
        "--steps-per-call", type=int, default=None,
        help="the project side's batches per training_step call (default: the config's, 25; 1 shows what it buys)",
    )  # fmt: skip
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="where to write the results (default: benchmarks/NAME.json)")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is warm-up and is not timed")

    ensure_raw_files(args.data_dir)
    device = torch.device("cuda" if args.accelerator == "gpu" else "cpu")
    x_train, y_train = load_split(args.data_dir, train=True)
    x_test, y_test = load_split(args.data_dir, train=False)
    data = {"x_train": to_model_input(x_train).to(device), "y_train": y_train.to(device),
            "x_test": to_model_input(x_test).to(device), "y_test": y_test.to(device)}  # fmt: skip
    sides: dict[str, list[dict]] = {"plain (default Adam)": [], "plain (fused Adam)": [], "project": []}
    with tempfile.TemporaryDirectory() as out_dir:
        for _ in range(args.rounds):
            sides["plain (default Adam)"].append(
                plain_run(data, HIDDEN[args.model], args.batch_size, args.epochs, False, args.seed)
            )
            sides["plain (fused Adam)"].append(
                plain_run(data, HIDDEN[args.model], args.batch_size, args.epochs, True, args.seed)
            )
            sides["project"].append(project_run(args, out_dir))

    steps = math.ceil(len(x_train) / args.batch_size)
    results = {name: summarise(runs, steps) for name, runs in sides.items()}
    reference = results["plain (default Adam)"]
    for result in results.values():
        result["ratio_min"] = result["ms_per_step_min"] / reference["ms_per_step_min"]
        result["ratio_median"] = result["ms_per_step_median"] / reference["ms_per_step_median"]

    variant = (", compiled" if args.compile else "") + (
        f", {args.steps_per_call} steps per call" if args.steps_per_call else ""
    )
    title = (
        f"model {args.model}, batch {args.batch_size}, {args.accelerator}{variant}, "
        f"{args.rounds} rounds x {args.epochs} epochs ({steps} steps per epoch)"
    )
    print(f"\n{title}\n")
    print(
        "| side | ms/step min | ms/step median | s/epoch min | s/epoch median | ratio to plain (min / median) "
        "| test acc |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        accs = ", ".join(f"{a:.4f}" for a in r["test_acc"])
        print(
            f"| {name} | {r['ms_per_step_min']:.3f} | {r['ms_per_step_median']:.3f} | {r['s_per_epoch_min']:.2f} | "
            f"{r['s_per_epoch_median']:.2f} | {r['ratio_min']:.2f} / {r['ratio_median']:.2f} | {accs} |"
        )

    name = f"{args.model}_bs{args.batch_size}_{args.accelerator}{'_compiled' if args.compile else ''}"
    name += f"_spc{args.steps_per_call}" if args.steps_per_call else ""
    path = Path(args.json or f"benchmarks/{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"args": vars(args), "machine": machine(), "results": results}, indent=2))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
