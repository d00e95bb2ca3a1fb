"""The command line: ``python -m mnist_lit fit|validate|test|predict --config configs/one_hidden.yaml``."""

from __future__ import annotations

import math
import re
import sys
import tempfile
from importlib import import_module
from pathlib import Path

import lightning as L
import torch
from jsonargparse import Namespace
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException

from mnist_lit.atomic import NO_ROOM, NOT_WRITABLE
from mnist_lit.callbacks import BatchProgressBar, ConfusionMatrix, EpochTimer, MisclassifiedDigits, PredictionWriter
from mnist_lit.checkpoint import read_checkpoint
from mnist_lit.data import MNISTDataModule, dataset_info
from mnist_lit.errors import MissingFileError, MnistLitError, print_error
from mnist_lit.model import Classifier
from mnist_lit.nets.spec import describe, net_spec, same_net
from mnist_lit.onnx_model import is_onnx
from mnist_lit.quiet import quiet_lightning
from mnist_lit.runs import RunLogger, WholeCheckpointIO
from mnist_lit.tracking import RunConfig, record_checkpoints
from mnist_lit.trainer import Trainer

DESCRIPTION = "Train, test and use the textbook's MNIST digit classifiers (PyTorch Lightning)."
# the subcommands that use trained weights (--ckpt_path)
CHECKPOINT_SUBCOMMANDS = ("validate", "test", "predict", "serve", "export", "robustness")
LAST = "last"
# `--ckpt_path best`: the checkpoint a config with a validation split keeps by `val/acc` (configs/*_tuned.yaml)
BEST = "best"
# callbacks that act only after `test` or `predict`; Lightning calls every callback's hooks on every
# training step, idle or not (about 15 µs each here), so `fit` leaves them out
EVALUATION_ONLY_CALLBACKS = (ConfusionMatrix, MisclassifiedDigits, PredictionWriter)
# the subcommands of mnist_lit.trainer.Trainer beside Lightning's
ADDED_SUBCOMMANDS = ("serve", "export", "robustness")
SIGTERM_EXIT = 143
# `predict` wrote its table, but some inputs could not be read: their rows say why
SOME_INPUTS_UNREAD_EXIT = 3


def program_name() -> str:
    """The program as the user typed it: ``mnist-lit``, or ``python -m mnist_lit`` (whose argv[0] is __main__.py)."""
    name = Path(sys.argv[0]).name
    return "python -m mnist_lit" if name == "__main__.py" else name


def runs_root(trainer_config: Namespace) -> Path:
    """Where a config's runs live: its folder logger's ``save_dir/name`` (TensorBoard, CSV), else the root dir.

    With no logger that keeps a folder of its own (MLflow on a database, Weights & Biases, none at all),
    checkpoints go under ``default_root_dir``, which :func:`name_runs` points at ``logs/CONFIG``.
    """
    for logger in _loggers(trainer_config):
        init_args = logger.get("init_args") or Namespace()
        if issubclass(_class_of(logger), (TensorBoardLogger, CSVLogger)) and init_args.get("save_dir"):
            return Path(init_args.save_dir) / (init_args.get("name") or "lightning_logs")
    return Path(trainer_config.get("default_root_dir") or ".")


def name_runs(config: Namespace) -> None:
    """Runs of ``configs/NAME.yaml`` live under ``logs/NAME``, whichever loggers an overlay chose.

    A ``RunLogger`` without a name gets the first config file's name; with no folder-keeping logger, the
    root dir (where Lightning puts checkpoints then) defaults to ``logs/NAME``.
    """
    files = config.get("config") or []
    if not files:
        return
    name = Path(str(files[0])).stem
    loggers = _loggers(config.trainer)
    for logger in loggers:
        if issubclass(_class_of(logger), RunLogger) and logger.init_args.get("name") is None:
            logger.init_args.name = name
    keeps_folder = any(issubclass(_class_of(logger), (TensorBoardLogger, CSVLogger)) for logger in loggers)
    if not keeps_folder and config.trainer.get("default_root_dir") is None:
        config.trainer.default_root_dir = str(Path(RunLogger.DEFAULT_SAVE_DIR) / name)


def _loggers(trainer_config: Namespace) -> list[Namespace]:
    loggers = trainer_config.get("logger")
    return [entry for entry in (loggers if isinstance(loggers, list) else [loggers]) if isinstance(entry, Namespace)]


