"""The task schema: pydantic v2 models of a task YAML, and :func:`validate` (raw mapping -> :class:`TaskConfig`).

A task YAML is validated before anything runs, so a typo fails at once with the file and dotted key named
instead of being silently ignored (the lm-eval lesson). Reading files and ``include:`` is
:mod:`allinone_bench.tasks.includes`; ``--set`` is :mod:`allinone_bench.tasks.overrides`; the layering
(includes -> synthetic overrides -> ``official:`` preset -> ``--set``) is :mod:`allinone_bench.tasks.loader`.
The ``options:`` block is kind-specific: its schema is the kind's ``options_type`` (a model or a dataclass),
found through the torch-free kind registry (:mod:`allinone_bench.tasks.kinds`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from allinone_bench.data.protocol import PositiveInt, Sampling, VideoProtocol
from allinone_bench.errors import ConfigError
from allinone_bench.validation import StrictModel, join, validate_as

SplitRole = Literal["train", "val", "test"]
Workers = Union[int, Literal["auto"]]  # DataLoader workers; auto: see allinone_bench.engine.loader


class VideoSettings(VideoProtocol):
    """``protocol.video``: the data pipeline's :class:`VideoProtocol` (defaults and checks live there) plus
    ``train_sampling``, the sampling used for finetuning (official: random frames in training) while
    ``sampling`` is used for evaluation. The model's ``image_size`` is always ``crop``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=False)
    __init__ = BaseModel.__init__  # nested in a task: errors name the file and the dotted key, not "video protocol"

    train_sampling: Sampling = "rand"

    def to_protocol(self, train: bool = False) -> VideoProtocol:
        """The data pipeline's protocol for evaluation (``train=False``) or finetuning."""
        data = {name: getattr(self, name) for name in VideoProtocol.model_fields}
        data["sampling"] = self.train_sampling if train else self.sampling
        return VideoProtocol(**data)


class TextSettings(StrictModel):
    """Tokenisation. ``mode``: ``single`` = every caption is its own text (a training step draws one at random);
    ``paragraph`` = a video's sentences are joined into one text (DiDeMo / ActivityNet paragraph retrieval)."""

    max_len: int = 40
    mode: Literal["single", "paragraph"] = "single"
    subtitles: Literal["none", "window"] = "none"  # TVQA: add the subtitle lines of the question's window


class ProtocolSettings(StrictModel):
    """Everything that changes what the numbers mean; all of it is written to ``results.json``."""

    video: VideoSettings = Field(default_factory=VideoSettings)
    text: TextSettings = Field(default_factory=TextSettings)
    rolling: Literal["roll", "none", "flatten"] = "roll"
    patch_permutation: Literal["off", "seeded"] = "off"
    permutation_seed: int = 0
    # ``official: true`` applies the task's ``official:`` preset (the official code's protocol) when the task
    # is loaded; the loader then fills ``official_changes`` (dotted key -> [before, after]) for results.json.
    official: bool = False
    official_changes: dict[str, Any] = Field(default_factory=dict)


class ModelSettings(StrictModel):
    """Which All-in-One to build. ``checkpoint`` (name from checkpoints.yaml or a path) is what ``--checkpoint``
    overrides; ``None`` = random initialisation (numbers are then not the paper's)."""

    variant: Literal["ti", "s", "b"] = "b"
    checkpoint: str | None = None
    depth: int | None = None
    patch_size: int | None = None
    drop_rate: float | None = None
    drop_path_rate: float | None = None


class Splits(StrictModel):
    """Map of roles to the adapter's split names (``None``: the dataset has no such split)."""

    train: str | None = "train"
    val: str | None = "val"
    test: str = "test"

    def name(self, role: SplitRole) -> str | None:
        return getattr(self, role)


class DatasetSettings(StrictModel):
    """The adapter (``get_adapter(adapter)(data_root, **options)``) and which of its splits play which role.

    ``cache_clips`` decodes each clip once per process and reuses it: only for small datasets, and only with
    deterministic frame sampling (``uniform`` for both evaluation and training); it freezes the training random
    crop at its first draw (a no-op when ``resize == crop`` on square frames, as in the synthetic runs).
    """

    adapter: str = ""
    options: dict[str, Any] = Field(default_factory=dict)
    splits: Splits = Field(default_factory=Splits)
    cache_clips: bool = False  # keep decoded clips in memory (small datasets; needs uniform sampling)


