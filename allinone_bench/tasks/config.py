"""Task configuration: typed dataclasses, the YAML loader (``include:``), and ``--set`` overrides.

A task YAML is validated into :class:`TaskConfig` before anything runs, so a typo fails at once with the
file and key named instead of being silently ignored (the lm-eval lesson). The layering is always

    include chain (e.g. ``_base.yaml`` -> ``_retrieval.yaml``) -> the task file
    -> ``synthetic.overrides`` (only when no ``--data-root`` is given) -> ``--set key=value``

and the result is validated once more, so overrides are type-checked against the same dataclasses.
The ``options:`` block is kind-specific: its schema is the ``options_type`` dataclass of the task kind
(see :mod:`allinone_bench.tasks.base`).
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from allinone_bench.errors import ConfigError

# --------------------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------------------

Sampling = Literal["uniform", "rand"]
SplitRole = Literal["train", "val", "test"]
Workers = Union[int, Literal["auto"]]  # DataLoader workers; auto: see allinone_bench.engine.loader


@dataclass
class VideoSettings:
    """Frame sampling and pixel transforms; mirrors :class:`allinone_bench.data.pipeline.VideoProtocol`.

    ``sampling`` is used for evaluation, ``train_sampling`` for finetuning (official: random frames in training).
    The model's ``image_size`` is always ``crop``.
    """

    num_frames: int = 3
    sampling: Sampling = "uniform"
    train_sampling: Sampling = "rand"
    decode_size: int | None = 512
    resize: int = 268
    crop: int = 224
    normalize: Literal["imagenet", "kinetics"] = "imagenet"
    backend: Literal["auto", "decord", "pyav"] = "auto"

    def to_protocol(self, train: bool = False) -> Any:
        """The data pipeline's ``VideoProtocol`` for evaluation (``train=False``) or finetuning."""
        from allinone_bench.data.pipeline import VideoProtocol

        return VideoProtocol(
            num_frames=self.num_frames,
            sampling=self.train_sampling if train else self.sampling,
            decode_size=self.decode_size,
            resize=self.resize,
            crop=self.crop,
            normalize=self.normalize,
            backend=self.backend,
        )


@dataclass
class TextSettings:
    """Tokenisation. ``mode``: ``single`` = every caption is its own text (a training step draws one at random);
    ``paragraph`` = a video's sentences are joined into one text (DiDeMo / ActivityNet paragraph retrieval)."""

    max_len: int = 40
    mode: Literal["single", "paragraph"] = "single"
    subtitles: Literal["none", "window"] = "none"  # TVQA: add the subtitle lines of the question's window


@dataclass
class ProtocolSettings:
    """Everything that changes what the numbers mean; all of it is written to ``results.json``."""

    video: VideoSettings = field(default_factory=VideoSettings)
    text: TextSettings = field(default_factory=TextSettings)
    rolling: Literal["roll", "none", "flatten"] = "roll"
    patch_permutation: Literal["off", "seeded"] = "off"
    permutation_seed: int = 0
    # ``official: true`` applies the task's ``official:`` preset (the official code's protocol) when the task
    # is loaded; the loader then fills ``official_changes`` (dotted key -> [before, after]) for results.json.
    official: bool = False
    official_changes: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelSettings:
    """Which All-in-One to build. ``checkpoint`` (name from checkpoints.yaml or a path) is what ``--checkpoint``
    overrides; ``None`` = random initialisation (numbers are then not the paper's)."""

    variant: Literal["ti", "s", "b"] = "b"
    checkpoint: str | None = None
    depth: int | None = None
    patch_size: int | None = None
    drop_rate: float | None = None
    drop_path_rate: float | None = None


@dataclass
class Splits:
    """Map of roles to the adapter's split names (``None``: the dataset has no such split)."""

    train: str | None = "train"
    val: str | None = "val"
    test: str = "test"

    def name(self, role: SplitRole) -> str | None:
        return getattr(self, role)


