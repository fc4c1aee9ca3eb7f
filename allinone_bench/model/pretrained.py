"""Our own save format: ``model.safetensors`` plus a versioned ``config.json`` holding the exact config.

A directory written by :func:`save_pretrained` rebuilds the same model without inferring anything, which is
why it is a format of its own and not just another checkpoint file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from allinone_bench.errors import CheckpointError
from allinone_bench.model.allinone import AllInOne
from allinone_bench.model.checkpoint_keys import apply_state_dict
from allinone_bench.model.checkpoint_read import PRETRAINED_FILE, read_state_dict
from allinone_bench.model.config import AllInOneConfig

__all__ = ["CONFIG_FILE", "FORMAT_VERSION", "load_pretrained", "read_config", "save_pretrained"]

CONFIG_FILE = "config.json"
FORMAT_VERSION = 1


def save_pretrained(model: AllInOne, directory: str | Path) -> Path:
    """Write ``model.safetensors`` (all parameters) and ``config.json`` (the :class:`AllInOneConfig`)."""
    from safetensors.torch import save_file

    directory = Path(directory).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(directory / PRETRAINED_FILE), metadata={"format": "pt", "producer": "allinone-bench"})
    payload = {"format": "allinone-bench", "format_version": FORMAT_VERSION, "config": model.config.to_dict()}
    (directory / CONFIG_FILE).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return directory


def read_config(path: Path) -> AllInOneConfig:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read model config {path}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != "allinone-bench" or "config" not in payload:
        raise CheckpointError(f"{path}: not an allinone-bench model config (expected format 'allinone-bench')")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format_version {payload['format_version']} is newer than this package "
                              f"understands ({FORMAT_VERSION})")
    return AllInOneConfig.from_dict(payload["config"])


def load_pretrained(directory: str | Path, *, strict: bool = True, **overrides: Any) -> AllInOne:
    """Rebuild a model written by :func:`save_pretrained`; ``overrides`` change forward options (e.g. rolling)."""
    directory = Path(directory).expanduser()
    if not (directory / CONFIG_FILE).is_file():
        raise CheckpointError(f"{directory}: no {CONFIG_FILE} (not a save_pretrained directory)")
    config = read_config(directory / CONFIG_FILE).replace(**overrides)
    model = AllInOne(config)
    state, _ = read_state_dict(directory / PRETRAINED_FILE)
    apply_state_dict(model, state, strict=strict, source=str(directory))
    return model
