"""The run directory ``OUTPUT/TASK/RUN_ID/`` and atomic writes into it.

Everything a run produces lives here: the resolved config, the launch options (for ``--resume``), the
training state written at the end of every epoch, the best weights, the evaluation cache, predictions and
``results.json``. Files are written to a temporary name and ``os.replace``d, so a crash never leaves a
half-written file that a resume would trust (the torch-free helpers live in :mod:`allinone_bench.atomic`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import yaml

from allinone_bench.atomic import atomic_write, atomic_write_json, atomic_write_text

__all__ = ["RunDir", "atomic_torch_save", "atomic_write", "atomic_write_json", "atomic_write_text", "new_run_id"]


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
