"""Pydantic v2 validation with the project's one-line errors: ``file.yaml: a.b.c: what was expected, got X``.

Every file-backed configuration (task YAML, the kinds' ``options:``, the video protocol) is a strict pydantic
model: no silent coercion (``"3"`` is not an integer, ``1`` is not ``true``), unknown keys refused. A kind's
``options_type`` may stay a plain dataclass; :func:`validate_as` validates it through a strict model built
from its fields and then constructs the dataclass itself.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from allinone_bench.errors import ConfigError

STRICT = ConfigDict(extra="forbid", strict=True)


class StrictModel(BaseModel):
    """Base of the configuration sections: unknown keys and wrongly typed values are errors."""

    model_config = STRICT


def join(where: str, key: str) -> str:
    """``file.yaml:`` + ``a`` -> ``file.yaml: a``; ``file.yaml: a`` + ``b`` -> ``file.yaml: a.b``."""
    if not key:
        return where
    if where.endswith(":"):
        return f"{where} {key}"
    return f"{where}.{key}" if ": " in where else f"{where}: {key}"


@cache
def schema_of(tp: type) -> type[BaseModel]:
    """The pydantic model validating ``tp``: itself, or a strict model of a dataclass's fields."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    if not dataclasses.is_dataclass(tp):
        raise TypeError(f"{tp!r} is neither a pydantic model nor a dataclass")
    hints = typing.get_type_hints(tp, include_extras=True)
    spec: dict[str, Any] = {}
    for f in dataclasses.fields(tp):
        if f.default is not dataclasses.MISSING:
            spec[f.name] = (hints[f.name], Field(default=f.default))
        elif f.default_factory is not dataclasses.MISSING:
            spec[f.name] = (hints[f.name], Field(default_factory=f.default_factory))
        else:
            spec[f.name] = (hints[f.name], ...)
    return create_model(tp.__name__, __config__=STRICT, **spec)


def fields_of(tp: Any) -> dict[str, Any]:
    """``{key: annotation}`` of a model or dataclass (a model's excluded fields are not keys)."""
    model = schema_of(tp)
    return {name: f.annotation for name, f in model.model_fields.items() if not f.exclude}


def strip_optional(tp: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def is_schema(tp: Any) -> bool:
    """Whether ``tp`` is a section with named keys (a model or a dataclass)."""
    return isinstance(tp, type) and (issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp))


def validate_as(tp: type, data: Any, where: str) -> Any:
    """``data`` validated as ``tp`` (a model, or a dataclass built after validation); ``None`` = all defaults."""
    try:
        validated = schema_of(tp).model_validate({} if data is None else data)
    except ValidationError as err:
        raise ConfigError(describe_error(err, tp, where)) from None
    if validated.__class__ is tp:
        return validated
    try:  # a dataclass's own checks (``__post_init__``) speak of its keys: name the file they came from
        return tp(**{name: getattr(validated, name) for name in type(validated).model_fields})
    except ConfigError as err:
        source = where.partition(": ")[0].rstrip(":")
        raise ConfigError(str(err) if str(err).startswith(source) else f"{source}: {err}") from None


def check_fields(obj: Any, where: str) -> None:
    """Validate a dataclass instance's current field values against its annotations (strict)."""
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    try:
        schema_of(type(obj)).model_validate(values)
    except ValidationError as err:
        raise ConfigError(describe_error(err, type(obj), where)) from None


_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true/false", "bool_parsing": "true/false",
    "string_type": "a string", "list_type": "a list", "tuple_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "dataclass_type": "a mapping", "none_required": "null",
}


_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def describe_error(err: ValidationError, root: Any, where: str) -> str:
    """The first error of ``err`` as ``where dotted.key: message`` (the dotted key walks ``root``'s fields)."""
    first = err.errors()[0]
    keys, tp = [], root
    for part in first["loc"]:
        if is_schema(tp) and isinstance(part, str) and part in fields_of(tp):
            keys.append(part)
            tp = strip_optional(fields_of(tp)[part])
        elif isinstance(part, int):
            keys.append(str(part))
            args = get_args(tp)
            tp = args[0] if args else Any
        elif is_schema(tp) and isinstance(part, str) and first["type"] == "extra_forbidden":
            keys.append(part)
        # other parts name union members or dict keys pydantic reports; they are not YAML keys
    dotted = ".".join(keys)
    kind, value = first["type"], first.get("input")
    if kind == "extra_forbidden":
        parent = root
        for key in keys[:-1]:
            parent = strip_optional(fields_of(parent)[key]) if is_schema(parent) else parent
        valid = ", ".join(fields_of(parent)) if is_schema(parent) else ""
        message = f"unknown key (valid keys here: {valid})"
    elif kind == "missing":
        message = "required key missing"
    elif kind == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        message = f"expected one of {expected.replace(' or ', ' | ').replace(', ', ' | ')}, got {value!r}"
    elif kind == "value_error":
        message = str(first.get("ctx", {}).get("error", first["msg"]))
    elif kind in _BOUNDS:
        op, limit = _BOUNDS[kind], next(iter(first.get("ctx", {}).values()), "?")
        message = f"must be {op} {limit}, got {value!r}"
    elif kind in _EXPECTED:
        message = f"expected {_EXPECTED[kind]}, got {value!r}"
    else:
        message = f"{first['msg']}, got {value!r}"
    return f"{join(where, dotted) if dotted else where.rstrip(':')}: {message}"
