"""Package attributes imported on first use, so importing a package costs only what is used.

``mnist_lit`` exports classes that need torch and Lightning beside functions that need neither; with the
attributes loaded lazily, a deployment that classifies with an ONNX model imports ``mnist_lit`` without
torch installed (PEP 562's module ``__getattr__``).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_attributes(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The package's ``__getattr__`` and ``__dir__``: ``where`` maps each exported name to its module."""
    namespace = import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(where[name]), name)
        namespace[name] = value  # found once; later look-ups are ordinary attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *where})

    return __getattr__, __dir__
