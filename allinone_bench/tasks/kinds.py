"""The task-kind registry: ``@register_kind`` on a :class:`~allinone_bench.tasks.base.TaskKind` subclass makes
it available as ``kind: <name>`` (as timm's ``register_model``). Torch-free, so the config layer can ask for a
kind's ``options_type`` without an import cycle through :mod:`allinone_bench.tasks.base`.

Where a kind is found, in order: already registered; the built-in module named after it
(``allinone_bench.tasks.<name>``, imported on first use so one kind's missing optional dependency never breaks
another); a plug-in declared in the ``allinone_bench.kinds`` entry-point group; any other module of the
``allinone_bench.tasks`` package (a built-in kind whose module has another name).
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, TypeVar

from allinone_bench.errors import ConfigError

if TYPE_CHECKING:
    from allinone_bench.tasks.base import TaskKind

ENTRY_POINT_GROUP = "allinone_bench.kinds"
_PACKAGE = "allinone_bench.tasks"
_KINDS: dict[str, type[TaskKind]] = {}

K = TypeVar("K", bound="type[TaskKind]")


def register_kind(cls: K) -> K:
    """Class decorator: make ``cls`` available as ``kind: <cls.name>`` in task YAMLs."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} must set a non-empty `name`")
    existing = _KINDS.get(cls.name)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise TypeError(f"task kind {cls.name!r} already registered by {existing.__module__}.{existing.__qualname__}")
    _KINDS[cls.name] = cls
    return cls


def _import_builtin(module: str, where: str, name: str) -> None:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name != module:
            raise ConfigError(f"{where}: task kind {name!r} is not available in this installation "
                              f"(missing {err.name})") from err


def _package_modules() -> list[str]:
    package = importlib.import_module(_PACKAGE)
    return [f"{_PACKAGE}.{m.name}" for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")]


def _load_plugins() -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _KINDS:
            register_kind(ep.load())


def get_kind(name: str, *, where: str = "kind") -> type[TaskKind]:
    """The kind class registered as ``name`` (importing its module on demand)."""
    if name not in _KINDS and f"{name}" in {m.rsplit(".", 1)[1] for m in _package_modules()}:
        _import_builtin(f"{_PACKAGE}.{name}", where, name)
    if name not in _KINDS:
        _load_plugins()
    if name not in _KINDS:
        raise ConfigError(f"{where}: unknown task kind {name!r} (known: {', '.join(list_kinds())})")
    return _KINDS[name]


def list_kinds() -> list[str]:
    """Names of all available kinds (imports every module of the tasks package and the plug-ins)."""
    for module in _package_modules():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            continue
    _load_plugins()
    return sorted(_KINDS)
