"""The run directory ``OUTPUT/TASK/RUN_ID/`` and atomic writes into it.

Everything a run produces lives here: the resolved config, the launch options (for ``--resume``), the
training state written at the end of every epoch, the best weights, the evaluation cache, predictions and
``results.json``. Files are written to a temporary name and ``os.replace``d, so a crash never leaves a
half-written file that a resume would trust.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import torch
import yaml


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def atomic_torch_save(path: Path, obj: Any) -> None:
    atomic_write(path, lambda fh: torch.save(obj, fh))


def new_run_id() -> str:
    """``YYYYmmdd-HHMMSS-xxxx``: sortable, and unique enough for concurrent launches."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{os.urandom(2).hex()}"


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory."""

    path: Path

    @property
    def results(self) -> Path:
        return self.path / "results.json"

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def launch(self) -> Path:
        return self.path / "launch.json"

    @property
    def state(self) -> Path:
        return self.path / "state.pt"

    @property
    def best_weights(self) -> Path:
        return self.path / "best_weights.pt"

    @property
    def predictions(self) -> Path:
        return self.path / "predictions.jsonl"

    @property
    def eval_cache(self) -> Path:
        return self.path / "eval_cache"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def log(self) -> Path:
        return self.path / "train_log.jsonl"

    def create(self) -> RunDir:
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def write_config(self, config_dict: dict[str, Any]) -> None:
        atomic_write_text(self.config, yaml.safe_dump(config_dict, sort_keys=False))

    def append_log(self, entry: dict[str, Any]) -> None:
        """One JSON line per epoch (append-only; a resumed run keeps appending)."""
        with self.log.open("a") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")
