"""Multiple-choice QA with the options in the text (TGIF-QA Action / Transition; TVQA uses the same template).

Official ``mc_vqa`` (reference sections 2 and 5): for every option i the video is paired with the prompt

    question + "Options: " + " ".join(options) + "Answer: " + options[i]

built with NO separating spaces (``"...do?Options: a b c d eAnswer: e"``), tokenised and cut at the end to
``protocol.text.max_len`` (40), so a long question can lose the answer part (counted and logged). Each pass's
pooled features go through ``mc_vqa_classifier`` (Dropout-Linear(D,256)-LN-GELU-Linear(256,1)); the K scores
of a sample are soft-maxed and trained with cross-entropy. The classifier is a new head, so there is no
zero-shot protocol. ``prompt: spaced`` inserts the spaces the official template lacks (a named deviation,
recorded in ``results.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample
from allinone_bench.tasks.base import EvalContext, ProtocolSummary, register_kind
from allinone_bench.tasks.multiple_choice import OptionScoringKind

__all__ = ["MCQAKind", "MCQAOptions", "build_prompt", "build_prompts"]

PromptStyle = Literal["official", "spaced"]


def build_prompt(question: str, options: list[str] | tuple[str, ...], index: int,
                 style: PromptStyle = "official") -> str:
    """The text paired with the video for option ``index`` (see the module docstring)."""
    joined = " ".join(options)
    if style == "spaced":
        return f"{question} Options: {joined} Answer: {options[index]}"
    return question + "Options: " + joined + "Answer: " + options[index]


def build_prompts(question: str, options: list[str] | tuple[str, ...], style: PromptStyle = "official") -> list[str]:
    """One prompt per option, in option order."""
    return [build_prompt(question, options, i, style) for i in range(len(options))]


@dataclass
class MCQAOptions:
    """``options:`` of MC-QA tasks. ``prompt``: ``official`` (no separating spaces) or ``spaced``."""

    prompt: PromptStyle = "official"


@register_kind
class MCQAKind(OptionScoringKind):
    """Question + options + candidate answer per pass, scored by ``mc_vqa_classifier``."""

    name = "mc_qa"
    options_type = MCQAOptions
    supports_zero_shot = False

    def option_texts(self, sample: MultipleChoiceSample) -> list[str]:
        return build_prompts(sample.question, sample.options, self.options.prompt)

    def score_pairs(self, model: torch.nn.Module, cls_feats: torch.Tensor) -> torch.Tensor:
        return model.mc_logit(cls_feats)

    def model_overrides(self, train_split: DatasetSplit | None) -> dict[str, Any]:
        return {"mc_head": True}

    def count_truncated(self, samples: list[MultipleChoiceSample]) -> int:
        """Samples with at least one prompt longer than ``max_len`` tokens ([CLS] and [SEP] included): their
        answer text is cut, as in the official code."""
        limit = self.config.protocol.text.max_len - 2
        return sum(
            any(len(self.tokenizer.tokenize(text)) > limit for text in self.option_texts(s)) for s in samples
        )

    def protocol_summary(self, split: DatasetSplit, ctx: EvalContext) -> ProtocolSummary:
        """The prompt template, and how many of ``split``'s samples lose their answer text to ``max_len``."""
        truncated = self.count_truncated(list(split.samples))
        if truncated:
            ctx.log(f"[yellow]{self.config.name} {split.split}: {truncated} of {len(split.samples)} samples have "
                    f"prompts longer than max_len={self.config.protocol.text.max_len} tokens; their end (the "
                    "answer) is cut, as in the official code[/]")
        template = ('question + "Options: " + " ".join(options) + "Answer: " + option_i' if self.options.prompt ==
                    "official" else 'question + " Options: " + " ".join(options) + " Answer: " + option_i')
        return ProtocolSummary(scoring="mc_vqa_classifier, softmax over options",
                               details={"prompt": self.options.prompt, "prompt_template": template,
                                        "truncation": "end (official)", "truncated_samples": truncated})
