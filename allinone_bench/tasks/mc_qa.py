"""Multiple-choice QA with the options in the text (TGIF-QA Action / Transition; TVQA uses the same template).

Official ``mc_vqa`` (``objectives.py``, ``allinone_module.py``): each option i pairs the video with the prompt

    question + "Options: " + " ".join(options) + "Answer: " + options[i]

built with NO separating spaces (``"...do?Options: a b c d eAnswer: e"``), tokenised and cut at the end to
``protocol.text.max_len`` (40), so a long question can lose the answer part (counted and logged). Each pass's
pooled features go through ``mc_vqa_classifier`` (Dropout-Linear(D,256)-LN-GELU-Linear(256,1)); the K scores
of a sample are soft-maxed and trained with cross-entropy. The classifier is a new head, so there is no
zero-shot protocol. ``prompt: spaced`` inserts the spaces the official template lacks (a named deviation,
recorded in ``results.json``).

Context (TVQA, ``protocol.text.subtitles: window``): the subtitle lines of the question's window go between the
options and the answer (``... Options: ... Subtitles: <lines> Answer: a_i``). ``truncation: context_first``
then keeps the question and the answer whole and cuts, in order, the subtitles and then the option list from
their end until the prompt fits ``max_len``; ``truncation: end`` (official) cuts the end of the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, Literal

import torch

from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample
from allinone_bench.errors import DataError
from allinone_bench.tasks.base import EvalContext, ProtocolSummary, register_kind
from allinone_bench.tasks.option_scoring import OptionScoringKind

__all__ = ["MCQAKind", "MCQAOptions", "build_prompt", "build_prompts"]

PromptStyle = Literal["official", "spaced"]


def build_prompt(question: str, options: list[str] | tuple[str, ...], index: int,
                 style: PromptStyle = "official", context: str = "", joined: str | None = None) -> str:
    """The text paired with the video for option ``index`` (see the module docstring); ``joined`` replaces
    the option list (a truncated one)."""
    joined = " ".join(options) if joined is None else joined
    middle = f"Subtitles: {context}" if context else ""
    if style == "spaced":
        return f"{question} Options: {joined} {middle + ' ' if middle else ''}Answer: {options[index]}"
    return question + "Options: " + joined + middle + "Answer: " + options[index]


def _fit_words(words: list[str], fits: Callable[[int], bool]) -> int:
    """Largest ``k`` in ``0..len(words)`` with ``fits(k)`` (``fits`` is monotone), by bisection."""
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def build_prompts(question: str, options: list[str] | tuple[str, ...], style: PromptStyle = "official") -> list[str]:
    """One prompt per option, in option order."""
    return [build_prompt(question, options, i, style) for i in range(len(options))]


@dataclass
class MCQAOptions:
    """``options:`` of MC-QA tasks. ``prompt``: ``official`` (no separating spaces) or ``spaced``;
    ``truncation``: ``end`` (official: the prompt's end, i.e. the answer, is cut) or ``context_first``."""

    prompt: PromptStyle = "official"
    truncation: Literal["end", "context_first"] = "end"


@register_kind
class MCQAKind(OptionScoringKind):
    """Question + options + candidate answer per pass, scored by ``mc_vqa_classifier``."""

    name = "mc_qa"
    options_type = MCQAOptions
    supports_zero_shot = False

    def option_texts(self, sample: MultipleChoiceSample) -> list[str]:
        context = sample.context if self.config.protocol.text.subtitles == "window" else ""
        if self.options.truncation == "end":
            return [build_prompt(sample.question, sample.options, i, self.options.prompt, context)
                    for i in range(len(sample.options))]
        return [self._fitted_prompt(sample, i, context) for i in range(len(sample.options))]

    def _fitted_prompt(self, sample: MultipleChoiceSample, index: int, context: str) -> str:
        """``context_first``: drop subtitle words, then option-list words, from the end until it fits."""
        limit = self.config.protocol.text.max_len - 2
        style, question, options = self.options.prompt, sample.question, sample.options

        def prompt(sub_words: list[str], opt_words: list[str]) -> str:
            return build_prompt(question, options, index, style, " ".join(sub_words), " ".join(opt_words))

        def fits(text: str) -> bool:
            return len(self.tokenizer.tokenize(text)) <= limit

        subs, opts = context.split(), " ".join(options).split()
        if fits(prompt(subs, opts)):
            return prompt(subs, opts)
        kept = _fit_words(subs, lambda k: fits(prompt(subs[:k], opts)))
        if kept:
            return prompt(subs[:kept], opts)
        return prompt([], opts[: _fit_words(opts, lambda k: fits(prompt([], opts[:k])))])

    def score_pairs(self, model: torch.nn.Module, cls_feats: torch.Tensor) -> torch.Tensor:
        return model.mc_logit(cls_feats)

    def check_split(self, split: DatasetSplit) -> None:
        super().check_split(split)
        if self.config.protocol.text.subtitles == "window" and not any(s.context for s in split.samples):
            files = ", ".join(map(str, split.annotation_files))
            raise DataError(f"task {self.config.name}: protocol.text.subtitles=window but split {split.split!r} "
                            f"has no subtitle text (read: {files}); add the subtitle files or use subtitles=none")

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
        if self.config.protocol.text.subtitles == "window":
            template = template.replace('"Answer: "', '"Subtitles: " + subtitles_in_ts_window + "Answer: "')
        truncation = ("end (official)" if self.options.truncation == "end"
                      else "context_first: subtitles, then the option list, cut before question or answer")
        return ProtocolSummary(scoring="mc_vqa_classifier, softmax over options",
                               details={"prompt": self.options.prompt, "prompt_template": template,
                                        "truncation": truncation, "subtitles": self.config.protocol.text.subtitles,
                                        "truncated_samples": truncated})
