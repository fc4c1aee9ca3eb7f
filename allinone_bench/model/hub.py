"""The released checkpoints (``checkpoints.yaml``) and ``--checkpoint NAME|PATH`` resolution. Nothing downloads
here: ``allinone-bench checkpoints fetch`` (:mod:`allinone_bench.model.fetch`) is the only way in.

A path is used as is. A name is looked up in :func:`allinone_bench.paths.checkpoint_cache_dir`; if the file
is not there the error gives the fetch command and where the file goes. The digest in ``checkpoints.yaml``,
else the one ``fetch`` recorded in the local lock file, is verified.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from allinone_bench import paths
from allinone_bench.errors import CheckpointError
from allinone_bench.model import lockfile
from allinone_bench.validation import describe_error
from allinone_bench.yamlfile import read_yaml

CHECKPOINT_SUFFIXES: tuple[str, ...] = (".ckpt", ".pt", ".pth", ".bin", ".safetensors")


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (released checkpoints are up to ~1.5 GB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class CheckpointEntry(BaseModel):
    """One released checkpoint as listed in ``checkpoints.yaml`` (``urls``: tried in order by ``fetch``);
    validated, so an unknown key or a malformed ``sha256`` is an error naming the file, the entry and the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: NonEmpty
    variant: NonEmpty
    urls: Annotated[tuple[NonEmpty, ...], Field(min_length=1)]
    file: NonEmpty
    params: str = ""
    pretraining_data: tuple[str, ...] = ()
    sha256: Sha256 | None = None
    train_log: str | None = None
    hparams: str | None = None
    notes: str = ""
    aliases: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _one_url(cls, data: Any) -> Any:
        """``url:`` is the older spelling of a one-item ``urls`` list."""
        if isinstance(data, dict) and "url" in data:
            if "urls" in data:
                raise ValueError("give urls or url, not both")
            data = {**{k: v for k, v in data.items() if k != "url"}, "urls": [data["url"]]}
        return data

    @field_validator("params", mode="before")
    @classmethod
    def _params_text(cls, value: Any) -> str:
        return "" if value is None else str(value)  # "86M" or a bare number in the YAML

    @field_validator("pretraining_data", "aliases", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    @property
    def url(self) -> str:
        """The primary URL (the official Google Drive link)."""
        return self.urls[0]

    def local_path(self, cache_dir: Path | None = None) -> Path:
        return (cache_dir or paths.checkpoint_cache_dir()) / self.file

    def expected_sha256(self, cache_dir: Path | None = None) -> tuple[str | None, str]:
        """The digest to verify against and where it comes from: ``checkpoints.yaml``, else the lock file."""
        if self.sha256:
            return self.sha256.lower(), "checkpoints.yaml"
        locked = lockfile.read_lock(lockfile.lock_path(cache_dir)).get(self.name)
        if locked is not None:
            return locked.sha256, "lock file"
        return None, "none recorded"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Path) -> CheckpointEntry:
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            where = f"{source}: checkpoint entry {data.get('name', '?')!r}:"
            raise CheckpointError(describe_error(err, cls, where)) from None


def load_registry(path: Path | None = None) -> dict[str, CheckpointEntry]:
    """Name -> entry from ``checkpoints.yaml`` (aliases included as extra keys)."""
    source = path or paths.checkpoints_file()
    raw = read_yaml(source, "checkpoint list", CheckpointError)
    items = raw.get("checkpoints") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise CheckpointError(f"{source}: expected a top-level 'checkpoints:' list")
    registry: dict[str, CheckpointEntry] = {}
    for item in items:
        if not isinstance(item, dict):
            raise CheckpointError(f"{source}: every checkpoint entry must be a mapping, got {item!r}")
        entry = CheckpointEntry.from_dict(item, Path(source))
        for key in (entry.name, *entry.aliases):
            if key in registry:
                raise CheckpointError(f"{source}: checkpoint name {key!r} listed twice")
            registry[key] = entry
    return registry


