"""The local checkpoint lock file: digests that ``checkpoints fetch`` recorded for releases whose sha256 is still
null in ``checkpoints.yaml``.

The first download of such a release records its sha256 here (and prints it, so it can be added to
``checkpoints.yaml``); later downloads and ``--checkpoint NAME`` loads are verified against it. It lives in the
checkpoint folder (``ALLINONE_BENCH_CKPT_DIR``) because the list itself may sit read-only inside a wheel.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from allinone_bench import paths
from allinone_bench.atomic import atomic_write_text
from allinone_bench.errors import CheckpointError

LOCK_FILE_NAME = "checkpoints.lock.yaml"


class LockEntry(BaseModel):
    """One recorded download."""

    model_config = ConfigDict(extra="forbid")

    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int
    url: str
    recorded: str  # ISO time of the first download


class LockFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    checkpoints: dict[str, LockEntry] = Field(default_factory=dict)


def lock_path(cache_dir: Path | None = None) -> Path:
    return (cache_dir or paths.checkpoint_cache_dir()) / LOCK_FILE_NAME


def read_lock(path: Path | None = None) -> dict[str, LockEntry]:
    """Name -> recorded entry ({} when there is no lock file yet)."""
    path = path or lock_path()
    if not path.is_file():
        return {}
    try:
        return LockFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {}).checkpoints
    except (yaml.YAMLError, ValidationError) as exc:
        raise CheckpointError(f"{path}: not a valid checkpoint lock file ({exc.__class__.__name__}: "
                              f"{str(exc).splitlines()[0]}); fix or delete it") from exc


def record(name: str, *, file: Path, sha256: str, url: str, path: Path | None = None) -> Path:
    """Add (or replace) ``name``'s digest and write the lock file atomically; returns its path."""
    path = path or lock_path(file.parent)
    entries = read_lock(path)
    entries[name] = LockEntry(file=file.name, sha256=sha256, size=file.stat().st_size, url=url,
                              recorded=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    text = ("# Written by `allinone-bench checkpoints fetch`: sha256 of releases whose checkpoints.yaml entry has\n"
            "# none yet. Copy a digest into checkpoints.yaml to make it official.\n")
    text += yaml.safe_dump(LockFile(checkpoints=entries).model_dump(), sort_keys=False)
    atomic_write_text(path, text)
    return path