@dataclass
class DatasetSettings:
    """The adapter (``get_adapter(adapter)(data_root, **options)``) and which of its splits play which role.

    ``cache_clips`` decodes each clip once per process and reuses it: only for small datasets, and only with
    deterministic frame sampling (``uniform`` for both evaluation and training); it freezes the training random
    crop at its first draw (a no-op when ``resize == crop`` on square frames, as in the synthetic runs).
    """

    adapter: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    splits: Splits = field(default_factory=Splits)
    cache_clips: bool = False  # keep decoded clips in memory (small datasets; needs uniform sampling)


@dataclass
class SelectionSettings:
    """Model selection during finetuning: the best epoch by ``metric`` on the ``split`` role is kept.

    ``metric`` may be a sum written ``"a+b"`` (official retrieval: t2v R@1 + v2t R@1). Selecting on the test
    split is refused unless ``official_protocol_note`` says why (the official QA protocol does it).
    """

    split: SplitRole = "val"
    metric: str = ""
    mode: Literal["max", "min"] = "max"
    official_protocol_note: str | None = None


@dataclass
class FinetuneSettings:
    """Official optimisation: AdamW (no decay on bias/LayerNorm), warmup then linear decay to ``end_lr``.

    ``batch_size`` is the global batch; gradient accumulation = batch_size // (per_device_batch_size x world).
    Parameters whose name contains one of ``head_param_patterns`` get ``lr x head_lr_mult`` (10 for QA heads).
    ``warmup``: a fraction of the total optimizer steps. ``max_steps`` caps the run (smoke tests, None = off).
    ``precision``: ``auto`` = bf16 autocast where native (CUDA bf16, CPU AVX512-BF16/AMX), fp16 + GradScaler on
    older GPUs, else fp32; ``auto_fp16`` = fp16 with GradScaler on CUDA (the official AMP), fp32 on CPU.
    ``val_check_interval``: validate every this fraction of an epoch too (official MC configs: 0.5), on top of
    the end-of-epoch validation that ``eval_every`` governs.
    """

    epochs: int = 10
    max_steps: int | None = None
    lr: float = 1e-4
    end_lr: float = 0.0
    head_lr_mult: float = 1.0
    head_param_patterns: list[str] = field(default_factory=lambda: ["vqa_classifier"])
    warmup: float = 0.1
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-8
    batch_size: int = 256
    per_device_batch_size: int = 16
    grad_clip: float | None = None
    precision: Literal["auto", "auto_fp16", "bf16", "fp16", "fp32"] = "auto"
    num_workers: Workers = "auto"
    eval_every: int = 1
    val_check_interval: float = 1.0
    find_unused_parameters: bool = True


@dataclass
class EvalSettings:
    """Evaluation batching (per device) and loader workers."""

    batch_size: int = 32
    num_workers: Workers = "auto"
    precision: Literal["auto", "auto_fp16", "bf16", "fp16", "fp32"] = "auto"


@dataclass
class SyntheticSettings:
    """The CPU-sized run used when no ``--data-root`` is given: the adapter's synthetic set of ``num_videos``
    videos (``seed``), and ``overrides`` deep-merged into the task config (tiny model, few epochs)."""

    num_videos: int = 24
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class NoOptions:
    """Options schema of kinds that take none."""


