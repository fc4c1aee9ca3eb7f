"""Checkpoint I/O: read Lightning ``.ckpt`` / plain state dicts / safetensors, infer the variant, load strictly.

Every tensor is accounted for in a :class:`LoadReport`: loaded, renamed (B+'s ``vtm_score.*`` ->
``itm_score.*``, a stripped ``module.``/``model.`` prefix), missing, unexpected, shape mismatches, task heads
that pretrained checkpoints never contain (``initialised``), keys absent by design and set to their neutral
value (``defaulted``: ``transformer.temporal_embed`` -> zeros) and harmless extras (``ignored``:
``text_embeddings.position_ids``). Strict loading (the default) refuses anything else *before* touching the
model, with a message naming the offending keys.

Reading is safe by default: ``torch.load(weights_only=True)`` first; Lightning checkpoints that also pickle
non-tensor objects (sacred's ``ReadOnlyDict`` config, Lightning's ``AttributeDict``) fall back to a restricted
unpickler that resolves only PyTorch's weights-only allow-list and turns every other class into an inert
placeholder, so no code from the file runs. The report's ``notes`` say when that happened.
"""

from __future__ import annotations

import functools
import io
import json
import math
import pickle
import re
import types
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from allinone_bench.errors import CheckpointError, ConfigError
from allinone_bench.model.allinone import TASK_HEAD_PREFIXES, AllInOne
from allinone_bench.model.config import AllInOneConfig
from allinone_bench.model.heads import classifier_output_key
from allinone_bench.model.hub import ResolvedCheckpoint, resolve_checkpoint, sha256_file

__all__ = [
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

TEMPORAL_KEY = "transformer.temporal_embed"
TEXT_POS_KEY = "text_embeddings.position_embeddings.weight"
IGNORABLE_KEYS: frozenset[str] = frozenset({"text_embeddings.position_ids"})
KEY_RENAMES: tuple[tuple[str, str], ...] = (("vtm_score.", "itm_score."),)  # B+ / CoTraining naming
STRIPPABLE_PREFIXES: tuple[str, ...] = ("module.", "model.")
WIDTH_TO_VARIANT: dict[int, tuple[str, int]] = {192: ("ti", 3), 384: ("s", 6), 768: ("b", 12)}
PRETRAINED_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT_VERSION = 1
_SHOW = 5  # keys named per category in error messages


# ====================================================================== report
@dataclass
class LoadReport:
    """What happened to every tensor of a checkpoint (see module docstring for the categories)."""

    source: str = ""
    strict: bool = True
    loaded: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # checkpoint key -> model key
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shape_mismatches: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    initialised: list[str] = field(default_factory=list)
    defaulted: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    resized: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sha256: str | None = None

    @property
    def ok(self) -> bool:
        """No missing, unexpected or mis-shaped tensor (what strict loading requires)."""
        return not (self.missing or self.unexpected or self.shape_mismatches)

    def problems(self) -> str:
        """One line naming the first offending keys of each category, with counts."""
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing key(s): {_first(self.missing)}")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected key(s): {_first(self.unexpected)}")
        if self.shape_mismatches:
            shown = ", ".join(f"{k} checkpoint {list(a)} vs model {list(b)}"
                              for k, a, b in self.shape_mismatches[:_SHOW])
            more = f" (+{len(self.shape_mismatches) - _SHOW} more)" if len(self.shape_mismatches) > _SHOW else ""
            parts.append(f"{len(self.shape_mismatches)} shape mismatch(es): {shown}{more}")
        return "; ".join(parts)

    def summary(self) -> str:
        counts = (f"loaded {len(self.loaded)}, renamed {len(self.renamed)}, missing {len(self.missing)}, "
                  f"unexpected {len(self.unexpected)}, shape mismatches {len(self.shape_mismatches)}, "
                  f"initialised {len(self.initialised)}, defaulted {len(self.defaulted)}, "
                  f"ignored {len(self.ignored)}, resized {len(self.resized)}")
        lines = [f"{self.source}: {counts}"]
        lines += [f"  note: {n}" for n in self.notes]
        if not self.ok:
            lines.append(f"  skipped: {self.problems()}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shape_mismatches"] = [[k, list(a), list(b)] for k, a, b in self.shape_mismatches]
        data["ok"] = self.ok
        return data


