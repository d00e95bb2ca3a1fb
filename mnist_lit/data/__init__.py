"""Data: verified MNIST files and the in-memory DataModule."""

from mnist_lit.data.datamodule import MNISTDataModule, load_split, to_model_input
from mnist_lit.data.loader import TensorBatchLoader
from mnist_lit.data.raw_files import ensure_raw_files, install_raw_files

__all__ = [
    "MNISTDataModule",
    "TensorBatchLoader",
    "ensure_raw_files",
    "install_raw_files",
    "load_split",
    "to_model_input",
]
