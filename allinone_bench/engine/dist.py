"""Plain ``torch.distributed`` helpers: works under ``torchrun``, ``accelerate launch`` or SLURM ``srun``.

Every helper degrades to the single-process answer when no process group is up, so library code calls them
unconditionally. The process group is created only when ``WORLD_SIZE > 1`` (env:// rendezvous) with a
generous timeout, because rank 0 may spend a long time scoring a large retrieval matrix while the others wait
(NCCL watchdog timeouts in long evaluations are a classic, lm-eval PR #1404).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist

from allinone_bench.errors import ConfigError

DEFAULT_TIMEOUT = datetime.timedelta(hours=2)


def env_world_size() -> int:
    """``WORLD_SIZE`` from the launcher's environment (1 when launched directly)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def get_local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main_process() -> bool:
    return get_rank() == 0


def select_device(requested: str | None = None) -> torch.device:
    """The device of this process: ``requested`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``) or the best available.

    Under a multi-process launch on CUDA each process takes ``cuda:LOCAL_RANK``.
    """
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError as err:
            raise ConfigError(f"--device {requested!r}: not a torch device ({err})") from err
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ConfigError(f"--device {requested}: CUDA is not available on this machine")
            if device.index is None:
                device = torch.device("cuda", get_local_rank() % max(torch.cuda.device_count(), 1))
        return device
    if torch.cuda.is_available():
        return torch.device("cuda", get_local_rank() % torch.cuda.device_count())
    return torch.device("cpu")


def init_distributed(device: torch.device, timeout: datetime.timedelta = DEFAULT_TIMEOUT) -> bool:
    """Create the process group if the launcher asked for several processes; returns whether one is up.

    NCCL on CUDA, gloo otherwise; the CUDA device is set first (object collectives need it).
    """
    if is_initialized():
        return True
    if env_world_size() <= 1:
        return False
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, init_method="env://", timeout=timeout)
    return True


def destroy_distributed() -> None:
    if is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if is_initialized() and get_world_size() > 1:
        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` (``[obj]`` without a process group)."""
    if not is_initialized() or get_world_size() == 1:
        return [obj]
    out: list[Any] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` of rank ``src`` on every rank."""
    if not is_initialized() or get_world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce_mean(value: float) -> float:
    """Mean of a Python float over ranks (for logging)."""
    if not is_initialized() or get_world_size() == 1:
        return value
    backend = dist.get_backend()
    device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / get_world_size()


@contextmanager
def main_process_first() -> Iterator[None]:
    """Rank 0 runs the body first (e.g. writes a cache), the others after it finished (and then read it)."""
    if not is_main_process():
        barrier()
    try:
        yield
    finally:
        if is_main_process():
            barrier()


def shard_indices(n: int, rank: int | None = None, world_size: int | None = None) -> list[int]:
    """Indices ``rank, rank + W, ...`` of ``range(n)``: disjoint, covering, no padding duplicates."""
    r = get_rank() if rank is None else rank
    w = get_world_size() if world_size is None else world_size
    return list(range(r, n, w))
