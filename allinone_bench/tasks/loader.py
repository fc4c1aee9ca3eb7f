"""Loading a task file: the layers, in order, then one validation.

    include chain (e.g. ``_base.yaml`` -> ``_retrieval.yaml``) -> the task file
    -> ``synthetic.overrides`` (only when no ``--data-root`` is given) -> the ``official:`` preset (when
    ``protocol.official`` is true) -> ``--set key=value``

The file as written is validated on its own first, so an error is reported against the layer that holds it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from allinone_bench.errors import ConfigError
from allinone_bench.tasks.config import TaskConfig, validate
from allinone_bench.tasks.includes import deep_merge, flatten, read_yaml_with_includes
from allinone_bench.tasks.overrides import apply_override

# Synthetic overrides that shrink the architecture (tiny model, tiny frames). A checkpoint fixes the
# architecture, so with one these keep the task's values: the synthetic data is then read at the model's size.
CHECKPOINT_ARCHITECTURE_KEYS: tuple[tuple[str, ...], ...] = (
    ("model", "variant"),
    ("model", "depth"),
    ("model", "patch_size"),
    ("protocol", "video", "decode_size"),
    ("protocol", "video", "resize"),
    ("protocol", "video", "crop"),
)


def _checkpoint_given(raw: dict[str, Any], overrides: dict[str, Any] | None) -> bool:
    if overrides and overrides.get("model.checkpoint"):
        return True
    model = raw.get("model")
    return isinstance(model, dict) and bool(model.get("checkpoint"))


def _without_keys(mapping: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """A deep copy of ``mapping`` without the nested keys ``paths``."""
    out = copy.deepcopy(mapping)
    for keys in paths:
        node: Any = out
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(keys[-1], None)
    return out


def _official_requested(raw: dict[str, Any], overrides: dict[str, Any] | None) -> bool:
    if overrides and "protocol.official" in overrides:
        return overrides["protocol.official"] is True
    protocol = raw.get("protocol")
    return isinstance(protocol, dict) and protocol.get("official") is True


def resolve_raw(
    path: Path,
    *,
    synthetic: bool = False,
    overrides: dict[str, Any] | None = None,
    official: bool = True,
) -> dict[str, Any]:
    """The merged raw mapping of a task file: includes, then synthetic overrides, then the ``official:`` preset
    when ``protocol.official`` is true (and ``official`` allows it), then ``--set`` overrides."""
    raw = read_yaml_with_includes(path)
    if synthetic:
        syn = raw.get("synthetic") or {}
        syn_over = syn.get("overrides") if isinstance(syn, dict) else None
        if syn_over:
            if not isinstance(syn_over, dict):
                raise ConfigError(f"{path}: synthetic.overrides: expected a mapping")
            if "synthetic" in syn_over:
                raise ConfigError(f"{path}: synthetic.overrides: may not override 'synthetic' itself")
            if _checkpoint_given(raw, overrides):
                syn_over = _without_keys(syn_over, CHECKPOINT_ARCHITECTURE_KEYS)
            raw = deep_merge(raw, syn_over)
    if official and _official_requested(raw, overrides):
        preset = raw.get("official") or {}
        if not isinstance(preset, dict):
            raise ConfigError(f"{path}: official: expected a mapping of the keys the official protocol sets")
        raw = deep_merge(raw, preset)
    if overrides:
        from allinone_bench.tasks.kinds import get_kind

        kind_name = raw.get("kind")
        options_type = get_kind(kind_name, where=f"{path} kind").options_type if isinstance(kind_name, str) else None
        for dotted, value in overrides.items():
            apply_override(raw, dotted, value, options_type=options_type)
    return raw


def load_task_config(
    path: Path | str,
    *,
    synthetic: bool = False,
    overrides: dict[str, Any] | None = None,
) -> TaskConfig:
    """Load, merge and validate one task file (``synthetic`` applies its ``synthetic.overrides``)."""
    path = Path(path)
    where = f"{path.name}:"
    if synthetic or overrides:
        # The file as written must be valid on its own, so an error is reported against the right layer.
        validate(resolve_raw(path), where=where, name=path.stem)
        layers = " and ".join(name for name, on in (("synthetic overrides", synthetic), ("--set", overrides)) if on)
        where = f"{path.name} (with {layers}):"
    cfg = validate(resolve_raw(path, synthetic=synthetic, overrides=overrides), where=where, name=path.stem)
    if cfg.protocol.official:
        cfg.protocol.official_changes = _official_changes(cfg, path, synthetic=synthetic, overrides=overrides)
    cfg.source = path.resolve()
    return cfg


def _official_changes(cfg: TaskConfig, path: Path, *, synthetic: bool, overrides: dict[str, Any] | None
                      ) -> dict[str, Any]:
    """``{dotted key: [value without the preset, value that runs]}`` for every key of the ``official:`` preset
    whose value the preset changed (a later ``--set`` of the same key wins and shows as the value that runs)."""
    try:
        without = validate(resolve_raw(path, synthetic=synthetic, overrides=overrides, official=False),
                           where=f"{path.name}:", name=path.stem)
        before: dict[str, Any] = flatten(without.to_dict())
    except ConfigError:  # the task is only valid with the preset: report the preset values alone
        before = {}
    after = flatten(cfg.to_dict())
    return {key: [before.get(key), after.get(key)] for key in flatten(cfg.official)
            if before.get(key) != after.get(key)}
