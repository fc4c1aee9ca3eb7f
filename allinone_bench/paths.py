"""Where the project's data files live (task YAMLs, leaderboards, checkpoint list, caches).

The YAML registries sit at the repository top level (``tasks/``, ``leaderboards/``, ``checkpoints.yaml``)
so users can read and edit them; the package finds them next to itself (editable install) unless an
environment variable points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else default


def tasks_dir() -> Path:
    """Directory of task YAMLs (override: ``ALLINONE_BENCH_TASKS``)."""
    return _env_path("ALLINONE_BENCH_TASKS", PROJECT_ROOT / "tasks")


def leaderboards_dir() -> Path:
    """Directory of the paper's tables as data (override: ``ALLINONE_BENCH_LEADERBOARDS``)."""
    return _env_path("ALLINONE_BENCH_LEADERBOARDS", PROJECT_ROOT / "leaderboards")


def checkpoints_file() -> Path:
    """The released-checkpoint list (override: ``ALLINONE_BENCH_CHECKPOINTS_FILE``)."""
    return _env_path("ALLINONE_BENCH_CHECKPOINTS_FILE", PROJECT_ROOT / "checkpoints.yaml")


def cache_dir() -> Path:
    """Root of local caches: checkpoints, synthetic datasets (override: ``ALLINONE_BENCH_CACHE``)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "allinone-bench"
    return _env_path("ALLINONE_BENCH_CACHE", default)


def checkpoint_cache_dir() -> Path:
    """Where released checkpoints are expected (override: ``ALLINONE_BENCH_CKPT_DIR``)."""
    return _env_path("ALLINONE_BENCH_CKPT_DIR", cache_dir() / "checkpoints")


def synthetic_cache_dir() -> Path:
    """Where ``run`` without ``--data-root`` writes (once) the synthetic dataset of a task."""
    return cache_dir() / "synthetic"