def _class_of(entry: Namespace) -> type:
    module, _, name = entry.class_path.rpartition(".")
    return getattr(import_module(module), name)


def find_checkpoint(root: Path, name: str = LAST) -> Path:
    """The most recently written ``last.ckpt`` (or ``best.ckpt``) of any run under ``root``."""
    candidates = list(root.glob(f"**/checkpoints/{name}.ckpt"))
    if not candidates:
        keeps = "" if name == LAST else " (only configs with a validation split keep one, e.g. configs/*_tuned.yaml)"
        raise MnistLitError(
            f"--ckpt_path {name} found no {name}.ckpt under {root}{keeps}: no run of this config has written one "
            "there yet. Run `fit` with the same --config first, or pass the path of a .ckpt file."
        )
    return max(candidates, key=lambda path: path.stat().st_mtime)


def check_architecture(checkpoint: dict, path: str, config: Namespace) -> None:
    """Refuse a checkpoint whose network differs from the one the config builds, naming both.

    The network is its class and arguments (``model.init_args.net``, or the MLP of earlier versions'
    ``hidden_sizes``); its input and output follow the dataset.
    """
    saved = checkpoint.get("hyper_parameters", {})
    model = config.model.init_args
    wanted_net = net_spec(_plain(model.get("net")), model.get("hidden_sizes"))
    saved_net = net_spec(saved.get("net"), saved.get("hidden_sizes"))
    if not same_net(saved_net, wanted_net):
        raise MnistLitError(
            f"--ckpt_path {path} holds the network {describe(saved_net)}, but the config builds "
            f"{describe(wanted_net)}. Use the config the checkpoint was trained with (its run folder has it as "
            "config.yaml), or a checkpoint of this config (--ckpt_path last)."
        )
    dataset = dataset_info(config.data.get("dataset"))
    saved_features = saved.get("input_size") or math.prod(saved.get("input_shape") or dataset.input_shape)
    saved_classes = saved.get("num_classes", len(dataset.class_names))
    if (saved_features, saved_classes) != (dataset.num_features, len(dataset.class_names)):
        raise MnistLitError(
            f"--ckpt_path {path} holds a network for {saved_features} pixels and {saved_classes} classes, but "
            f"{dataset.title} (--data.dataset) has {dataset.num_features} and {len(dataset.class_names)}. Use the "
            "dataset the checkpoint was trained on (its run folder's config.yaml says which)."
        )


def _plain(value: object) -> object:
    return value.as_dict() if isinstance(value, Namespace) else value


