"""Data: verified dataset files, the in-memory DataModule, and the user's own digits for `predict`."""

from mnist_lit.data.datamodule import MNISTDataModule, to_model_input
from mnist_lit.data.datasets import DATASETS, DatasetInfo, dataset_info, ensure_files, install_files, load_split
from mnist_lit.data.digit_inputs import DigitInputs, from_array, from_pictures, read_digits
from mnist_lit.data.loader import TensorBatchLoader
from mnist_lit.data.preprocess import mnist_style
from mnist_lit.data.raw_files import ensure_raw_files, install_raw_files

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "DigitInputs",
    "MNISTDataModule",
    "TensorBatchLoader",
    "dataset_info",
    "ensure_files",
    "ensure_raw_files",
    "from_array",
    "from_pictures",
    "install_files",
    "install_raw_files",
    "load_split",
    "mnist_style",
    "read_digits",
    "to_model_input",
]
