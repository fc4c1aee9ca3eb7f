"""The configuration of an All-in-One model, one dataclass shared by building, checkpoint I/O and reports.

A config fully determines the module tree (and so the state-dict keys and shapes), plus the few forward-time
switches that the benchmark varies (rolling mode, patch permutation, attention kernel).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from allinone_bench.errors import ConfigError

ROLLING_MODES: tuple[str, ...] = ("roll", "none", "flatten")
PATCH_PERMUTATIONS: tuple[str, ...] = ("off", "seeded")


@dataclass
class AllInOneConfig:
    """Architecture + forward options of one All-in-One model.

    Defaults are the official ones (official AllInOne/config.py and modules/base_vision_transformer.py): depth 12,
    patch 16, 224 px frames, 3 frames, 40 text positions, BERT vocabulary, dropout 0.1, stochastic depth 0.1
    (both inactive in eval).
    """

    variant: str = "b"
    hidden_size: int = 768
    num_heads: int = 12
    depth: int = 12
    mlp_ratio: float = 4.0
    distilled: bool = False  # DeiT distilled backbone: cls + dist prefix tokens (the S model)
    image_size: int = 224
    patch_size: int = 16
    num_frames: int = 3
    max_text_len: int = 40
    vocab_size: int = 30522
    drop_rate: float = 0.1
    drop_path_rate: float = 0.1
    # --- forward-time options ---
    rolling: str = "roll"  # "roll" (official) | "none" (frames independent) | "flatten" (one joint sequence)
    roll_div: int = 8  # fold = video_tokens_per_frame // roll_div tokens move each way per block
    patch_permutation: str = "off"  # "off" (deterministic) | "seeded" (official random patch order, seeded)
    permutation_seed: int = 0
    fused_attn: bool = True  # F.scaled_dot_product_attention; False = explicit softmax(QK^T)V (same numbers)
    # --- optional task heads (never in the released pretrained checkpoints) ---
    qa_labels: int | None = None  # creates vqa_classifier with this many classes
    mc_head: bool = False  # creates mc_vqa_classifier
    contrastive: bool = False  # creates txt_proj / vid_proj
    contrastive_dim: int = 512
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes (e.g. where the config came from)

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first inconsistent field."""
        positive = ("hidden_size", "num_heads", "depth", "image_size", "patch_size", "num_frames",
                    "max_text_len", "vocab_size", "roll_div", "contrastive_dim")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"model config: {name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"model config: hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.image_size % self.patch_size:
            raise ConfigError(
                f"model config: image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        if self.rolling not in ROLLING_MODES:
            raise ConfigError(f"model config: rolling must be one of {ROLLING_MODES}, got {self.rolling!r}")
        if self.patch_permutation not in PATCH_PERMUTATIONS:
            raise ConfigError(
                f"model config: patch_permutation must be one of {PATCH_PERMUTATIONS}, "
                f"got {self.patch_permutation!r}")
        if self.qa_labels is not None and (isinstance(self.qa_labels, bool) or not isinstance(self.qa_labels, int)
                                           or self.qa_labels <= 0):
            raise ConfigError(f"model config: qa_labels must be a positive integer or null, got {self.qa_labels!r}")
        for name in ("drop_rate", "drop_path_rate"):
            value = getattr(self, name)
            if not 0.0 <= float(value) < 1.0:
                raise ConfigError(f"model config: {name} must be in [0, 1), got {value!r}")

    # ------------------------------------------------------------------ derived sizes
    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def grid_size(self) -> int:
        """Patches per side of a frame."""
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid_size**2

    @property
    def num_prefix_tokens(self) -> int:
        """Vision prefix tokens per frame: cls, plus dist for the distilled (S) backbone."""
        return 2 if self.distilled else 1

    @property
    def video_tokens_per_frame(self) -> int:
        """L_v: 197 for a 224 px frame (198 for the distilled S model)."""
        return self.num_prefix_tokens + self.num_patches

    @property
    def roll_fold(self) -> int:
        """Video token positions rolled each way per block (24 for L_v = 197 or 198)."""
        return self.video_tokens_per_frame // self.roll_div

    @property
    def uses_temporal_embed(self) -> bool:
        """The distilled backbone's embedding never adds ``temporal_embed`` (official behaviour)."""
        return not self.distilled

    def joint_sequence_length(self, text_len: int | None = None) -> int:
        """Tokens in one attention sequence of the joint pass (per frame, or the whole clip for ``flatten``)."""
        lt = self.max_text_len if text_len is None else text_len
        if self.rolling == "flatten":
            return lt + self.num_frames * self.video_tokens_per_frame
        return lt + self.video_tokens_per_frame

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AllInOneConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"model config: unknown field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**data)

    def replace(self, **overrides: Any) -> AllInOneConfig:
        """A copy with ``overrides`` applied (unknown names raise :class:`ConfigError`)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"model override(s) {unknown} not understood; known: {sorted(known)}")
        return dataclasses.replace(self, **overrides)
