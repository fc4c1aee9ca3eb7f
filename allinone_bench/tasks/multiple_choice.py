"""Caption multiple choice (MSRVTT-MC, LSMDC-MC): pick the caption that matches the video among its options.

Each option caption is paired with the video for one joint pass and scored by the VTM "match" logit
(``model.rank_score``, the official ``rank_output`` = ITM row 1); the prediction is the argmax over the
options. Zero-shot is the paper's headline protocol (the official MC configs run with ``test_only=True``, i.e.
the test file, uniform frames, center crop; our evaluation protocol is always deterministic uniform sampling unless
``protocol.video.sampling: rand``). Finetuning is a softmax cross-entropy over the option scores.

The "one joint pass per option" machinery it shares with :mod:`.mc_qa` is :mod:`.option_scoring`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample
from allinone_bench.errors import ConfigError
from allinone_bench.tasks.base import EvalContext, ProtocolSummary, register_kind
from allinone_bench.tasks.option_scoring import OptionScoringKind

__all__ = ["MultipleChoiceKind", "MultipleChoiceOptions", "reset_rank_head"]


def reset_rank_head(model: torch.nn.Module, *, seed: int) -> None:
    """Re-draw the scorer ``rank_score`` reads (ITM row 1: the official ``rank_output``) as a fresh
    ``Linear(D, 1)``: weight N(0, 0.02) from a generator seeded by the run seed, bias 0."""
    from allinone_bench.engine.seed import seed_for

    fc = model.itm_score.fc
    generator = torch.Generator().manual_seed(seed_for(seed, "rank_head_init"))
    with torch.no_grad():
        fc.weight[1].copy_(torch.randn(fc.weight.shape[1], generator=generator) * 0.02)
        fc.bias[1] = 0.0


@dataclass
class MultipleChoiceOptions:
    """``options:`` of caption multiple-choice tasks. ``score``: ``vtm`` = raw VTM match logit (the official
    ``rank_output``, also the logit trained with cross-entropy); ``vtm_prob`` = softmax probability of "match"
    (evaluation-only alternative; its argmax differs from the logit's when the "no match" logit varies across
    options). Finetuning always uses the raw logits."""

    score: Literal["vtm", "vtm_prob"] = "vtm"
    # Finetuning only. pretrained_vtm: the option scorer starts as the checkpoint's VTM "match" row (what
    # zero-shot scores with). random: it starts at N(0, 0.02), bias 0, as in the official code, whose
    # multiple_choice model recreates itm_score (and so rank_output) after loading the checkpoint.
    rank_head_init: Literal["pretrained_vtm", "random"] = "pretrained_vtm"


@register_kind
class MultipleChoiceKind(OptionScoringKind):
    """Caption choice scored by the VTM head: zero-shot or finetuned (cross-entropy over the options)."""

    name = "multiple_choice"
    options_type = MultipleChoiceOptions
    supports_zero_shot = True

    def option_texts(self, sample: MultipleChoiceSample) -> list[str]:
        return list(sample.options)

    def score_pairs(self, model: torch.nn.Module, cls_feats: torch.Tensor) -> torch.Tensor:
        if self.options.score == "vtm_prob" and not model.training:
            return model.vtm_logits(cls_feats).float().softmax(dim=-1)[:, 1]
        return model.rank_score(cls_feats)

    def prepare_model(self, model: torch.nn.Module, *, zero_shot: bool, load_report: Any | None = None) -> None:
        fresh = list(getattr(load_report, "initialised", []) or []) + list(getattr(load_report, "missing", []) or [])
        if zero_shot and any(k.startswith(("itm_score.", "vtm_score.")) for k in fresh):
            raise ConfigError(f"task {self.config.name}: zero-shot multiple choice scores options with the VTM head "
                              "(itm_score), which this checkpoint lacks; use a pretrained All-in-One checkpoint")
        if not zero_shot and self.options.rank_head_init == "random":
            reset_rank_head(model, seed=self.config.seed)

    def protocol_summary(self, split: DatasetSplit, ctx: EvalContext) -> ProtocolSummary:
        return ProtocolSummary(scoring="VTM match logit (rank_output)" if self.options.score == "vtm"
                               else "VTM match probability", details={"option_text": "caption"})
