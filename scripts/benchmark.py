"""Time the project's training against plain PyTorch loops, each side in a fresh process.

    python scripts/benchmark.py --model one --batch-size 32 --epochs 3 --rounds 3

Four sides, interleaved round by round so that the machine's slow and fast spells fall on every side:
(a) a plain loop with default Adam and (b) with fused Adam, in processes that never import Lightning
(Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` at import, which makes torch's own Adam query NVML on
every CPU step, a cost a plain-PyTorch user never pays); (c) the idiomatic ``Classifier`` and (d) the
configs' ``FastClassifier``, both through ``cli_main(["fit", ...])`` exactly as the CLI builds them
(with ``--autograd``, also the fast class with its gradients left to autograd); with ``--compiled-steps
K``, (e) the fast class with compiled steps (its compile time reported too, from a cache that the first
round fills, or from an empty one each run with ``--cold``); with ``--jax``, (f) JAX and optax with the
epoch as one ``lax.scan``, for the MLPs (``--model cnn`` is cnn.yaml's LeNet-5 without its dropout, which
the compiled steps leave to eager training); with ``--mkl-avx512``, (g) the configs' fast class again in a
process that preloads ``python -m mnist_lit.mkl_avx512``'s library (MKL's AVX-512 kernels on an AMD
processor), the other sides keeping MKL's default kernels.
The first epoch of each run is warm-up and is not counted; the minimum and median over the remaining
epochs are reported, with test accuracy. Each side runs as ``benchmark.py --side NAME`` (JSON on stdout).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

# the repository's configs, wherever the script is run from
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = {name: str(CONFIG_DIR / f"{config}.yaml") for name, config in
           {"one": "one_hidden", "two": "two_hidden", "cnn": "cnn"}.items()}  # fmt: skip
HIDDEN = {"one": (64,), "two": (64, 1024)}
# cnn.yaml's network without its dropout, which the compiled steps leave to eager training: like with like
CNN = {"channels": [6, 16], "hidden_sizes": [120, 84], "dropout": 0.0}
SIDES = {
    "plain-default": "plain loop, default Adam",
    "plain-fused": "plain loop, fused Adam",
    "idiomatic": "Classifier (idiomatic)",
    "fast": "FastClassifier (the configs)",
    "autograd": "FastClassifier, gradients by autograd",  # only with --autograd
    "compiled": "FastClassifier, compiled steps",  # only with --compiled-steps K
    "jax": "JAX + optax, the epoch as one lax.scan",  # only with --jax (the MLPs)
    "mkl-avx512": "FastClassifier, MKL's AVX-512 kernels preloaded",  # only with --mkl-avx512
}


def plain_run(args: argparse.Namespace, fused: bool) -> dict:
    """The reference, as a PyTorch user writes it: in-memory tensors, shuffled index batches, a bare loop."""
    from torch import nn
    from torch.nn import functional as F
    from torchvision.datasets import MNIST

    device = torch.device("cuda" if args.accelerator == "gpu" else "cpu")
    train, test = (MNIST(args.data_dir, train=train, download=False) for train in (True, False))
    x_train, y_train = train.data[:, None].float().div(255).to(device), train.targets.to(device)
    x_test, y_test = test.data[:, None].float().div(255).to(device), test.targets.to(device)
    torch.manual_seed(args.seed)
    if args.model == "cnn":
        from mnist_lit.nets.lenet import LeNet5  # a plain nn.Module: nothing of Lightning's comes with it

        net = LeNet5((1, 28, 28), 10, **CNN).to(device)
    else:
        widths = [28 * 28, *HIDDEN[args.model]]
        layers = [layer for i in range(len(widths) - 1) for layer in (nn.Linear(widths[i], widths[i + 1]), nn.ReLU())]
        net = nn.Sequential(nn.Flatten(), *layers, nn.Linear(widths[-1], 10)).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused)
    seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        batches = torch.randperm(len(x_train), device=device).split(args.batch_size)[: args.limit_batches]
        for idx in batches:
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


def jax_run(args: argparse.Namespace) -> dict:
    """The fastest other stack we know on a CPU: JAX and optax, the whole epoch one ``jax.lax.scan`` of
    Adam steps over the shuffled batches (the last, shorter batch left out), jitted once."""
    import gzip

    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    def idx(name: str, offset: int) -> np.ndarray:  # the IDX files as MNIST ships them
        with gzip.open(Path(args.data_dir) / "MNIST" / "raw" / f"{name}.gz") as file:
            return np.frombuffer(file.read(), dtype=np.uint8, offset=offset)

    x_train = jnp.asarray(idx("train-images-idx3-ubyte", 16).reshape(-1, 784) / np.float32(255))
    y_train = jnp.asarray(idx("train-labels-idx1-ubyte", 8).astype(np.int32))
    x_test = jnp.asarray(idx("t10k-images-idx3-ubyte", 16).reshape(-1, 784) / np.float32(255))
    y_test = jnp.asarray(idx("t10k-labels-idx1-ubyte", 8).astype(np.int32))
    key = jax.random.PRNGKey(args.seed)
    widths, params = [784, *HIDDEN[args.model], 10], []
    for fan_in, fan_out in itertools.pairwise(widths):  # torch's nn.Linear initialisation
        key, w_key, b_key = jax.random.split(key, 3)
        bound = 1 / math.sqrt(fan_in)
        params.append((jax.random.uniform(w_key, (fan_in, fan_out), minval=-bound, maxval=bound),
                       jax.random.uniform(b_key, (fan_out,), minval=-bound, maxval=bound)))  # fmt: skip

    def forward(params: list, x: jax.Array) -> jax.Array:
        for w, b in params[:-1]:
            x = jax.nn.relu(x @ w + b)
        return x @ params[-1][0] + params[-1][1]

    def loss(params: list, x: jax.Array, y: jax.Array) -> jax.Array:
        return optax.softmax_cross_entropy_with_integer_labels(forward(params, x), y).mean()

    optimizer = optax.adam(1e-3)
    steps = args.limit_batches or len(x_train) // args.batch_size

    @jax.jit
    def epoch(params: list, state: optax.OptState, key: jax.Array) -> tuple:
        order = jax.random.permutation(key, len(x_train))[: steps * args.batch_size].reshape(steps, -1)

        def step(carry: tuple, batch: jax.Array) -> tuple:
            params, state = carry
            value, grads = jax.value_and_grad(loss)(params, x_train[batch], y_train[batch])
            updates, state = optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), value

        (params, state), losses = jax.lax.scan(step, (params, state), order)
        return params, state, losses

    state, seconds = optimizer.init(params), []
    for _ in range(args.epochs):
        key, epoch_key = jax.random.split(key)
        start = time.perf_counter()
        params, state, losses = epoch(params, state, epoch_key)
        losses.block_until_ready()
        seconds.append(time.perf_counter() - start)
    accuracy = float((forward(params, x_test).argmax(axis=1) == y_test).mean())
    return {"epoch_seconds": seconds, "test_acc": accuracy}


def project_run(args: argparse.Namespace, side: str, out_dir: str) -> dict:
    """The project's own path: the CLI's Trainer, DataModule and model, built from the config.

    The compiled side compiles when training starts, before the first epoch's timer (its compile time is
    logged, and the first epoch is not counted anyway).
    """
    from mnist_lit import EpochTimer, cli_main

    extra = ["--model", "mnist_lit.Classifier"] if side == "idiomatic" else []
    if args.steps_per_call and side != "idiomatic":
        extra += ["--model.steps_per_call", str(args.steps_per_call)]
    if side == "compiled":
        extra += ["--model.compiled_steps", str(args.compiled_steps)]
    if side == "autograd":
        extra += ["--model.write_out_gradients", "false"]
    if args.model == "cnn":
        extra += ["--model.net.init_args.dropout", str(CNN["dropout"])]
    if args.limit_batches:  # Lightning counts a fast `training_step` call, which takes several batches, as one
        calls = args.limit_batches if side == "idiomatic" else args.limit_batches // steps_per_call(args)
        extra += ["--trainer.limit_train_batches", str(calls)]
    cli = cli_main([
        "fit",
        "--config", CONFIGS[args.model],
        *extra,
        "--seed_everything", str(args.seed),
        "--data.data_dir", args.data_dir,
        "--data.batch_size", str(args.batch_size),
        "--trainer.max_epochs", str(args.epochs),
        "--trainer.accelerator", args.accelerator,
        "--trainer.logger.init_args.save_dir", out_dir,
        "--trainer.enable_model_summary", "false",
        "--model.compile", str(args.compile).lower(),
    ])  # fmt: skip
    timer = next(callback for callback in cli.trainer.callbacks if isinstance(callback, EpochTimer))
    metrics = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]
    result = {"epoch_seconds": list(timer.epoch_seconds), "test_acc": metrics["test/acc"]}
    return result | {"compile_seconds": getattr(cli.model, "compile_seconds", None)}


def steps_per_call(args: argparse.Namespace) -> int:
    """The fast sides' batches per ``training_step`` call: ``--steps-per-call``, or the config's."""
    if args.steps_per_call:
        return args.steps_per_call
    import yaml

    return yaml.safe_load(Path(CONFIGS[args.model]).read_text())["model"]["init_args"]["steps_per_call"]


def run_side(args: argparse.Namespace) -> dict:
    """This process's one side (``--side``)."""
    if args.side == "jax":
        return jax_run(args)
    if args.side.startswith("plain"):
        # a plain-PyTorch user's Adam never pays the per-step NVML query that Lightning's variable causes
        assert "lightning" not in sys.modules and "PYTORCH_NVML_BASED_CUDA_CHECK" not in os.environ, (
            "the plain sides must run where Lightning was never imported"
        )
        return plain_run(args, fused=args.side == "plain-fused")
    with tempfile.TemporaryDirectory() as out_dir:
        return project_run(args, "fast" if args.side == "mkl-avx512" else args.side, out_dir)


