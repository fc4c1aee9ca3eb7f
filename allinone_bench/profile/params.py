"""Parameter counts by component, and the counting rule behind the paper's Table 1 (12M / 33M / 110M).

Components are recognised by the official state-dict names (``transformer.blocks.3.attn.qkv.weight``,
``text_embeddings.word_embeddings.weight``, ``itm_score.fc.weight`` ...), so the same table works for any model
built by :func:`allinone_bench.model.build_model` and for a raw checkpoint state dict.

Table 1 rule (see :data:`TABLE1_COMPONENTS`): the paper's figure is the model that is fine-tuned and evaluated,
i.e. the released checkpoint without its MLM pre-training head: vision embedding (patch conv, cls/dist tokens,
position embedding) + 12 blocks + final norm + text embeddings + modality embedding + pooler + ITM head.
``temporal_embed`` (T x D, absent from the released checkpoints, zeros here) and optional task heads are not
counted. That gives Ti 11.43M, S 33.55M, B 109.87M: B rounds to the paper's 110M, S and Ti are within 0.6M of
its 33M and 12M. Table 1 itself is not internally consistent: no combination of candidate components (the above
plus temporal_embed, MLM transform / bias / decoder, an ImageNet head, a QA head) rounds to all three printed
figures under one rule (nearest, floor or ceil). S at 33M needs < 33.5M, which only the bare backbone + text
embeddings give (33.40M), and the same set gives Ti 11.39M, not 12M. Counting the MLM head is ruled out
(Ti 17.4M, S 45.5M, B 133.9M).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = [
    "COMPONENTS",
    "ParamBreakdown",
    "TABLE1_COMPONENTS",
    "TABLE1_PARAMS",
    "count_params",
    "count_state_dict",
    "variant_params",
]

#: Component name -> state-dict name prefixes, first match wins. Order is the display order.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "video_embed": (
        "transformer.patch_embed.",
        "transformer.cls_token",
        "transformer.dist_token",
        "transformer.pos_embed",
    ),
    "temporal_embed": ("transformer.temporal_embed",),
    "blocks": ("transformer.blocks.",),
    "final_norm": ("transformer.norm.",),
    "text_embed": ("text_embeddings.",),
    "modality_embed": ("token_type_embeddings.",),
    "pooler": ("pooler.",),
    "itm_head": ("itm_score.", "vtm_score."),
    "mlm_head": ("mlm_score.",),
    "qa_head": ("vqa_classifier.",),
    "mc_head": ("mc_vqa_classifier.",),
    "contrastive_proj": ("txt_proj.", "vid_proj."),
    "rank_output": ("rank_output.",),
}

#: What Table 1 of the paper counts (see module docstring for the evidence).
TABLE1_COMPONENTS: tuple[str, ...] = (
    "video_embed",
    "blocks",
    "final_norm",
    "text_embed",
    "modality_embed",
    "pooler",
    "itm_head",
)

#: Table 1 "#Params" column, as printed.
TABLE1_PARAMS: dict[str, int] = {"ti": 12_000_000, "s": 33_000_000, "b": 110_000_000}

#: Buffers that a state dict may carry but that are not parameters.
_NON_PARAMETER_KEYS: tuple[str, ...] = ("text_embeddings.position_ids",)


def _component_of(name: str) -> str:
    for component, prefixes in COMPONENTS.items():
        if name.startswith(prefixes):
            return component
    return "other"


@dataclass
class ParamBreakdown:
    """Parameter count per component; ``other`` lists names no component claims (never silently dropped)."""

    by_component: dict[str, int]
    unassigned: list[str] = field(default_factory=list)
    variant: str | None = None

    @property
    def total(self) -> int:
        return sum(self.by_component.values())

    def count(self, components: Iterable[str]) -> int:
        return sum(self.by_component.get(c, 0) for c in components)

    @property
    def table1(self) -> int:
        """The count under the paper's Table 1 rule (:data:`TABLE1_COMPONENTS`)."""
        return self.count(TABLE1_COMPONENTS)

    @property
    def table1_paper(self) -> int | None:
        return TABLE1_PARAMS.get(self.variant) if self.variant else None

    def to_dict(self) -> dict[str, object]:
        return {
            "variant": self.variant,
            "by_component": dict(self.by_component),
            "total": self.total,
            "table1_rule": list(TABLE1_COMPONENTS),
            "table1_count": self.table1,
            "table1_paper": self.table1_paper,
            "unassigned": list(self.unassigned),
        }


def _breakdown(items: Iterable[tuple[str, int]], variant: str | None) -> ParamBreakdown:
    counts: dict[str, int] = {c: 0 for c in COMPONENTS}
    counts["other"] = 0
    unassigned: list[str] = []
    for name, numel in items:
        component = _component_of(name)
        counts[component] += numel
        if component == "other":
            unassigned.append(name)
    return ParamBreakdown(by_component={k: v for k, v in counts.items() if v}, unassigned=unassigned, variant=variant)


def _variant_of(model: nn.Module) -> str | None:
    config = getattr(model, "config", None)
    variant = getattr(config, "variant", None)
    return str(variant) if variant is not None else None


def count_params(model: nn.Module, *, variant: str | None = None) -> ParamBreakdown:
    """Count ``model``'s parameters by component. Works on meta-device models (only shapes are read).

    Parameters shared between modules (the same ``nn.Parameter`` object) are counted once, as
    ``model.parameters()`` does.
    """
    items = ((name, p.numel()) for name, p in model.named_parameters())
    return _breakdown(items, variant if variant is not None else _variant_of(model))


def count_state_dict(state_dict: Mapping[str, torch.Tensor], *, variant: str | None = None) -> ParamBreakdown:
    """Count a checkpoint's tensors by component (buffers such as ``position_ids`` are skipped)."""
    items = ((k, int(v.numel())) for k, v in state_dict.items() if not k.endswith(_NON_PARAMETER_KEYS))
    return _breakdown(items, variant)


def variant_params(variant: str, **overrides: object) -> ParamBreakdown:
    """Count a full-size registered variant without allocating it (built on the meta device)."""
    from allinone_bench.profile.build import build_meta_model

    return count_params(build_meta_model(variant, **overrides))
