"""What Lightning prints that a user of this project cannot act on, filtered one message at a time."""

from __future__ import annotations

import logging
import threading
import warnings

from mnist_lit.atomic import NO_ROOM, NOT_WRITABLE

_default_thread_hook = threading.excepthook


def _not_a_tip(record: logging.LogRecord) -> bool:
    # Lightning's "💡 Tip" lines advertise other products (litlogger, litmodels); they say nothing of the run
    return not str(record.msg).startswith("💡 Tip")


def _not_cuda_home(record: logging.LogRecord) -> bool:
    # torch's compiler looks for a CUDA toolkit even when it compiles for the CPU, and says so once
    return "No CUDA runtime is found" not in str(record.msg)


def _thread_failure(args: threading.ExceptHookArgs) -> None:
    # TensorBoard's writer thread dies with the traceback of a full disk; the main thread then fails to flush
    # with the same error, which the CLI reports in one paragraph
    failed = args.exc_value
    if isinstance(failed, OSError) and (failed.errno in NO_ROOM or failed.errno in NOT_WRITABLE):
        return
    _default_thread_hook(args)


def quiet_lightning() -> None:
    """Install the filters; each says why its message does not apply. Safe to call more than once."""
    threading.excepthook = _thread_failure
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_not_a_tip)
    logging.getLogger("torch.utils.cpp_extension").addFilter(_not_cuda_home)
    # Lightning's own _pytree.py builds a LeafSpec, which torch 2.14 deprecates: Lightning's to change, not ours
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    # the textbook trains without validation: with --data.val_size 0 the validation loader is empty on purpose
    warnings.filterwarnings("ignore", message="Total length of `list` across ranks is zero")
    # LightningCLI's own calls of jsonargparse APIs deprecated in jsonargparse 4.49 (attributed to Lightning's cli)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"lightning\.pytorch\.cli")
    # cli_main(args) is how the scripts, notebooks and tests run the CLI in-process: args replaces sys.argv on purpose
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended to run from within Python")
    # the model logs its metrics once per epoch, so the per-step logging interval never applies to it
    warnings.filterwarnings("ignore", message=r"The number of training batches \(\d+\) is smaller than the logging")
    # PredictionWriter places each answer by the positions its batch carries, not by the sampler's batch indices
    warnings.filterwarnings("ignore", message="Couldn't infer the batch indices fetched from your dataloader")
    # each run has a folder of its own (RunLogger), so a checkpoint restored for `test` or a resumed `fit` always
    # comes from another run's folder; that run's best-k bookkeeping is of no use to the new one
    warnings.filterwarnings("ignore", message="The dirpath has changed from")
    # MLflow's SQLite store (configs/loggers/mlflow.yaml) uses an SQLAlchemy loader that SQLAlchemy deprecates:
    # MLflow's to change, nothing a user of the overlay can do
    warnings.filterwarnings("ignore", message="The ``noload`` loader strategy is deprecated", module=r"mlflow\.")
