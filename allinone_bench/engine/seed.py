"""Seed control. One run seed drives model init, data order and per-epoch randomness.

Instead of saving and restoring every RNG state, the engine reseeds at every epoch boundary from
``(seed, epoch)``: an interrupted run resumed at epoch ``e`` draws exactly what the uninterrupted run drew,
whatever the world size or number of loader workers.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from allinone_bench.tasks.batching import stable_seed


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices)."""
    seed = int(seed) % (2**63)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed % (2**32)))


def seed_for(*parts: object) -> int:
    """A derived seed (e.g. ``seed_for(run_seed, "epoch", 3)``), stable across processes."""
    return stable_seed(*parts) % (2**31)


def reseed(*parts: object) -> int:
    """:func:`seed_everything` with a derived seed; returns it."""
    seed = seed_for(*parts)
    seed_everything(seed)
    return seed


def worker_init_fn(worker_id: int) -> None:
    """DataLoader workers: numpy/random seeded from torch's per-worker seed (torch seeds itself)."""
    base = torch.initial_seed() % (2**32)
    np.random.seed((base + worker_id) % (2**32))
    random.seed(base + worker_id)

