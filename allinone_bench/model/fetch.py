"""``allinone-bench checkpoints fetch`` and ``checkpoints verify``: get the released checkpoints, checked.

pooch does the cache bookkeeping: it downloads to a temporary file beside the target, checks the sha256, moves
the file into place and deletes it on a mismatch. gdown is its downloader: it performs Google Drive's
confirm-token handshake for large files (the "can't scan this file for viruses" page), draws a progress bar and
resumes an interrupted transfer with an HTTP Range request. The partial file of each URL lives in its own folder
(``.partial/<url hash>/``), so a rerun resumes it and bytes of two mirrors are never spliced together.

An entry may list several URLs (Google Drive first, then mirrors a user adds); they are tried in order. Where
``checkpoints.yaml`` has no sha256 yet, the first download records its digest in the lock file
(:mod:`allinone_bench.model.lockfile`) and later downloads are verified against it. This module is only ever
called by the ``fetch`` command: nothing downloads implicitly.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gdown
import pooch
from gdown.parse_url import parse_url

from allinone_bench import paths
from allinone_bench.errors import CheckpointError
from allinone_bench.model import lockfile
from allinone_bench.model.hub import CheckpointEntry, sha256_file

Log = Callable[[str], None]


class DownloadFailed(CheckpointError):
    """Every URL of a checkpoint failed (network, Drive refusal or sha256 mismatch); the message lists each."""


@dataclass
class FetchResult:
    name: str
    path: Path
    sha256: str | None
    status: str  # "downloaded" | "present"
    url: str | None = None  # the URL that worked (None: the file was already there)
    verified_against: str = ""  # "checkpoints.yaml" | "lock file" | "" (nothing to check against)
    recorded_in: Path | None = None  # the lock file, when this download recorded the digest


def drive_download_url(url: str) -> str:
    """A Drive "view" link as gdown's direct form (``uc?id=``), which every gdown version handshakes;
    other URLs unchanged."""
    file_id, _ = parse_url(url)
    return f"https://drive.google.com/uc?id={file_id}" if file_id else url


def partial_dir(cache_dir: Path, url: str) -> Path:
    """Where the interrupted transfer from ``url`` waits to be resumed."""
    return cache_dir / ".partial" / hashlib.sha1(url.encode()).hexdigest()[:16]


class GdownDownloader:
    """A pooch downloader backed by gdown (Drive handshake, progress bar, resumable transfer).

    gdown writes ``<partial>/<file>`` (keeping ``<file>XXXXXXXX.part`` between attempts); the finished file is
    then moved onto the temporary path pooch verifies.
    """

    def __init__(self, partial: Path, file_name: str, *, quiet: bool = False) -> None:
        self.partial = partial
        self.file_name = file_name
        self.quiet = quiet

    def __call__(self, url: str, output_file: str, pooch_obj: Any, check_only: bool = False) -> None:
        if check_only:
            raise NotImplementedError("availability checks are not used")
        self.partial.mkdir(parents=True, exist_ok=True)
        done = self.partial / self.file_name
        gdown.download(drive_download_url(url), output=str(done), quiet=self.quiet, resume=True, use_cookies=False)
        os.replace(done, output_file)


def fetch_checkpoint(entry: CheckpointEntry, *, cache_dir: Path | None = None, quiet: bool = False,
                     log: Log = print) -> FetchResult:
    """Make ``entry``'s file present and verified in the checkpoint folder; raise :class:`DownloadFailed`."""
    cache = cache_dir or paths.checkpoint_cache_dir()
    target = entry.local_path(cache)
    expected, source = entry.expected_sha256(cache)
    if target.is_file():
        digest = sha256_file(target)
        if expected is None or digest == expected:
            return FetchResult(entry.name, target, digest, "present", verified_against=source if expected else "")
        log(f"{target}: sha256 {digest} does not match the {source} ({expected}); downloading it again")
        target.unlink()
    errors: list[str] = []
    for url in entry.urls:
        log(f"{entry.name}: downloading {url}")
        try:
            _retrieve(url, entry.file, cache, expected, quiet)
        except Exception as exc:  # noqa: BLE001 - any failure of one URL means: try the next one
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            errors.append(f"{url}: {type(exc).__name__}: {first}")
            log(f"{entry.name}: {errors[-1]}")
            continue
        if expected is not None:
            return FetchResult(entry.name, target, expected, "downloaded", url, verified_against=source)
        digest = sha256_file(target)
        lock = lockfile.record(entry.name, file=target, sha256=digest, url=url, path=lockfile.lock_path(cache))
        log(f"{entry.name}: sha256 {digest} (none was recorded; written to {lock}; add it to checkpoints.yaml "
            "to make it official)")
        return FetchResult(entry.name, target, digest, "downloaded", url, recorded_in=lock)
    raise DownloadFailed(f"checkpoint {entry.name!r}: every URL failed ({'; '.join(errors)}); partial downloads "
                         f"are kept under {cache / '.partial'} and a rerun resumes them")


def _retrieve(url: str, file_name: str, cache: Path, expected: str | None, quiet: bool) -> None:
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # our own lines say what happens; pooch's suggest pooch.retrieve arguments
    try:
        pooch.retrieve(url, known_hash=f"sha256:{expected}" if expected else None, fname=file_name, path=cache,
                       downloader=GdownDownloader(partial_dir(cache, url), file_name, quiet=quiet))
    finally:
        logger.setLevel(level)


@dataclass
class VerifyRow:
    """``checkpoints verify``: a file on disk against each recorded digest (None: no digest there)."""

    name: str
    path: Path
    present: bool
    sha256: str | None
    listed: str | None  # checkpoints.yaml
    locked: str | None  # lock file

    @property
    def mismatches(self) -> list[str]:
        if self.sha256 is None:
            return []
        return [src for src, ref in (("checkpoints.yaml", self.listed), ("lock file", self.locked))
                if ref is not None and ref != self.sha256]

    @property
    def status(self) -> str:
        if not self.present:
            return "absent"
        if self.mismatches:
            return f"MISMATCH ({', '.join(self.mismatches)})"
        sources = [src for src, ref in (("checkpoints.yaml", self.listed), ("lock file", self.locked)) if ref]
        return f"ok ({', '.join(sources)})" if sources else "no digest recorded"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "present": self.present, "sha256": self.sha256,
                "checkpoints_yaml": self.listed, "lock_file": self.locked, "status": self.status}


def verify_checkpoints(entries: Iterable[CheckpointEntry], *, cache_dir: Path | None = None) -> list[VerifyRow]:
    """Hash every present file and compare it with ``checkpoints.yaml`` and the lock file."""
    cache = cache_dir or paths.checkpoint_cache_dir()
    locked = lockfile.read_lock(lockfile.lock_path(cache))
    rows = []
    for entry in entries:
        path = entry.local_path(cache)
        present = path.is_file()
        lock = locked.get(entry.name)
        rows.append(VerifyRow(entry.name, path, present, sha256_file(path) if present else None,
                              entry.sha256.lower() if entry.sha256 else None, lock.sha256 if lock else None))
    return rows
