"""Data: verified dataset files, the in-memory DataModule, and the user's own digits for `predict`.

Each name is imported when first used (``mnist_lit/lazy.py``): reading and preprocessing the user's
digits (``digit_inputs``, ``preprocess``) needs NumPy and Pillow only.
"""

from typing import TYPE_CHECKING

from mnist_lit.lazy import lazy_attributes

_WHERE = {
    "MNISTDataModule": "mnist_lit.data.datamodule",
    "to_model_input": "mnist_lit.data.datamodule",
    "DATASETS": "mnist_lit.data.registry",
    "DatasetInfo": "mnist_lit.data.registry",
    "dataset_info": "mnist_lit.data.registry",
    "ensure_files": "mnist_lit.data.datasets",
    "install_files": "mnist_lit.data.datasets",
    "load_split": "mnist_lit.data.datasets",
    "save_npy": "mnist_lit.data.datasets",
    "DigitInputs": "mnist_lit.data.digit_inputs",
    "from_array": "mnist_lit.data.digit_inputs",
    "from_pictures": "mnist_lit.data.digit_inputs",
    "read_digits": "mnist_lit.data.digit_inputs",
    "TensorBatchLoader": "mnist_lit.data.loader",
    "mnist_style": "mnist_lit.data.preprocess",
    "mnist_style_array": "mnist_lit.data.preprocess",
    "ensure_raw_files": "mnist_lit.data.raw_files",
    "install_raw_files": "mnist_lit.data.raw_files",
}
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
    "mnist_style_array",
    "read_digits",
    "save_npy",
    "to_model_input",
]
__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)

if TYPE_CHECKING:
    from mnist_lit.data.datamodule import MNISTDataModule, to_model_input
    from mnist_lit.data.datasets import ensure_files, install_files, load_split, save_npy
    from mnist_lit.data.digit_inputs import DigitInputs, from_array, from_pictures, read_digits
    from mnist_lit.data.loader import TensorBatchLoader
    from mnist_lit.data.preprocess import mnist_style, mnist_style_array
    from mnist_lit.data.raw_files import ensure_raw_files, install_raw_files
    from mnist_lit.data.registry import DATASETS, DatasetInfo, dataset_info
