"""DataLoader settings in one place: the worker count (``num_workers: auto``), the keyword arguments every
loader of the engine is built with, and a meter of the time spent blocked on the next batch (data wait).

Why ``auto`` is what it is: torch warns ("This DataLoader will create N worker processes ... suggested max number
of worker") when a loader has more workers than the CPUs the process may run on, and under torchrun every local
rank starts its own workers on the same CPUs. So ``auto`` takes the CPUs this process may use (its affinity mask,
which a container or ``taskset`` narrows, else the machine's count), divides them among the local ranks
(``LOCAL_WORLD_SIZE``), keeps one for the rank's own forward/backward, and caps the result: past
:data:`MAX_AUTO_WORKERS` decoding workers a loader gains little and costs memory. Worker counts never change a
number (batches are seeded from the epoch and index, never from worker ids).

Training builds one loader per run with persistent workers. Its examples depend on the epoch, and workers keep
their own copy of the dataset, so the epoch travels with each index: :class:`EpochSampler` yields
``(epoch, index)`` pairs (its ``set_epoch`` runs in the main process, where the sampler lives) and
:class:`~allinone_bench.tasks.batching.EpochDataset` reads the epoch from the pair, never from its own state.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch.utils.data import DistributedSampler, Sampler

from allinone_bench.engine.seed import seed_for
from allinone_bench.errors import ConfigError

T = TypeVar("T")

#: The most workers ``auto`` gives one rank.
MAX_AUTO_WORKERS = 8
#: Batches each worker loads ahead (torch's default is 2; decoding video is bursty).
PREFETCH_FACTOR = 4


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask where the OS has one, else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def local_world_size() -> int:
    """Processes on this node sharing its CPUs (torchrun's ``LOCAL_WORLD_SIZE``; 1 outside torchrun)."""
    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        return 1


def resolve_workers(setting: int | str, *, cpus: int | None = None, local_world: int | None = None,
                    cap: int = MAX_AUTO_WORKERS) -> int:
    """``num_workers`` as an integer: an explicit count as is, ``"auto"`` as
    ``min(cap, cpus // local_world - 1)`` (at least 0), which never exceeds the CPUs torch checks against."""
    if isinstance(setting, bool) or not (setting == "auto" or isinstance(setting, int)):
        raise ConfigError(f"num_workers: expected a non-negative integer or 'auto', got {setting!r}")
    if isinstance(setting, int):
        if setting < 0:
            raise ConfigError(f"num_workers: expected a non-negative integer or 'auto', got {setting}")
        return setting
    cpus = available_cpus() if cpus is None else cpus
    local_world = local_world_size() if local_world is None else local_world
    return max(0, min(cap, cpus // max(1, local_world) - 1))


def loader_kwargs(workers: int, device: torch.device, *, persistent: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``torch.utils.data.DataLoader`` shared by every loader of the engine: pinned memory
    only on CUDA (it only speeds host-to-GPU copies), and with workers a prefetch depth and, where the loader is
    iterated more than once (``persistent``), workers that outlive an epoch."""
    kwargs: dict[str, Any] = {"num_workers": workers, "pin_memory": device.type == "cuda"}
    if workers > 0:
        kwargs.update(persistent_workers=persistent, prefetch_factor=PREFETCH_FACTOR)
    return kwargs


class EpochSampler(Sampler[tuple[int, int]]):
    """A shuffled order of ``dataset``'s indices per epoch, yielded as ``(epoch, index)`` pairs.

    One process: ``torch.randperm`` seeded by ``seed_for(seed, "sampler", epoch)`` (the order
    ``RandomSampler(generator=...)`` draws from that seed). Several ranks (``world > 1``): a
    ``DistributedSampler`` seeded by ``seed_for(seed, "sampler")`` with its ``set_epoch``.
    """

    def __init__(self, dataset: Sized, *, seed: int, world: int = 1, rank: int = 0) -> None:
        self.n = len(dataset)
        self.seed = seed
        self.epoch = 0
        self.ranks = (DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True,  # type: ignore[arg-type]
                                         seed=seed_for(seed, "sampler"), drop_last=False) if world > 1 else None)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.ranks is not None:
            self.ranks.set_epoch(epoch)

    def order(self) -> list[int]:
        """This epoch's indices (this rank's share of them)."""
        if self.ranks is not None:
            return list(self.ranks)
        generator = torch.Generator().manual_seed(seed_for(self.seed, "sampler", self.epoch))
        return torch.randperm(self.n, generator=generator).tolist()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        return iter([(epoch, i) for i in self.order()])

    def __len__(self) -> int:
        return len(self.ranks) if self.ranks is not None else self.n


@dataclass
class WaitMeter:
    """Seconds spent blocked on the next batch (``wait_s``) by the iterators made with :meth:`iterate`."""

    wait_s: float = 0.0

    def iterate(self, loader: Iterable[T]) -> Iterator[T]:
        """``loader``'s batches, adding the time each ``next()`` took to :attr:`wait_s` (starting the workers
        included: the training loop is blocked on that too)."""
        start = time.perf_counter()
        it = iter(loader)
        while True:
            try:
                batch = next(it)
            except StopIteration:
                self.wait_s += time.perf_counter() - start
                return
            self.wait_s += time.perf_counter() - start
            yield batch
            start = time.perf_counter()


def share(part: float, whole: float) -> float | None:
    """``part / whole`` rounded to 4 digits; None when ``whole`` is not positive."""
    return round(part / whole, 4) if whole > 0 else None


def data_wait_timing(history: list[dict[str, Any]], eval_wait_s: float, eval_s: float) -> dict[str, Any]:
    """The ``results.timing`` data-wait fields: finetune totals over the epochs in ``history`` (each with
    ``data_wait_s`` and ``time_s``; mid-epoch validation entries have neither), eval from the test evaluation."""
    epochs = [h for h in history if "data_wait_s" in h]
    wait = sum(h["data_wait_s"] for h in epochs)
    return {"finetune_data_wait_s": round(wait, 4),
            "finetune_data_wait_share": share(wait, sum(h["time_s"] for h in epochs)) if epochs else None,
            "eval_data_wait_s": round(eval_wait_s, 4), "eval_data_wait_share": share(eval_wait_s, eval_s)}