class SelectionSettings(StrictModel):
    """Model selection during finetuning: the best epoch by ``metric`` on the ``split`` role is kept.

    ``metric`` may be a sum written ``"a+b"`` (official retrieval: t2v R@1 + v2t R@1). Selecting on the test
    split is refused unless ``official_protocol_note`` says why (the official QA protocol does it).
    """

    split: SplitRole = "val"
    metric: str = ""
    mode: Literal["max", "min"] = "max"
    official_protocol_note: str | None = None


class FinetuneSettings(StrictModel):
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
    head_param_patterns: list[str] = Field(default_factory=lambda: ["vqa_classifier"])
    warmup: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1  # a fraction of the total steps
    weight_decay: float = 0.01
    betas: Annotated[tuple[float, float], Field(strict=False)] = (0.9, 0.98)  # YAML writes a list
    eps: float = 1e-8
    batch_size: PositiveInt = 256
    per_device_batch_size: PositiveInt = 16
    grad_clip: float | None = None
    precision: Literal["auto", "auto_fp16", "bf16", "fp16", "fp32"] = "auto"
    num_workers: Workers = "auto"
    eval_every: int = 1
    val_check_interval: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0  # a fraction of an epoch
    find_unused_parameters: bool = True


class EvalSettings(StrictModel):
    """Evaluation batching (per device) and loader workers."""

    batch_size: PositiveInt = 32
    num_workers: Workers = "auto"
    precision: Literal["auto", "auto_fp16", "bf16", "fp16", "fp32"] = "auto"


class SyntheticSettings(StrictModel):
    """The CPU-sized run used when no ``--data-root`` is given: the adapter's synthetic set of ``num_videos``
    videos (``seed``), and ``overrides`` deep-merged into the task config (tiny model, few epochs)."""

    num_videos: int = 24
    seed: int = 0
    overrides: dict[str, Any] = Field(default_factory=dict)


class NoOptions(StrictModel):
    """Options schema of kinds that take none."""


class TaskConfig(StrictModel):
    """One validated task. ``options`` is an instance of the kind's ``options_type``."""

    name: str
    version: int
    kind: str
    dataset: DatasetSettings
    metrics: list[str | dict[str, Any]]  # names, or {name: ..., <metric option>: ...} (allinone_bench.metrics)
    selection: SelectionSettings
    description: str = ""
    seed: int = 0
    protocol: ProtocolSettings = Field(default_factory=ProtocolSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    finetune: FinetuneSettings = Field(default_factory=FinetuneSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    synthetic: SyntheticSettings = Field(default_factory=SyntheticSettings)
    options: Any = Field(default_factory=NoOptions)
    # What ``protocol.official: true`` sets: a nested mapping merged over the task (after synthetic overrides,
    # before the other ``--set`` keys), written in the task files and their includes.
    official: dict[str, Any] = Field(default_factory=dict)
    # Not a YAML key: the file it was loaded from.
    source: Path | None = Field(default=None, exclude=True)

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
        return self.model_dump(mode="json")




def validate(raw: dict[str, Any], *, where: str, name: str | None = None) -> TaskConfig:
    """Validate a merged raw mapping into :class:`TaskConfig` (the kind supplies the ``options`` schema)."""
    from allinone_bench.tasks.kinds import get_kind

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
    cfg: TaskConfig = validate_as(TaskConfig, raw, where)
    cfg.options = validate_as(kind.options_type, options_raw, join(where, "options"))
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
    video = cfg.protocol.video
    if cfg.dataset.cache_clips and "rand" in (video.sampling, video.train_sampling):
        raise ConfigError(f"{where} dataset.cache_clips: needs deterministic frames; protocol.video.sampling and "
                          f"train_sampling must be 'uniform' (got {video.sampling!r}, {video.train_sampling!r})")
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