def side_in_child(argv: list[str], side: str, compile_cache: str, preload: str = "") -> dict:
    """One run of one side in a fresh Python process, with ``compile_cache`` as torch's compile cache and
    ``preload`` (a library's path) in ``LD_PRELOAD`` for the ``mkl-avx512`` side; its JSON result."""
    # Lightning sets this when imported (here, or in a test process) and children inherit it; a plain-PyTorch
    # user's process never has it
    env = {key: value for key, value in os.environ.items() if key != "PYTORCH_NVML_BASED_CUDA_CHECK"}
    env["TORCHINDUCTOR_CACHE_DIR"] = compile_cache
    if side == "mkl-avx512":
        env["LD_PRELOAD"] = preload
    command = [sys.executable, __file__, *argv, "--side", side]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: the {side} side failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def mkl_avx512_library() -> str:
    """The path ``python -m mnist_lit.mkl_avx512`` prints; it stops the benchmark with its reason where the
    library would change nothing here."""
    done = subprocess.run([sys.executable, "-m", "mnist_lit.mkl_avx512"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"--mkl-avx512: {done.stderr.strip()}")
    return done.stdout.strip()


def summarise(runs: list[dict], steps: int) -> dict:
    timed = [s for run in runs for s in run["epoch_seconds"][1:]]  # first epoch of each run: warm-up
    return {
        "ms_per_step_min": 1e3 * min(timed) / steps,
        "ms_per_step_median": 1e3 * statistics.median(timed) / steps,
        "s_per_epoch_min": min(timed),
        "s_per_epoch_median": statistics.median(timed),
        "test_acc": [run["test_acc"] for run in runs],
        "compile_seconds": [run.get("compile_seconds") for run in runs],
    }


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(CONFIGS), default="one")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run; the first is excluded (min 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every side")
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--compile", action="store_true", help="the project sides compile their network")
    parser.add_argument("--steps-per-call", type=int, default=None, help="the fast side's (default: the config's)")
    parser.add_argument(
        "--limit-batches",
        type=int,
        default=None,
        help="train on this many batches an epoch (a multiple of the steps per call)",
    )
    parser.add_argument("--compiled-steps", type=int, default=0, help="add the fast side with compiled_steps K")
    parser.add_argument("--autograd", action="store_true", help="add the fast class with write_out_gradients false")
    parser.add_argument("--jax", action="store_true", help="add JAX + optax (the MLPs; pip install jax optax)")
    parser.add_argument(
        "--mkl-avx512", action="store_true", help="add the fast side with MKL's AVX-512 kernels (AMD processors)"
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="every compiled run starts from an empty compile cache (default: the first run fills "
        "one that the later rounds use)",
    )
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="where to write the results (default: benchmarks/NAME.json)")
    parser.add_argument("--side", choices=sorted(SIDES), default=None, help="run one side here and print its JSON")
    args = parser.parse_args(argv)
    if args.jax and args.model == "cnn":
        parser.error("--jax times the MLPs only")
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is warm-up and is not timed")
    if args.limit_batches and args.limit_batches % steps_per_call(args):
        parser.error(f"--limit-batches must be a multiple of the steps per call ({steps_per_call(args)})")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.side:
        print(json.dumps(run_side(args)))
        return 0

    from mnist_lit.data import ensure_raw_files  # the plain sides read the files as torchvision lays them out

    ensure_raw_files(args.data_dir)
    preload = mkl_avx512_library() if args.mkl_avx512 else ""
    wanted = {"compiled": args.compiled_steps, "jax": args.jax, "autograd": args.autograd, "mkl-avx512": preload}
    sides: dict[str, list[dict]] = {side: [] for side in SIDES if wanted.get(side, True)}
    with tempfile.TemporaryDirectory() as warm_cache:
        for _ in range(args.rounds):
            for side, runs in sides.items():
                with tempfile.TemporaryDirectory() as empty_cache:
                    runs.append(side_in_child(argv, side, empty_cache if args.cold else warm_cache, preload))

    steps = args.limit_batches or math.ceil(60_000 / args.batch_size)
    results = {SIDES[side]: summarise(runs, steps) for side, runs in sides.items()}
    references = {"default": "plain-default", "fused": "plain-fused", "jax": "jax"}
    references = {name: results[SIDES[side]] for name, side in references.items() if SIDES[side] in results}
    for result in results.values():
        for stat in ("min", "median"):
            for name, reference in references.items():
                ratio = result[f"ms_per_step_{stat}"] / reference[f"ms_per_step_{stat}"]
                result[f"ratio_to_{name}_{stat}"] = ratio

    variant = (", network compiled" if args.compile else "") + (
        f", {args.steps_per_call} steps per call" if args.steps_per_call else ""
    )
    variant += f", compiled_steps {args.compiled_steps}" if args.compiled_steps else ""
    variant += f", preloaded {preload}" if preload else ""
    print(f"\nmodel {args.model}, batch {args.batch_size}, {args.accelerator}{variant}, "
          f"{args.rounds} rounds x {args.epochs} epochs ({steps} steps per epoch)\n")  # fmt: skip
    print("| side | ms/step min | ms/step median | " + " | ".join(f"÷ {name} (min / median)" for name in references)
          + " | compile s | acc |")  # fmt: skip
    print("|---|---|---|" + "---|" * len(references) + "---|---|")
    for name, r in results.items():
        ratios = " | ".join(f"{r[f'ratio_to_{ref}_min']:.2f} / {r[f'ratio_to_{ref}_median']:.2f}" for ref in references)
        compiled = ", ".join(f"{c:.1f}" for c in r["compile_seconds"] if c is not None) or "-"
        accs = ", ".join(f"{a:.4f}" for a in r["test_acc"])
        steps_ms = f"{r['ms_per_step_min']:.3f} | {r['ms_per_step_median']:.3f}"
        print(f"| {name} | {steps_ms} | {ratios} | {compiled} | {accs} |")

    name = f"{args.model}_bs{args.batch_size}_{args.accelerator}{'_compiled' if args.compile else ''}"
    name += f"_spc{args.steps_per_call}" if args.steps_per_call else ""
    name += f"_k{args.compiled_steps}" if args.compiled_steps else ""
    path = Path(args.json or f"benchmarks/{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"args": vars(args), "machine": machine(), "results": results}, indent=2))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
