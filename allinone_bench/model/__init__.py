"""All-in-One model: variants, forward passes, heads, checkpoint I/O.

    from allinone_bench.model import build_model, load_checkpoint
    model = build_model("b", num_frames=3)
    report = load_checkpoint(model, "all-in-one-base")      # a name from checkpoints.yaml, or a path
    out = model(video, text_ids, text_mask)                  # JointOutput
"""

from __future__ import annotations

from allinone_bench.model.allinone import AllInOne, JointOutput, UnimodalOutput
from allinone_bench.model.checkpoint import (
    LoadReport,
    apply_state_dict,
    build_from_checkpoint,
    infer_config,
    load_checkpoint,
    load_pretrained,
    read_state_dict,
    save_pretrained,
    sha256_file,
)
from allinone_bench.model.config import PATCH_PERMUTATIONS, ROLLING_MODES, AllInOneConfig
from allinone_bench.model.hub import CheckpointEntry, ResolvedCheckpoint, list_checkpoints, resolve_checkpoint
from allinone_bench.model.registry import build_model, list_variants, register_variant, variant_config
from allinone_bench.model.rolling import temporal_roll

__all__ = [
    "PATCH_PERMUTATIONS",
    "ROLLING_MODES",
    "AllInOne",
    "AllInOneConfig",
    "CheckpointEntry",
    "JointOutput",
    "LoadReport",
    "ResolvedCheckpoint",
    "UnimodalOutput",
    "apply_state_dict",
    "build_from_checkpoint",
    "build_model",
    "infer_config",
    "list_checkpoints",
    "list_variants",
    "load_checkpoint",
    "load_pretrained",
    "read_state_dict",
    "register_variant",
    "resolve_checkpoint",
    "save_pretrained",
    "sha256_file",
    "temporal_roll",
    "variant_config",
]