def list_checkpoints(path: Path | None = None) -> list[CheckpointEntry]:
    """The released checkpoints in file order (aliases not repeated)."""
    seen: dict[str, CheckpointEntry] = {}
    for entry in load_registry(path).values():
        seen.setdefault(entry.name, entry)
    return list(seen.values())


def looks_like_path(value: str) -> bool:
    """A ``--checkpoint`` value is a path if it exists, has a directory part or a checkpoint suffix."""
    p = Path(value).expanduser()
    return p.exists() or "/" in value or "\\" in value or p.suffix.lower() in CHECKPOINT_SUFFIXES


@dataclass
class ResolvedCheckpoint:
    """Where a ``--checkpoint`` value points, and what is known about it."""

    path: Path
    entry: CheckpointEntry | None = None
    sha256: str | None = None  # computed hash (only when verification ran)
    verified: bool = False  # True when the recorded sha256 was checked and matched
    verified_against: str = ""  # "checkpoints.yaml" or "lock file"


def resolve_checkpoint(name_or_path: str | Path, *, cache_dir: Path | None = None, verify: bool = True,
                       registry_path: Path | None = None) -> ResolvedCheckpoint:
    """Turn ``NAME|PATH`` into a file on disk, or raise :class:`CheckpointError` saying how to get it."""
    value = str(name_or_path)
    registry: dict[str, CheckpointEntry] | None = None
    if isinstance(name_or_path, Path) or looks_like_path(value):
        path = Path(value).expanduser()
        if path.exists():
            return ResolvedCheckpoint(path=path)
        # a bare released file name ("all-in-one-base.ckpt") means that release, found in the cache folder
        registry = load_registry(registry_path) if path.name == value else {}
        by_file = {e.file: e.name for e in registry.values()}
        if value not in by_file:
            raise CheckpointError(f"checkpoint file not found: {path}")
        value = by_file[value]
    registry = registry or load_registry(registry_path)
    entry = registry.get(value) or registry.get(value.lower())
    if entry is None:
        names = sorted({e.name for e in registry.values()})
        raise CheckpointError(f"unknown checkpoint {value!r}: not a file and not one of {names}")
    path = entry.local_path(cache_dir)
    if not path.exists():
        raise CheckpointError(
            f"checkpoint {entry.name!r} is not on disk: expected {path}. Run `allinone-bench checkpoints fetch "
            f"{entry.name}` (downloads from {entry.url}), or download it yourself and save it as {path} (or set "
            f"ALLINONE_BENCH_CKPT_DIR to the folder holding {entry.file}); nothing is downloaded automatically")
    resolved = ResolvedCheckpoint(path=path, entry=entry)
    expected, source = entry.expected_sha256(cache_dir)
    if verify and expected:
        resolved.sha256 = sha256_file(path)
        if resolved.sha256 != expected:
            raise CheckpointError(
                f"checkpoint {entry.name!r} at {path} has sha256 {resolved.sha256}, but the {source} records "
                f"{expected}: the file is corrupt, truncated or a different release")
        resolved.verified, resolved.verified_against = True, source
    return resolved


def checkpoint_status(entry: CheckpointEntry, *, cache_dir: Path | None = None, verify: bool = False
                      ) -> dict[str, Any]:
    """Row for ``allinone-bench checkpoints``: local path, presence and sha256 state."""
    path = entry.local_path(cache_dir)
    present = path.is_file()
    expected, source = entry.expected_sha256(cache_dir)
    where = "" if source == "checkpoints.yaml" else f" in {source}"
    if not expected:
        sha_status = "not recorded"
    elif not present:
        sha_status = f"recorded{where}"
    elif verify:
        sha_status = "ok" if sha256_file(path) == expected else "MISMATCH"
    else:
        sha_status = f"recorded{where} (not checked)"
    return {
        "name": entry.name,
        "variant": entry.variant,
        "params": entry.params,
        "pretraining_data": "+".join(entry.pretraining_data),
        "path": str(path),
        "present": present,
        "sha256": sha_status,
        "url": entry.url,
        "urls": list(entry.urls),
    }
