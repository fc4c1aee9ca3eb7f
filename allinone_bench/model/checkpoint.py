"""Checkpoint I/O entry points: load a released checkpoint or a file into a model, or build the model for it.

This module ties the pieces together and keeps every public name at its historical path:
:mod:`~allinone_bench.model.checkpoint_read` reads files (safely), :mod:`~allinone_bench.model.checkpoint_keys`
maps and checks keys into a :class:`LoadReport` (:mod:`~allinone_bench.model.checkpoint_report`), and
:mod:`~allinone_bench.model.pretrained` writes and reads our own ``save_pretrained`` format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from allinone_bench.model.allinone import AllInOne
from allinone_bench.model.checkpoint_keys import (
    IGNORABLE_KEYS,
    KEY_RENAMES,
    STRIPPABLE_PREFIXES,
    TEMPORAL_KEY,
    TEXT_POS_KEY,
    WIDTH_TO_VARIANT,
    apply_state_dict,
    infer_config,
    normalise_keys,
)
from allinone_bench.model.checkpoint_read import PRETRAINED_FILE, read_state_dict
from allinone_bench.model.checkpoint_report import LoadReport
from allinone_bench.model.hub import ResolvedCheckpoint, resolve_checkpoint, sha256_file
from allinone_bench.model.pretrained import (
    CONFIG_FILE,
    FORMAT_VERSION,
    load_pretrained,
    read_config,
    save_pretrained,
)

__all__ = [
    "CONFIG_FILE",
    "FORMAT_VERSION",
    "IGNORABLE_KEYS",
    "KEY_RENAMES",
    "PRETRAINED_FILE",
    "STRIPPABLE_PREFIXES",
    "TEMPORAL_KEY",
    "TEXT_POS_KEY",
    "WIDTH_TO_VARIANT",
    "LoadReport",
    "apply_state_dict",
    "build_from_checkpoint",
    "infer_config",
    "load_checkpoint",
    "load_pretrained",
    "normalise_keys",
    "read_state_dict",
    "save_pretrained",
    "sha256_file",
]


def _open(name_or_path: str | Path, verify_sha256: bool) -> tuple[dict[str, Tensor], list[str], ResolvedCheckpoint]:
    resolved = resolve_checkpoint(name_or_path, verify=verify_sha256)
    state, notes = read_state_dict(resolved.path)
    return state, notes, resolved


def load_checkpoint(model: AllInOne, path_or_name: str | Path, *, strict: bool = True,
                    resize_text_positions: bool = False, verify_sha256: bool = True,
                    compute_sha256: bool = False) -> LoadReport:
    """Load a released checkpoint (name from ``checkpoints.yaml``) or a file/dir into ``model``.

    Raises :class:`CheckpointError` if the file is absent/unreadable, its recorded sha256 differs, or (strict)
    any tensor does not fit. ``compute_sha256`` hashes the file for the report even when none is recorded.
    """
    state, notes, resolved = _open(path_or_name, verify_sha256)
    report = apply_state_dict(model, state, strict=strict, resize_text_positions=resize_text_positions,
                              source=str(resolved.path))
    report.notes[:0] = notes
    report.sha256 = resolved.sha256 or (sha256_file(resolved.path) if compute_sha256 and resolved.path.is_file()
                                        else None)
    if resolved.verified:
        report.notes.append(f"sha256 matches {resolved.verified_against}")
    return report


def build_from_checkpoint(path_or_name: str | Path, *, strict: bool = True, resize_text_positions: bool = False,
                          verify_sha256: bool = True, **overrides: Any) -> tuple[AllInOne, LoadReport]:
    """Build the model a checkpoint was made for (:func:`infer_config` + ``overrides``) and load it."""
    state, notes, resolved = _open(path_or_name, verify_sha256)
    config_file = resolved.path / CONFIG_FILE if resolved.path.is_dir() else None
    if config_file is not None and config_file.is_file():
        config = read_config(config_file).replace(**overrides)
    else:
        config = infer_config(state, **overrides)
    model = AllInOne(config)
    report = apply_state_dict(model, state, strict=strict, resize_text_positions=resize_text_positions,
                              source=str(resolved.path))
    report.notes[:0] = notes
    report.sha256 = resolved.sha256
    return model, report
