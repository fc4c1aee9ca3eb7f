"""Reading checkpoint files in their formats: Lightning ``.ckpt``, plain state dicts, safetensors.

Separate from key mapping because it is about files and safety, not about the model. Reading is safe by
default: ``torch.load(weights_only=True)`` first; Lightning checkpoints that also pickle non-tensor objects
(sacred's ``ReadOnlyDict`` config, Lightning's ``AttributeDict``) fall back to a restricted unpickler that
resolves only PyTorch's weights-only allow-list and turns every other class into an inert placeholder, so no
code from the file runs. The returned notes say when that happened.
"""

from __future__ import annotations

import functools
import io
import pickle
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from allinone_bench.errors import CheckpointError
from allinone_bench.model.checkpoint_report import first_keys

__all__ = ["PRETRAINED_FILE", "read_state_dict"]

PRETRAINED_FILE = "model.safetensors"


class _Opaque(dict):  # noqa: FURB189 - a dict so pickled dict subclasses (sacred ReadOnlyDict) can fill it
    """Inert stand-in for a class outside the allow-list; keeps what the pickle gave it, runs nothing."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Opaque:
        return dict.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.__dict__["_args"] = args

    def __setstate__(self, state: Any) -> None:
        self.__dict__["_state"] = state

    def __call__(self, *args: Any, **kwargs: Any) -> _Opaque:
        # a placeholder standing for a function (e.g. via ``getattr``) is called by REDUCE: stay inert
        return _Opaque(*args)

    def append(self, item: Any) -> None:
        self.__dict__.setdefault("_items", []).append(item)

    def extend(self, items: Any) -> None:
        self.__dict__.setdefault("_items", []).extend(items)

    def __repr__(self) -> str:
        return f"<opaque {type(self).__module__}.{type(self).__qualname__}>"


_STUBS: dict[str, type] = {}


@functools.lru_cache(maxsize=1)
def _safe_globals() -> dict[str, Any]:
    import builtins
    import collections

    allowed: dict[str, Any] = {}
    try:  # PyTorch's own weights-only allow-list: tensor/storage rebuilders, dtypes, OrderedDict, ...
        from torch import _weights_only_unpickler

        allowed.update(_weights_only_unpickler._get_allowed_globals())
    except (ImportError, AttributeError):  # pragma: no cover - older/newer torch without the private helper
        allowed.update({"torch._utils._rebuild_tensor_v2": torch._utils._rebuild_tensor_v2,
                        "torch._utils._rebuild_parameter": torch._utils._rebuild_parameter,
                        "collections.OrderedDict": collections.OrderedDict})
    for name in ("list", "dict", "tuple", "set", "frozenset", "int", "float", "str", "bytes", "bool",
                 "complex", "slice", "range", "bytearray"):
        allowed[f"builtins.{name}"] = getattr(builtins, name)
    allowed["collections.OrderedDict"] = collections.OrderedDict
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        full = f"{module}.{name}"
        allowed = _safe_globals()
        if full in allowed:
            return allowed[full]
        stub = _STUBS.get(full)
        if stub is None:
            stub = type(name.rsplit(".", 1)[-1], (_Opaque,), {"__module__": module, "__qualname__": name})
            _STUBS[full] = stub
        return stub


def _restricted_pickle_module() -> types.ModuleType:
    module = types.ModuleType("allinone_bench_restricted_pickle")
    module.Unpickler = _RestrictedUnpickler  # type: ignore[attr-defined]
    module.load = lambda fh, **kw: _RestrictedUnpickler(fh, **kw).load()  # type: ignore[attr-defined]
    module.loads = lambda b, **kw: _RestrictedUnpickler(io.BytesIO(b), **kw).load()  # type: ignore[attr-defined]
    return module


def _torch_load(path: Path, notes: list[str]) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first_reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_restricted_pickle_module())
    except Exception as exc:  # noqa: BLE001 - any failure here means the file is unreadable for us
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    notes.append(
        "checkpoint pickles non-tensor objects, so weights_only=True refused it "
        f"({first_reason[:160]}); re-read with a restricted unpickler (PyTorch's weights-only allow-list, "
        "every other class replaced by an inert placeholder, nothing executed)")
    return obj


def read_state_dict(path: str | Path) -> tuple[dict[str, Tensor], list[str]]:
    """(state dict, notes) from a Lightning ``.ckpt``, a plain state dict, safetensors or a pretrained dir."""
    path = Path(path).expanduser()
    notes: list[str] = []
    if path.is_dir():
        path = path / PRETRAINED_FILE
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu"), notes
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"cannot read safetensors file {path}: {exc}") from exc
    obj = _torch_load(path, notes)
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        raw = obj["state_dict"]
        extras = [k for k in ("epoch", "global_step") if k in obj]
        if extras:
            notes.append("Lightning checkpoint: " + ", ".join(f"{k}={obj[k]}" for k in extras))
    elif isinstance(obj, Mapping):
        raw = obj
    else:
        raise CheckpointError(f"{path}: expected a dict of tensors or a Lightning checkpoint, got {type(obj).__name__}")
    state = {str(k): v for k, v in raw.items() if isinstance(v, Tensor)}
    skipped = [str(k) for k, v in raw.items() if not isinstance(v, Tensor)]
    if skipped:
        if not state:
            raise CheckpointError(f"{path}: no tensors found (top-level keys: {first_keys(sorted(map(str, raw)))})")
        notes.append(f"skipped {len(skipped)} non-tensor entr(y/ies) in the state dict: {first_keys(skipped)}")
    return state, notes