def check_writable(folder: Path) -> None:
    """Fail at start-up, not after twenty epochs, when the run's folder cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise MnistLitError(
            f"Cannot write the run's logs and checkpoints to {folder} ({err.strerror or err}). Choose a writable "
            "folder with --trainer.logger.init_args.save_dir DIR (or --trainer.default_root_dir DIR)."
        ) from err


class MnistLitCLI(LightningCLI):
    """LightningCLI that checks ``--ckpt_path`` before anything is built.

    Evaluating without a checkpoint would silently score an untrained model, so it is refused;
    ``--ckpt_path last`` stands for the newest ``last.ckpt`` of the config's runs, ``best`` for the newest
    ``best.ckpt`` (kept by validation accuracy).
    """

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """Lightning's four, `serve`, `export` and `robustness` (methods of :class:`mnist_lit.trainer.Trainer`)."""
        return {**LightningCLI.subcommands(), **{name: {"model", "datamodule"} for name in ADDED_SUBCOMMANDS}}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--flush_denormals",
            type=bool,
            default=True,
            help="Treat floats below 1.2e-38 as zero, as JAX's CPU runtime does (torch.set_flush_denormal): Adam's "
            "moments of unused weights decay into that range, where the CPU computes many times slower.",
        )
        # the dataset decides the network's input and output, its normalisation and the names in the reports
        parser.link_arguments("data.input_shape", "model.init_args.input_shape", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")
        parser.link_arguments("data.class_names", "model.init_args.class_names", apply_on="instantiate")
        parser.link_arguments("data.dataset", "model.init_args.dataset", apply_on="instantiate")

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        if subcommand is None:
            return
        config = self.config[subcommand]
        name_runs(config)
        ckpt_path = config.get("ckpt_path")
        if ckpt_path is None and subcommand in CHECKPOINT_SUBCOMMANDS:
            raise MnistLitError(
                f"`{subcommand}` needs trained weights, and no --ckpt_path was given (without one it would score "
                f"an untrained model). Pass --ckpt_path PATH/TO/last.ckpt, or --ckpt_path {LAST} for the newest "
                f"checkpoint of this config's runs ({BEST} for the best by validation accuracy)."
            )
        if ckpt_path in (LAST, BEST):
            config.ckpt_path = str(find_checkpoint(runs_root(config.trainer), ckpt_path))
        elif ckpt_path is not None and not Path(ckpt_path).is_file():
            raise MissingFileError(
                f"--ckpt_path {ckpt_path} does not exist. Pass the path of a .ckpt file written by `fit` "
                f"(under the run's checkpoints/ folder), or --ckpt_path {LAST}."
            )
        if is_onnx(config.ckpt_path) and subcommand != "serve":
            raise MnistLitError(
                f"--ckpt_path {config.ckpt_path} is an exported ONNX model; `{subcommand}` needs a .ckpt checkpoint "
                "written by `fit` (--ckpt_path last). An ONNX model is used by `serve` and by mnist_lit.classify."
            )
        if config.ckpt_path is not None and not is_onnx(config.ckpt_path):
            check_architecture(read_checkpoint(config.ckpt_path), config.ckpt_path, config)
        if subcommand not in ("serve", "export"):  # these write no logs
            check_writable(runs_root(config.trainer))

    def before_instantiate_classes(self) -> None:
        # before the first parallel region: the CPU threads torch starts then inherit the setting
        subcommand = self.config.get("subcommand")
        torch.set_flush_denormal((self.config[subcommand] if subcommand else self.config).flush_denormals)

    def _parse_ckpt_path(self) -> None:
        # Lightning reads the hyperparameters of --ckpt_path with torch.load; an exported model (`serve
        # --ckpt_path model.onnx`) is no torch file and carries its own card
        subcommand = self.config.get("subcommand")
        if subcommand and is_onnx(self.config[subcommand].get("ckpt_path")):
            return
        super()._parse_ckpt_path()

    def after_fit(self) -> None:
        record_checkpoints(self.trainer)

    def instantiate_trainer(self, **kwargs: object) -> L.Trainer:
        trainer_config = self._get(self.config_init, "trainer", default={})
        # Lightning refuses a progress bar among the callbacks when told to show none
        if trainer_config.get("enable_progress_bar") is False:
            defaults = self.trainer_defaults["callbacks"]
            self.trainer_defaults["callbacks"] = [c for c in defaults if not isinstance(c, TQDMProgressBar)]
        plugins = trainer_config.get("plugins") or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):  # unless the user chose how to save
            kwargs["plugins"] = [*plugins, WholeCheckpointIO()]
        trainer = super().instantiate_trainer(**kwargs)
        if self.subcommand == "fit":
            trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, EVALUATION_ONLY_CALLBACKS)]
        if trainer.fast_dev_run:
            # a smoke run saves no checkpoint and has no log dir, yet ModelCheckpoint's on_train_end would still
            # write last.ckpt into the working directory
            trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, ModelCheckpoint)]
        return trainer


def trainer_defaults() -> dict:
    """The trainer every config shares; a config adds its logger's name and its checkpoint policy.

    The callbacks here are added to every run (LightningCLI's persistent callbacks), so a config's own
    ``trainer.callbacks`` list, which a second ``--config`` would replace whole, holds only what differs.
    """
    return {
        "max_epochs": 20,
        "logger": {"class_path": "mnist_lit.RunLogger", "init_args": {"default_hp_metric": False}},
        "callbacks": [
            BatchProgressBar(refresh_rate=100),
            EpochTimer(),
            MisclassifiedDigits(),
            ConfusionMatrix(),
            PredictionWriter(),
        ],
    }


