"""Reading task YAML files: ``include:`` chains (a file name or a list, relative to the including file) merged
depth-first, the including file winning. Pure YAML: no schema, no kinds, no torch."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from allinone_bench.errors import ConfigError
from allinone_bench.yamlfile import read_yaml


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; ``top`` wins, lists and scalars are replaced, not concatenated."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _include_path(folder: Path, name: str) -> Path:
    """``name`` next to the including file, else in the task search path (so a user's own task folder can
    include the built-in ``_retrieval.yaml``)."""
    from allinone_bench.paths import tasks_dirs

    for candidate in (folder / name, *(d / name for d in tasks_dirs())):
        if candidate.is_file():
            return candidate
    return folder / name


def read_yaml_with_includes(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read ``path`` and resolve its ``include:`` (a file name or list, relative to the including file)."""
    path = Path(path).resolve()
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise ConfigError(f"{path}: include cycle ({chain})")
    raw = read_yaml(path, "task file")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    includes = raw.pop("include", None)
    if includes is None:
        return raw
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise ConfigError(f"{path}: include: expected a file name or a list of file names")
    merged: dict[str, Any] = {}
    for inc in includes:
        merged = deep_merge(merged, read_yaml_with_includes(_include_path(path.parent, inc), (*_seen, path)))
    return deep_merge(merged, raw)


def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists and scalars are leaves)."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out
