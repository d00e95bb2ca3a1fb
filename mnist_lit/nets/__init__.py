"""The networks a classifier can be given: plain ``nn.Module``s, no training logic.

Each takes the dataset's image shape and class count first (the classifier passes them), then its own
arguments, which a config sets under ``model.init_args.net``::

    net:
      class_path: mnist_lit.nets.LeNet5
      init_args: {channels: [32, 64]}

Adding a network is one module here (or anywhere importable) plus one YAML file: ``docs/api.md``.
"""

from mnist_lit.nets.lenet import LeNet5
from mnist_lit.nets.mlp import MLP
from mnist_lit.nets.standardize import Standardize

__all__ = ["MLP", "LeNet5", "Standardize"]