def _first(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOW])
    return shown + (f" (+{len(keys) - _SHOW} more)" if len(keys) > _SHOW else "")


# ====================================================================== safe reading
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
            raise CheckpointError(f"{path}: no tensors found (top-level keys: {_first(sorted(map(str, raw)))})")
        notes.append(f"skipped {len(skipped)} non-tensor entr(y/ies) in the state dict: {_first(skipped)}")
    return state, notes


# ====================================================================== keys and config
def normalise_keys(state_dict: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Strip a ``module.``/``model.`` prefix shared by all keys and apply :data:`KEY_RENAMES`.

    Returns the new dict and ``{original key: new key}`` for every key that changed. A renamed key that would
    collide with an existing one is left as is (it then shows up as unexpected).
    """
    keys = list(state_dict)
    prefix = ""
    changed = True
    while changed and keys:
        changed = False
        for candidate in STRIPPABLE_PREFIXES:
            if all(k.startswith(prefix + candidate) for k in keys):
                prefix += candidate
                changed = True
    out: dict[str, Tensor] = {}
    renamed: dict[str, str] = {}
    stripped = {k: k[len(prefix):] for k in keys}
    present = set(stripped.values())
    for original, key in stripped.items():
        new = key
        for old_prefix, new_prefix in KEY_RENAMES:
            if key.startswith(old_prefix):
                target = new_prefix + key[len(old_prefix):]
                if target not in present:
                    new = target
        if new != original:
            renamed[original] = new
        out[new] = state_dict[original]
    return out, renamed


def infer_config(state_dict: Mapping[str, Tensor], **overrides: Any) -> AllInOneConfig:
    """The :class:`AllInOneConfig` a state dict was made for (width, heads, distilled, depth, sizes, heads).

    Width comes from the word embeddings (192/384/768 -> ti/s/b with 3/6/12 heads), distillation from
    ``transformer.dist_token`` or a pos_embed of ``2 + grid^2`` rows, ``max_text_len`` from the text position
    embeddings, ``num_frames`` from ``temporal_embed`` when present (else the default 3).
    """
    sd, _ = normalise_keys(state_dict)
    word = sd.get("text_embeddings.word_embeddings.weight")
    pos = sd.get("transformer.pos_embed")
    patch = sd.get("transformer.patch_embed.proj.weight")
    if word is None or pos is None or patch is None:
        needed = ["text_embeddings.word_embeddings.weight", "transformer.pos_embed",
                  "transformer.patch_embed.proj.weight"]
        absent = [k for k in needed if k not in sd]
        raise CheckpointError(
            f"not an All-in-One checkpoint: missing {absent} (first keys: {_first(sorted(sd))})")
    vocab, width = word.shape
    variant, heads = WIDTH_TO_VARIANT.get(width, ("custom", max(1, width // 64)))
    patch_size = patch.shape[-1]
    rows = pos.shape[1]
    distilled = "transformer.dist_token" in sd
    if not distilled and not _is_square(rows - 1) and _is_square(rows - 2):
        distilled = True
    prefix = 2 if distilled else 1
    if not _is_square(rows - prefix):
        raise CheckpointError(f"transformer.pos_embed has {rows} rows: not {prefix} prefix token(s) + a square grid")
    grid = math.isqrt(rows - prefix)
    block_ids = {int(m.group(1)) for k in sd if (m := re.match(r"transformer\.blocks\.(\d+)\.", k))}
    if not block_ids:
        raise CheckpointError("not an All-in-One checkpoint: no transformer.blocks.N.* keys")
    fc1 = sd.get("transformer.blocks.0.mlp.fc1.weight")
    values: dict[str, Any] = {
        "variant": variant,
        "hidden_size": int(width),
        "num_heads": heads,
        "depth": max(block_ids) + 1,
        "mlp_ratio": float(fc1.shape[0] / width) if fc1 is not None else 4.0,
        "distilled": distilled,
        "image_size": int(grid * patch_size),
        "patch_size": int(patch_size),
        "max_text_len": int(sd[TEXT_POS_KEY].shape[0]) if TEXT_POS_KEY in sd else 40,
        "vocab_size": int(vocab),
    }
    if TEMPORAL_KEY in sd:
        values["num_frames"] = int(sd[TEMPORAL_KEY].shape[1])
    qa_key = classifier_output_key("vqa_classifier")
    if qa_key in sd:
        values["qa_labels"] = int(sd[qa_key].shape[0])
    if "mc_vqa_classifier.1.weight" in sd:
        values["mc_head"] = True
    if "txt_proj.weight" in sd:
        values["contrastive"] = True
        values["contrastive_dim"] = int(sd["txt_proj.weight"].shape[0])
    values.update(overrides)
    try:
        return AllInOneConfig(**values)
    except TypeError as exc:
        raise ConfigError(f"model override not understood: {exc}") from exc


def _is_square(n: int) -> bool:
    return n > 0 and math.isqrt(n) ** 2 == n


def _hints(report: LoadReport, state: Mapping[str, Tensor], model: AllInOne) -> str:
    """Suggestions for common mismatches (wrong variant, max_text_len, task heads)."""
    hints = []
    try:
        inferred = infer_config(state)
    except (CheckpointError, ConfigError):
        return " The file does not look like an All-in-One checkpoint."
    cfg = model.config
    if (inferred.hidden_size, inferred.distilled) != (cfg.hidden_size, cfg.distilled):
        hints.append(f"the checkpoint looks like variant {inferred.variant!r} ({inferred.hidden_size}-d"
                     f"{', distilled' if inferred.distilled else ''}) but the model is {cfg.variant!r} "
                     f"({cfg.hidden_size}-d{', distilled' if cfg.distilled else ''})")
    if inferred.max_text_len != cfg.max_text_len and TEXT_POS_KEY in state:
        hints.append(f"the checkpoint has {inferred.max_text_len} text positions, the model max_text_len="
                     f"{cfg.max_text_len}: build with max_text_len={inferred.max_text_len} or pass "
                     "resize_text_positions=True")
    if inferred.qa_labels is not None and inferred.qa_labels != cfg.qa_labels:
        hints.append(f"the checkpoint has a vqa_classifier with {inferred.qa_labels} labels: build with "
                     f"qa_labels={inferred.qa_labels}")
    if inferred.mc_head and not cfg.mc_head:
        hints.append("the checkpoint has a mc_vqa_classifier: build with mc_head=True")
    if inferred.contrastive and not cfg.contrastive:
        hints.append("the checkpoint has txt_proj/vid_proj: build with contrastive=True")
    return (" Hint: " + "; ".join(hints) + ".") if hints else ""


# ====================================================================== loading
def apply_state_dict(model: AllInOne, state_dict: Mapping[str, Tensor], *, strict: bool = True,
                     resize_text_positions: bool = False, source: str = "<state dict>") -> LoadReport:
    """Load ``state_dict`` into ``model`` and account for every key (see :class:`LoadReport`).

    ``strict`` refuses missing/unexpected/mis-shaped tensors before anything is copied.
    ``transformer.temporal_embed`` with another frame count is truncated or zero-padded (the official
    ``_inflate_positional_embeds`` rule). ``resize_text_positions`` copies the first rows of text position
    embeddings when ``max_text_len`` differs (the rest keep their fresh init; the official fine-tuning code
    re-initialises all of them instead); without it a different ``max_text_len`` is a shape mismatch.
    """
    report = LoadReport(source=source, strict=strict)
    state, report.renamed = normalise_keys(state_dict)
    targets = model.state_dict()
    to_copy: dict[str, Tensor] = {}
    for key, tensor in state.items():
        if key in IGNORABLE_KEYS:
            report.ignored.append(key)
            expected = torch.arange(tensor.shape[-1])
            if key.endswith("position_ids") and not torch.equal(tensor.reshape(-1).cpu().long(), expected):
                report.notes.append(f"{key} is not 0..L-1; positions are always 0..L-1 here")
            continue
        if key not in targets:
            report.unexpected.append(key)
            continue
        target = targets[key]
        if tensor.shape == target.shape:
            to_copy[key] = tensor
        elif key == TEMPORAL_KEY and tensor.dim() == 3 and tensor.shape[2] == target.shape[2]:
            to_copy[key] = _fit_rows(tensor, target.shape[1], dim=1)
            report.resized.append(key)
            report.notes.append(f"{key}: checkpoint has {tensor.shape[1]} frames, model {target.shape[1]}; "
                                "truncated/zero-padded as the official loader does")
        elif key == TEXT_POS_KEY and resize_text_positions and tensor.shape[1:] == target.shape[1:]:
            to_copy[key] = _fit_rows(tensor, target.shape[0], dim=0, fill=target)
            report.resized.append(key)
            report.notes.append(f"{key}: checkpoint has {tensor.shape[0]} text positions, model "
                                f"{target.shape[0]}; first rows copied, extra rows keep their fresh init")
        else:
            report.shape_mismatches.append((key, tuple(tensor.shape), tuple(target.shape)))
    for key in targets:
        if key in state:
            continue
        if key == TEMPORAL_KEY:
            report.defaulted.append(key)
            report.notes.append(f"{key} absent (as in the released checkpoints): zeros, i.e. no temporal embedding")
        elif key.startswith(TASK_HEAD_PREFIXES):
            report.initialised.append(key)
        else:
            report.missing.append(key)
    if TEMPORAL_KEY in state and model.config.distilled:
        report.notes.append(f"{TEMPORAL_KEY} loaded but unused: the distilled (S) backbone never adds it")
    if report.initialised:
        heads = sorted({k.split(".", 1)[0] for k in report.initialised})
        report.notes.append(f"task head(s) {heads} not in the checkpoint: freshly initialised (expected for "
                            "released pretrained checkpoints)")
    if strict and not report.ok:
        raise CheckpointError(f"checkpoint {source} does not fit the model (variant {model.config.variant!r}, "
                              f"{model.config.hidden_size}-d): {report.problems()}.{_hints(report, state, model)}"
                              " Pass strict=False to load only the tensors that fit.")
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    with torch.no_grad():
        for key, tensor in to_copy.items():
            dest = params.get(key, buffers.get(key))
            assert dest is not None  # every target key is a parameter or persistent buffer
            dest.copy_(tensor.to(dtype=dest.dtype, device=dest.device))
            report.loaded.append(key)
        if TEMPORAL_KEY in report.defaulted:
            params[TEMPORAL_KEY].zero_()
    return report


def _fit_rows(tensor: Tensor, rows: int, *, dim: int, fill: Tensor | None = None) -> Tensor:
    """Truncate ``tensor`` along ``dim`` to ``rows`` or pad it (with ``fill``'s rows, else zeros)."""
    have = tensor.shape[dim]
    if have >= rows:
        return tensor.narrow(dim, 0, rows).clone()
    base = fill.detach().clone().to(tensor.dtype) if fill is not None else tensor.new_zeros(
        *tensor.shape[:dim], rows, *tensor.shape[dim + 1:])
    base.narrow(dim, 0, have).copy_(tensor)
    return base


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
        config = _read_config(config_file).replace(**overrides)
    else:
        config = infer_config(state, **overrides)
    model = AllInOne(config)
    report = apply_state_dict(model, state, strict=strict, resize_text_positions=resize_text_positions,
                              source=str(resolved.path))
    report.notes[:0] = notes
    report.sha256 = resolved.sha256
    return model, report


# ====================================================================== our own format
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


def _read_config(path: Path) -> AllInOneConfig:
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
    config = _read_config(directory / CONFIG_FILE).replace(**overrides)
    model = AllInOne(config)
    state, _ = read_state_dict(directory / PRETRAINED_FILE)
    apply_state_dict(model, state, strict=strict, source=str(directory))
    return model
