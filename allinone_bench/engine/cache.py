"""Evaluation results cached per sample key, independent of rank and world size.

Each process appends *chunk files* ``chunk-<rank>-<uuid>.pt`` (a ``{key: result}`` dict, written atomically)
to a namespace directory; reading merges every chunk found. A run interrupted in the middle of an evaluation
therefore resumes with whatever keys were finished, on any number of processes (lm-eval#2140 cannot). A
``fingerprint`` file guards the namespace: if the configuration that produced the chunks differs, the chunks
are discarded instead of mixed in.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import torch

from allinone_bench.engine.rundir import atomic_torch_save, atomic_write_text

FINGERPRINT = "fingerprint.txt"


class ChunkCache:
    """``{key: result}`` persisted as chunk files under ``directory``."""

    def __init__(self, directory: Path, rank: int = 0, *, flush_every_s: float = 30.0) -> None:
        self.directory = directory
        self.rank = rank
        self.flush_every_s = flush_every_s
        self._pending: dict[str, Any] = {}
        self._last_flush = time.monotonic()

    # ------------------------------------------------------------------ guard
    def check_fingerprint(self, fingerprint: str) -> None:
        """Drop the namespace if it was written under another fingerprint (call on one process only)."""
        marker = self.directory / FINGERPRINT
        if marker.is_file() and marker.read_text().strip() != fingerprint:
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        if not marker.is_file():
            atomic_write_text(marker, fingerprint + "\n")

    # ------------------------------------------------------------------ read
    def load(self) -> dict[str, Any]:
        """Every finished key of every chunk (unreadable chunks, e.g. from a killed writer, are skipped)."""
        done: dict[str, Any] = {}
        if not self.directory.is_dir():
            return done
        for chunk in sorted(self.directory.glob("chunk-*.pt")):
            try:
                data = torch.load(chunk, map_location="cpu", weights_only=False)
            except Exception:  # noqa: BLE001 - a torn file is simply recomputed
                continue
            if isinstance(data, dict):
                done.update(data)
        return done

    # ------------------------------------------------------------------ write
    def add(self, results: dict[str, Any]) -> None:
        """Buffer results; written out every ``flush_every_s`` seconds (and by :meth:`flush`)."""
        self._pending.update(results)
        if time.monotonic() - self._last_flush >= self.flush_every_s:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"chunk-{self.rank:04d}-{uuid.uuid4().hex[:12]}.pt"
        atomic_torch_save(path, self._pending)
        self._pending = {}
        self._last_flush = time.monotonic()
