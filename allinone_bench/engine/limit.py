"""``run --limit N``: smoke runs on a deterministic subset of every split (as lm-eval's ``--limit``).

The subset is the first ``N`` samples in natural order of their stable id (``video2`` before ``video10``), or,
with a seed, a seeded random sample of ``N``: the same samples on every rank, every run and every resume, and
independent of the order of the annotation file. Kept samples stay in file order, so nothing else changes.
A limited run is marked in results.json (``n_samples.limit``) and left out of paper tables and plots unless
asked for: its numbers are not comparable to a full run's.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from allinone_bench.data.types import DatasetSplit
from allinone_bench.errors import ConfigError


def natural_key(text: str) -> list[str | int]:
    """Sort key comparing digit runs as numbers: ``clip2`` < ``clip10``."""
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", text)]


def check_limit(limit: int | None, seed: int | None) -> None:
    """Reject ``--limit`` values that cannot mean a subset (raises :class:`ConfigError`)."""
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be a positive number of samples, got {limit}")
    if seed is not None and limit is None:
        raise ConfigError("--limit-seed needs --limit N (the seed picks which N samples)")


def limit_split(split: DatasetSplit, limit: int | None, seed: int | None = None) -> DatasetSplit:
    """``split`` restricted to ``limit`` samples (see the module docstring); unchanged when ``limit`` is None or
    not smaller than the split."""
    check_limit(limit, seed)
    if limit is None or limit >= len(split.samples):
        return split
    order = sorted(range(len(split.samples)), key=lambda i: (natural_key(str(split.samples[i].id)), i))
    chosen = order[:limit] if seed is None else random.Random(seed).sample(order, limit)
    keep = sorted(chosen)
    return replace(split, samples=[split.samples[i] for i in keep])


def describe_limit(limit: int | None, seed: int | None) -> str:
    """How the subset was drawn, for tables and warnings."""
    if limit is None:
        return "all samples"
    return f"first {limit} by id" if seed is None else f"{limit} sampled with seed {seed}"
