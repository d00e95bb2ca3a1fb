"""Collecting per-process results on every process, for callbacks that write one file for all of them."""

from __future__ import annotations

from typing import TypeVar

import torch.distributed as dist

T = TypeVar("T")


def gather_objects(obj: T) -> list[T]:
    """Every process's ``obj``, in rank order; ``[obj]`` in a single process.

    A collective call: under DDP every process must make it. Move tensors to the CPU first, so they
    unpickle on any process.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [obj]
    gathered: list[T] = [None] * dist.get_world_size()  # type: ignore[list-item]
    dist.all_gather_object(gathered, obj)
    return gathered
