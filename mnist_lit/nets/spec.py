"""A network as plain data, ``{"class_path": ..., "init_args": {...}}``: what a config writes and a checkpoint keeps.

A classifier is given a *factory* (a class, or ``functools.partial`` of one, that takes the image shape
and the class count), the form the CLI builds from ``class_path`` and ``init_args``. Its spec, as plain
data, is what the checkpoint records, so it loads with ``weights_only=True`` and rebuilds the same network.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from typing import Any

from torch import Tensor, nn

from mnist_lit.errors import ArgumentError

NetFactory = Callable[[Sequence[int], int], nn.Module]
MLP_PATH = "mnist_lit.nets.MLP"


def net_spec(net: NetFactory | Mapping | None, hidden_sizes: Sequence[int] | None = None) -> dict[str, Any]:
    """The network as plain data: from a spec already (a config's, a checkpoint's), a class or a partial of
    one, or, when ``net`` is None, the MLP of ``hidden_sizes`` (the textbook's, ``[64]``, by default)."""
    if net is None:
        widths = (64,) if hidden_sizes is None else hidden_sizes
        return {"class_path": MLP_PATH, "init_args": {"hidden_sizes": list(widths)}}
    if isinstance(net, Mapping):
        return {"class_path": str(net["class_path"]), "init_args": plain(dict(net.get("init_args") or {}))}
    if isinstance(net, functools.partial):
        # partial(cls, **init_args), or jsonargparse's partial(instantiate, instantiator, cls, **init_args)
        classes = [part for part in (net.func, *net.args) if isinstance(part, type) and issubclass(part, nn.Module)]
        if len(classes) == 1:
            return {"class_path": _path_of(classes[0]), "init_args": plain(dict(net.keywords))}
    if isinstance(net, type) and issubclass(net, nn.Module):
        return {"class_path": _path_of(net), "init_args": {}}
    raise ArgumentError(
        f"net must be a network class (or functools.partial of one, with keyword arguments) that takes the image "
        f"shape and the number of classes, such as mnist_lit.nets.MLP; got {net!r}. A checkpoint records the "
        "class and its arguments, so it can build the same network again."
    )


def build_net(spec: Mapping[str, Any], input_shape: Sequence[int], num_classes: int) -> nn.Module:
    """The network ``spec`` describes, for images of ``input_shape`` and ``num_classes`` classes."""
    cls = resolve(spec["class_path"])
    try:
        return cls(tuple(input_shape), num_classes, **spec.get("init_args", {}))
    except (TypeError, ValueError) as err:
        raise ArgumentError(
            f"net {spec['class_path']} cannot be built with {dict(spec.get('init_args', {}))} ({err}). A network "
            "class takes the image shape and the number of classes first, then the init_args given."
        ) from err


def resolve(class_path: str) -> type[nn.Module]:
    """The class a dotted path names (``mnist_lit.nets.MLP``), if it is a network."""
    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(import_module(module), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ArgumentError(f"net names {class_path}, which cannot be imported ({err}).") from err
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ArgumentError(f"net names {class_path}, which is not a torch.nn.Module class.")
    return cls


def same_net(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Whether two specs build the same network: the same class (however its path is spelled), the same arguments."""
    return resolve(first["class_path"]) is resolve(second["class_path"]) and plain(
        dict(first.get("init_args", {}))
    ) == plain(dict(second.get("init_args", {})))


def describe(spec: Mapping[str, Any]) -> str:
    """``MLP(hidden_sizes=[64])``: a spec in a few words, for messages and cards."""
    arguments = ", ".join(f"{key}={value}" for key, value in spec.get("init_args", {}).items())
    return f"{spec['class_path'].rpartition('.')[2]}({arguments})"


def plain(value: Any) -> Any:
    """Tuples as lists, recursively, so that specs compare equal and serialise as YAML and JSON do."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def legacy_state_dict(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """An earlier version's MLP weights under today's names: its layers now follow an ``nn.Flatten`` at 0."""
    return {
        re.sub(r"^net\.(\d+)\.", lambda match: f"net.{int(match.group(1)) + 1}.", key): value
        for key, value in state_dict.items()
    }


def _path_of(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