@dataclass
class TaskConfig:
    """One validated task. ``options`` is an instance of the kind's ``options_type``."""

    name: str
    version: int
    kind: str
    dataset: DatasetSettings
    metrics: list[str | dict[str, Any]]  # names, or {name: ..., <metric option>: ...} (allinone_bench.metrics)
    selection: SelectionSettings
    description: str = ""
    seed: int = 0
    protocol: ProtocolSettings = field(default_factory=ProtocolSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)
    synthetic: SyntheticSettings = field(default_factory=SyntheticSettings)
    options: Any = field(default_factory=NoOptions)
    # What ``protocol.official: true`` sets: a nested mapping merged over the task (after synthetic overrides,
    # before the other ``--set`` keys), written in the task files and their includes.
    official: dict[str, Any] = field(default_factory=dict)
    # Not YAML keys: where it came from, and whether the synthetic overrides were applied.
    source: Path | None = field(default=None, metadata={"internal": True})
    is_synthetic: bool = field(default=False, metadata={"internal": True})

    @property
    def metric_names(self) -> list[str]:
        """The ``metrics:`` entries by name (options dropped), in order."""
        from allinone_bench.metrics import metric_names

        return metric_names(self.metrics)

    @property
    def uses_test_for_selection(self) -> bool:
        """True when the selection split is (or is the same adapter split as) the test split."""
        role = self.dataset.splits.name(self.selection.split)
        return self.selection.split == "test" or role == self.dataset.splits.test

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML-able dict of the YAML keys (the resolved config written into every run directory)."""
        return _to_plain(self)


# --------------------------------------------------------------------------------------------------------------
# Generic dataclass validation
# --------------------------------------------------------------------------------------------------------------

_INTERNAL = "internal"


def yaml_fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    """The fields of a config dataclass that are YAML keys (``internal`` ones excluded)."""
    return {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get(_INTERNAL)}


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {name: _to_plain(getattr(obj, name)) for name in yaml_fields(type(obj))}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if get_origin(tp) in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against annotation ``tp`` and convert (dataclass dicts, tuples). ``where`` names it."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        errors: list[ConfigError] = []
        for arg in get_args(tp):
            try:
                return _coerce(value, arg, where)
            except ConfigError as err:
                errors.append(err)
        non_null = [a for a in get_args(tp) if a is not type(None)]
        if len(non_null) == 1 and value is not None:
            raise errors[[a for a in get_args(tp)].index(non_null[0])]
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}")
    if origin is Literal:
        if value in get_args(tp) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected one of {_type_name(tp)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if dataclasses.is_dataclass(value) and isinstance(value, tp):
            return value
        return from_dict(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise ConfigError(f"{where}: expected a path, got {value!r}")
    if origin is list:
        (item_tp,) = get_args(tp) or (Any,)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {str(k): v for k, v in value.items()}
    raise ConfigError(f"{where}: unsupported config type {tp!r}")  # pragma: no cover - schema bug


def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping; unknown keys, missing required keys and wrong types raise
    :class:`ConfigError` naming ``where`` (file and dotted key)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    fields = yaml_fields(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{_join(where, str(unknown[0]))}: unknown key (valid keys here: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], _join(where, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{_join(where, name)}: required key missing")
    return cls(**kwargs)


def _join(where: str, key: str) -> str:
    """``file.yaml: a.b`` + ``c`` -> ``file.yaml: a.b.c``."""
    if where.endswith(":"):
        return f"{where} {key}"
    return f"{where}.{key}" if ": " in where else f"{where}: {key}"


# --------------------------------------------------------------------------------------------------------------
# YAML loading
# --------------------------------------------------------------------------------------------------------------


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
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: task file not found") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err
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


def _field_type(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def apply_override(raw: dict[str, Any], dotted: str, value: Any, *, options_type: type | None = None) -> None:
    """Set ``a.b.c = value`` in the raw config, checking each key against the schema.

    An unknown key raises :class:`ConfigError` naming it and listing the valid keys at that level; the value's
    type is checked when the whole config is validated again.
    """
    parts = dotted.split(".")
    if not dotted or any(not p for p in parts):
        raise ConfigError(f"--set {dotted!r}: expected a dotted key such as finetune.lr")
    cls: Any = TaskConfig
    node = raw
    for depth, key in enumerate(parts):
        here = ".".join(parts[: depth + 1])
        if cls is not None:
            fields = yaml_fields(cls)
            if key not in fields:
                prefix = ".".join(parts[:depth]) or "the top level"
                raise ConfigError(
                    f"--set {dotted}: unknown key {key!r} under {prefix} (valid keys: {', '.join(fields)})"
                )
            tp = options_type if (cls is TaskConfig and key == "options") else _strip_optional(_field_type(cls, key))
            is_section = dataclasses.is_dataclass(tp) or get_origin(tp) is dict or tp is Any or tp is None
            next_cls = tp if dataclasses.is_dataclass(tp) else None
        else:
            is_section, next_cls = True, None  # inside a free-form mapping (dataset.options, synthetic.overrides)
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
        cls = next_cls


def _strip_optional(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def validate(raw: dict[str, Any], *, where: str, name: str | None = None) -> TaskConfig:
    """Validate a merged raw mapping into :class:`TaskConfig` (the kind supplies the ``options`` schema)."""
    from allinone_bench.tasks.base import get_kind

    raw = dict(raw)
    if "version" not in raw:
        raise ConfigError(f"{where} version: required key missing (an integer, bumped when the protocol changes)")
    if name is not None:
        if raw.get("name", name) != name:
            raise ConfigError(f"{where} name: {raw['name']!r} does not match the file name {name!r}")
        raw["name"] = name
    kind_name = raw.get("kind")
    if not isinstance(kind_name, str):
        raise ConfigError(f"{where} kind: required (one of the registered task kinds), got {kind_name!r}")
    kind = get_kind(kind_name, where=f"{where} kind")
    options_raw = raw.pop("options", None)
    cfg: TaskConfig = from_dict(TaskConfig, raw, where)
    cfg.options = from_dict(kind.options_type, options_raw, _join(where, "options"))
    _check_semantics(cfg, where)
    return cfg


def _check_semantics(cfg: TaskConfig, where: str) -> None:
    """Cross-field rules the types alone cannot express."""
    if not cfg.dataset.adapter:
        raise ConfigError(f"{where} dataset.adapter: required (an adapter name, see data/datasets)")
    if not cfg.metrics:
        raise ConfigError(f"{where} metrics: at least one metric is required")
    if not cfg.selection.metric:
        raise ConfigError(f"{where} selection.metric: required (a metric name, or a sum 'a+b')")
    from allinone_bench.metrics import build_metrics, get_metric

    build_metrics(cfg.metrics, where=f"{where} metrics")  # names known, options typed and consistent
    for name in cfg.selection.metric.split("+"):
        try:
            get_metric(name.strip())
        except ConfigError as err:
            raise ConfigError(f"{where} selection.metric: {err}") from None
    ft = cfg.finetune
    if ft.per_device_batch_size <= 0 or ft.batch_size <= 0:
        raise ConfigError(f"{where} finetune.batch_size / per_device_batch_size: must be positive")
    if not 0.0 < ft.val_check_interval <= 1.0:
        raise ConfigError(f"{where} finetune.val_check_interval: a fraction of an epoch in (0, 1], "
                          f"got {ft.val_check_interval}")
    if not 0.0 <= ft.warmup < 1.0:
        raise ConfigError(f"{where} finetune.warmup: a fraction of the total steps in [0, 1), got {ft.warmup}")
    video = cfg.protocol.video
    if cfg.dataset.cache_clips and "rand" in (video.sampling, video.train_sampling):
        raise ConfigError(f"{where} dataset.cache_clips: needs deterministic frames; protocol.video.sampling and "
                          f"train_sampling must be 'uniform' (got {video.sampling!r}, {video.train_sampling!r})")
    if cfg.protocol.video.num_frames < 1:
        raise ConfigError(f"{where} protocol.video.num_frames: must be >= 1")
    if cfg.eval.batch_size <= 0:
        raise ConfigError(f"{where} eval.batch_size: must be positive")
    role_split = cfg.dataset.splits.name(cfg.selection.split)
    if cfg.dataset.splits.train is None:
        return  # evaluation-only task (zero-shot protocol): nothing is selected
    if role_split is None:
        raise ConfigError(f"{where} selection.split: the dataset has no {cfg.selection.split!r} split")
    if cfg.uses_test_for_selection and not cfg.selection.official_protocol_note:
        raise ConfigError(
            f"{where} selection.split: selects on the test split ({role_split!r}); this is refused unless "
            "selection.official_protocol_note explains which official protocol does so"
        )


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
        from allinone_bench.tasks.base import get_kind

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
    cfg.is_synthetic = synthetic
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


def parse_set_args(items: list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    """``["finetune.lr=3e-4", "options.scoring=cross"]`` -> ``{"finetune.lr": 3e-4, ...}``."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. finetune.epochs=2")
        out[key.strip()] = parse_set_value(value.strip())
    return out
