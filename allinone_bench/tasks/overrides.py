"""``--set key=value``: YAML-typed values placed into the raw task mapping, each key checked against the schema
at once (an unknown key lists the valid keys at its level); the value's type is checked when the whole task is
validated again (:func:`allinone_bench.tasks.config.validate`)."""

from __future__ import annotations

from typing import Any, get_origin

import yaml

from allinone_bench.errors import ConfigError
from allinone_bench.tasks.config import TaskConfig
from allinone_bench.validation import fields_of, is_schema, strip_optional


def parse_set_value(text: str) -> Any:
    """``--set`` values are YAML scalars/lists: ``3`` -> 3, ``1e-4`` -> 1e-4, ``null``, ``[0.9, 0.98]``."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    # YAML 1.1 reads "1e-4" as a string; accept it as the number the user meant.
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else value
        except ValueError:
            return value
    return value


def parse_set_args(items: list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    """``["finetune.lr=3e-4", "options.scoring=cross"]`` -> ``{"finetune.lr": 3e-4, ...}``."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. finetune.epochs=2")
        out[key.strip()] = parse_set_value(value.strip())
    return out


def apply_override(raw: dict[str, Any], dotted: str, value: Any, *, options_type: type | None = None) -> None:
    """Set ``a.b.c = value`` in the raw config, checking each key against the schema.

    An unknown key raises :class:`ConfigError` naming it and listing the valid keys at that level; the value's
    type is checked when the whole config is validated again. ``options_type`` is the kind's options schema.
    """
    parts = dotted.split(".")
    if not dotted or any(not p for p in parts):
        raise ConfigError(f"--set {dotted!r}: expected a dotted key such as finetune.lr")
    schema: Any = TaskConfig
    node = raw
    for depth, key in enumerate(parts):
        here = ".".join(parts[: depth + 1])
        if schema is not None:
            keys = fields_of(schema)
            if key not in keys:
                prefix = ".".join(parts[:depth]) or "the top level"
                raise ConfigError(
                    f"--set {dotted}: unknown key {key!r} under {prefix} (valid keys: {', '.join(keys)})"
                )
            tp = options_type if (schema is TaskConfig and key == "options") else strip_optional(keys[key])
            is_section = is_schema(tp) or get_origin(tp) is dict or tp is Any or tp is None
            next_schema = tp if is_schema(tp) else None
        else:
            is_section, next_schema = True, None  # inside a free-form mapping (dataset.options, synthetic.overrides)
        if depth == len(parts) - 1:
            node[key] = value
            return
        if not is_section:
            raise ConfigError(f"--set {dotted}: {here} is a value, not a section")
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
        schema = next_schema
