"""Where the project's data files live (task YAMLs, leaderboards, checkpoint list, caches).

The YAML registries sit at the repository top level (``tasks/``, ``leaderboards/``, ``checkpoints.yaml``)
so users can read and edit them. A built wheel carries a copy of them inside the package
(``allinone_bench/_bundled/``, written by ``setup.py``'s build step), so a non-editable install finds them
wherever it is run from. A source checkout (editable install, ``PYTHONPATH``) has no bundled copy and reads
the top-level files directly. Environment variables extend or replace each location.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
BUNDLED_DIR = PACKAGE_DIR / "_bundled"  # only in a built wheel / non-editable install


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else default


def registry_root() -> Path:
    """Folder holding ``tasks/``, ``leaderboards/`` and ``checkpoints.yaml``: the wheel's bundled copy when
    installed, else the repository top level (the bundled copy wins so that an unrelated ``tasks/`` folder
    in ``site-packages`` is never picked up)."""
    return BUNDLED_DIR if BUNDLED_DIR.is_dir() else PROJECT_ROOT


def builtin_tasks_dir() -> Path:
    """The task YAMLs shipped with the package (or the checkout's ``tasks/``)."""
    return registry_root() / "tasks"


def user_tasks_dirs() -> list[Path]:
    """``ALLINONE_BENCH_TASKS=dir1:dir2`` (``os.pathsep``-separated): extra task folders, earlier ones first."""
    value = os.environ.get("ALLINONE_BENCH_TASKS", "")
    return [Path(item).expanduser() for item in value.split(os.pathsep) if item.strip()]


def tasks_dirs() -> list[Path]:
    """Task search path: the user folders (in order), then the built-ins; a name found earlier wins."""
    return [*user_tasks_dirs(), builtin_tasks_dir()]


def tasks_dir() -> Path:
    """The built-in task folder (user folders from ``ALLINONE_BENCH_TASKS`` extend it: :func:`tasks_dirs`)."""
    return builtin_tasks_dir()


def leaderboards_dir() -> Path:
    """Directory of the paper's tables as data (override: ``ALLINONE_BENCH_LEADERBOARDS``)."""
    return _env_path("ALLINONE_BENCH_LEADERBOARDS", registry_root() / "leaderboards")


def checkpoints_file() -> Path:
    """The released-checkpoint list (override: ``ALLINONE_BENCH_CHECKPOINTS_FILE``)."""
    return _env_path("ALLINONE_BENCH_CHECKPOINTS_FILE", registry_root() / "checkpoints.yaml")


def cache_dir() -> Path:
    """Root of local caches: checkpoints, synthetic datasets (override: ``ALLINONE_BENCH_CACHE``)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "allinone-bench"
    return _env_path("ALLINONE_BENCH_CACHE", default)


def checkpoint_cache_dir() -> Path:
    """Where released checkpoints are expected and fetched to (override: ``ALLINONE_BENCH_CKPT_DIR``)."""
    return _env_path("ALLINONE_BENCH_CKPT_DIR", cache_dir() / "checkpoints")


def checkpoint_lock_file() -> Path:
    """Digests recorded by ``checkpoints fetch`` for releases whose sha256 is still null in the list."""
    return checkpoint_cache_dir() / "checkpoints.lock.yaml"


def synthetic_cache_dir() -> Path:
    """Where ``run`` without ``--data-root`` writes (once) the synthetic dataset of a task."""
    return cache_dir() / "synthetic"
