"""Small, reusable pieces between typed samples and batches: epoch-aware datasets, seeded rngs, device moves.

Randomness in data (which caption, which frames) comes from an rng seeded by (run seed, epoch, sample index),
never from global state or worker ids, so a resumed run or a run with another ``num_workers`` sees the same
examples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
import torch
from torch.utils.data import Dataset

T = TypeVar("T")


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from any printable parts (stable across processes, unlike ``hash``)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def stable_rng(*parts: object) -> np.random.Generator:
    """A numpy Generator seeded by :func:`stable_seed` of ``parts``."""
    return np.random.default_rng(stable_seed(*parts))


class EpochDataset(Dataset, Generic[T]):
    """A map-style dataset whose examples depend on the epoch, indexed by ``(epoch, index)`` pairs (what
    :class:`~allinone_bench.engine.loader.EpochSampler` yields) or by a plain index, which means epoch 0.

    The epoch comes with the index and is never stored on the dataset: DataLoader workers that outlive an epoch
    hold their own copy of the dataset, which a ``set_epoch`` in the main process would not reach.
    """

    def __getitem__(self, key: int | tuple[int, int]) -> T:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        return self.item(int(index), int(epoch))

    def item(self, index: int, epoch: int) -> T:
        """Example ``index`` as seen in ``epoch``."""
        raise NotImplementedError


class SampleDataset(EpochDataset[dict[str, Any]], Generic[T]):
    """``fn(sample, rng)`` over ``samples`` with ``rng = stable_rng(seed, epoch, index)``."""

    def __init__(
        self, samples: Sequence[T], fn: Callable[[T, np.random.Generator], dict[str, Any]], *, seed: int
    ) -> None:
        self.samples = list(samples)
        self.fn = fn
        self.seed = seed

    def __len__(self) -> int:
        return len(self.samples)

    def item(self, index: int, epoch: int) -> dict[str, Any]:
        return self.fn(self.samples[index], stable_rng(self.seed, epoch, index))


class ItemDataset(Dataset):
    """``(key, prepare(item))`` over a list of items; used by the evaluator's sharded ``map``."""

    def __init__(self, items: Sequence[Any], keys: Sequence[str], prepare: Callable[[Any], dict[str, Any]]) -> None:
        self.items = list(items)
        self.keys = list(keys)
        self.prepare = prepare

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[str, dict[str, Any]]:
        return self.keys[index], self.prepare(self.items[index])


def to_device(obj: Any, device: torch.device | str, non_blocking: bool = True) -> Any:
    """Move every tensor in a nested dict/list/tuple to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, dict):
        return {k: to_device(v, device, non_blocking) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device, non_blocking) for v in obj)
    return obj


def to_cpu(obj: Any) -> Any:
    """Detach and move every tensor in a nested structure to CPU (float32 for half types, so it pickles small
    and compares exactly across devices)."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        t = t.float() if t.dtype in (torch.float16, torch.bfloat16) else t
        # A row of a batch is a view of the whole batch's storage: copy it so caches store only the row.
        if t.untyped_storage().nbytes() > t.numel() * t.element_size() or t.data_ptr() == obj.data_ptr():
            t = t.clone()
        return t
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def batch_size_of(batch: Any) -> int:
    """Leading dimension of the first tensor found in ``batch`` (0 if none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    if isinstance(batch, dict):
        for v in batch.values():
            n = batch_size_of(v)
            if n:
                return n
    if isinstance(batch, (list, tuple)) and batch:
        return batch_size_of(batch[0]) if isinstance(batch[0], (torch.Tensor, dict)) else len(batch)
    return 0