def cli_main(args: ArgsType = None) -> MnistLitCLI:
    """Build and run the CLI; ``args`` (a list of strings) stands in for ``sys.argv[1:]`` in tests and notebooks.

    A problem the user can fix ends in a one-paragraph message on stderr and ``SystemExit(2)``. A `fit`
    stopped by Ctrl-C exits with status 1 (Lightning's), by SIGTERM with 143, so ``fit && test`` stops. A
    `predict` whose inputs could not all be read writes every row it can, then exits with status 3.
    """
    quiet_lightning()
    flushing = denormals_flushed()  # --flush_denormals sets it for the run; the caller's setting comes back after
    try:
        return _run_cli(args)
    finally:
        torch.set_flush_denormal(flushing)


def denormals_flushed() -> bool:
    """Whether this thread reads floats below 1.2e-38 as zero (``torch.set_flush_denormal``, which has no getter)."""
    return torch.tensor([1e-39]).item() == 0.0


def _run_cli(args: ArgsType) -> MnistLitCLI:
    """:func:`cli_main`'s run, each error the user can fix turned into one paragraph and an exit status."""
    try:
        cli = MnistLitCLI(
            Classifier,
            MNISTDataModule,
            trainer_class=Trainer,
            subclass_mode_model=True,  # the configs choose FastClassifier; --model.lr works without init_args
            trainer_defaults=trainer_defaults(),
            seed_everything_default=42,
            save_config_callback=RunConfig,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"prog": program_name(), "description": DESCRIPTION},
            args=args,
        )
    except MnistLitError as err:
        raise SystemExit(print_error(err)) from None
    except ValueError as err:  # jsonargparse reports a class that refused its arguments as a ValueError
        if (user_error := _user_error_in(err)) is None:
            raise
        raise SystemExit(print_error(user_error)) from None
    except MisconfigurationException as err:  # Lightning's word on --trainer flags, e.g. a GPU that is not there
        raise SystemExit(
            print_error(MnistLitError(f"{err} Check the --trainer flags (accelerator, devices)."))
        ) from None
    except OSError as err:  # a file written by Lightning or a logger (config.yaml, events) that did not fit
        if err.errno not in NO_ROOM and err.errno not in NOT_WRITABLE:
            raise
        raise SystemExit(print_error(MnistLitError(unwritten_run_file_message(err)))) from None
    except SIGTERMException:  # Lightning ends a terminated fit with a SystemExit whose status is 0
        print(
            f"error: stopped by SIGTERM. Resume from the last completed epoch with --ckpt_path {LAST}.", file=sys.stderr
        )
        raise SystemExit(SIGTERM_EXIT) from None
    unread = cli.datamodule.predict_inputs.errors if cli.subcommand == "predict" else {}
    if unread:
        print(
            f"error: {len(unread)} of {len(cli.datamodule.predict_inputs.names)} inputs could not be read; their "
            "rows in the predictions CSV say why (not an image, empty, truncated or blank). The others were predicted.",
            file=sys.stderr,
        )
        raise SystemExit(SOME_INPUTS_UNREAD_EXIT)
    return cli


def unwritten_run_file_message(err: OSError) -> str:
    """One paragraph for a run's file that a library failed to write: why, what is kept, how to go on."""
    why = NO_ROOM.get(err.errno, "its folder cannot be written")
    return (
        f"Could not write {err.filename or 'a file of the run'} ({err.strerror}): {why}. Checkpoints already written "
        "are whole (each is written under a temporary name, then renamed). Make room, or choose another folder with "
        "--trainer.logger.init_args.save_dir DIR, then run the same command again (plus --ckpt_path last to resume)."
    )


def _user_error_in(err: BaseException) -> MnistLitError | None:
    """The ``MnistLitError`` behind ``err`` (jsonargparse wraps what a constructor raised), if there is one.

    A package a configured class needs and that is not installed (``mlflow`` for the MLflow logger) is one.
    """
    while err is not None:
        if isinstance(err, MnistLitError):
            return err
        # Lightning's loggers check their package when built; jsonargparse reports it inside its own message
        missing = re.search(r"Requirement '([^']+)' not met", str(err))
        if isinstance(err, ModuleNotFoundError) or missing:
            package = missing.group(1) if missing else err.name
            return MnistLitError(
                f"A class the config names needs {package}, which is not installed. The MLflow logger (configs/"
                'loggers/mlflow.yaml) comes with the track extra: pip install -e ".[track]"; install any other '
                "logger's package with pip."
            )
        err = err.__cause__
    return None


def main() -> None:
    """Console-script entry point (``mnist-lit``)."""
    cli_main()
