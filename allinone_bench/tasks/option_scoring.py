"""The shared machinery of every "one joint pass per option" kind (:mod:`.multiple_choice`, :mod:`.mc_qa`).

The clip is decoded once per sample and repeated over its options on the device, and the options of a batch are
padded to the largest option count (``option_mask``), so datasets with a different number of options per
question (Ego4D's official config scores 4) work unchanged. A sample with ``option_videos`` (EgoMCQ: one text,
K candidate clips) pairs its text with each clip instead.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample
from allinone_bench.errors import DataError
from allinone_bench.tasks.base import (
    Batch,
    EvalContext,
    EvalResult,
    LossOutput,
    PerSampleKind,
    ProtocolSummary,
    Record,
)
from allinone_bench.tasks.batching import stable_rng

__all__ = ["OptionScoringKind", "collate_options"]


def collate_options(items: list[Batch]) -> Batch:
    """Batch items holding ``text_ids``/``text_mask`` of shape (K_i, L): pad to (B, K_max, L) and add
    ``option_mask`` (B, K_max), True for real options. Other keys are stacked as tensors."""
    if not items:
        raise DataError("collate_options: empty batch")
    k_max = max(int(it["text_ids"].shape[0]) for it in items)
    length = int(items[0]["text_ids"].shape[1])
    b = len(items)
    ids = torch.zeros(b, k_max, length, dtype=torch.long)
    mask = torch.zeros(b, k_max, length, dtype=torch.long)
    option_mask = torch.zeros(b, k_max, dtype=torch.bool)
    for i, it in enumerate(items):
        k = int(it["text_ids"].shape[0])
        ids[i, :k] = it["text_ids"]
        mask[i, :k] = it["text_mask"]
        option_mask[i, :k] = True
    out: Batch = {"text_ids": ids, "text_mask": mask, "option_mask": option_mask}
    for key in items[0]:
        if key not in out:
            out[key] = torch.utils.data.default_collate([it[key] for it in items])
    return out


class OptionScoringKind(PerSampleKind):
    """One joint (video, text_i) pass per option, a scalar score per pass, softmax over a sample's options.

    Subclasses define :meth:`option_texts` (the K texts of a sample) and :meth:`score_pairs` (the head that
    turns the pooled features of each pass into a scalar). Records: ``id``, ``scores`` (one per option),
    ``answer``, ``pred``, ``correct``; the ``mc_acc`` metric scores them.
    """

    sample_type = MultipleChoiceSample

    # ------------------------------------------------------------------ to override
    @abstractmethod
    def option_texts(self, sample: MultipleChoiceSample) -> list[str]:
        """The text paired with the video for each option, in option order."""

    @abstractmethod
    def score_pairs(self, model: torch.nn.Module, cls_feats: torch.Tensor) -> torch.Tensor:
        """(N, D) pooled joint features -> (N,) option scores."""

    # ------------------------------------------------------------------ items
    def check_split(self, split: DatasetSplit) -> None:
        super().check_split(split)
        for sample in split.samples:
            if len(sample.options) < 2 or not 0 <= sample.answer < len(sample.options):
                raise DataError(f"task {self.config.name}: sample {sample.id!r} has {len(sample.options)} options "
                                f"and answer {sample.answer}; need >= 2 options and a 0-based answer among them")

    def _item(self, sample: MultipleChoiceSample, load: Any) -> Batch:
        """``load(video_ref, option) -> clip``. A sample with ``option_videos`` (EgoMCQ: one text, K clips) pairs
        its ``question`` with every option clip; the batch's ``video`` is then (K, T, 3, H, W)."""
        if sample.option_videos:
            clip = torch.stack([load(v, i) for i, v in enumerate(sample.option_videos)])
            texts = [sample.question] * len(sample.option_videos)
        else:
            clip, texts = load(sample.video, 0), self.option_texts(sample)
        ids, mask = self.encode_text(texts)
        return {"video": clip, "text_ids": ids, "text_mask": mask,
                "answer": torch.tensor(int(sample.answer), dtype=torch.long)}

    def train_item(self, sample: MultipleChoiceSample, rng: np.random.Generator) -> Batch:
        return self._item(sample, lambda video, _option: self.load_clip(video, train=True, rng=rng))

    def eval_item(self, sample: MultipleChoiceSample) -> Batch:
        if not sample.option_videos:
            return self._item(sample, lambda _video, _option: self.eval_clip(sample))
        # One text, K clips (EgoMCQ): each option clip's frames come from an rng of (seed, sample id, option).
        return self._item(sample, lambda video, option: self.load_clip(
            video, train=False, rng=stable_rng(self.config.seed, "eval-view", 0, sample.id, option)))

    def collate(self, items: list[Batch]) -> Batch:
        return collate_options(items)

    # ------------------------------------------------------------------ scoring
    def option_scores(self, model: torch.nn.Module, batch: Batch) -> torch.Tensor:
        """(B, K_max) float32 scores; padded options get ``-inf``. Only real options are forwarded: the clip of
        sample i is repeated K_i times, so all options of a batch go through one joint pass."""
        option_mask: torch.Tensor = batch["option_mask"]
        counts = option_mask.sum(dim=1)
        video = batch["video"]
        video = video[option_mask] if video.dim() == 6 else video.repeat_interleave(counts, dim=0)
        out = model(video, batch["text_ids"][option_mask], batch["text_mask"][option_mask])
        flat = self.score_pairs(model, out.cls_feats).float()
        scores = flat.new_full(option_mask.shape, float("-inf"))
        scores[option_mask] = flat
        return scores

    def loss(self, model: torch.nn.Module, batch: Batch) -> LossOutput:
        scores = self.option_scores(model, batch)
        answer = batch["answer"]
        loss = F.cross_entropy(scores, answer)
        acc = float((scores.argmax(dim=1) == answer).float().mean())
        return LossOutput(loss, {"ce": float(loss.detach()), "train_acc": acc})

    def predict(self, model: torch.nn.Module, batch: Batch) -> list[Record]:
        scores = self.option_scores(model, batch)
        counts = batch["option_mask"].sum(dim=1).tolist()
        return [{"scores": row[: int(k)]} for row, k in zip(scores, counts, strict=True)]

    # ------------------------------------------------------------------ evaluation
    @abstractmethod
    def protocol_summary(self, split: DatasetSplit, ctx: EvalContext) -> ProtocolSummary:
        """How the options were scored (and what happened to ``split``'s texts; ``ctx.log`` to warn)."""

    def evaluate(self, model: torch.nn.Module, split: DatasetSplit, ctx: EvalContext) -> EvalResult:
        protocol = self.protocol_summary(split, ctx)  # before the pass: it may warn about the texts
        records: list[Record] = []
        for sample, out in zip(split.samples, self.predict_split(model, split, ctx), strict=True):
            scores = np.asarray(out["scores"], dtype=np.float64)
            pred = int(scores.argmax())
            records.append({"id": sample.id, "scores": scores, "answer": int(sample.answer), "pred": pred,
                            "correct": pred == int(sample.answer)})
            if sample.group:
                records[-1]["group"] = sample.group
        predictions = [{"id": r["id"], "answer": r["answer"], "pred": r["pred"], "correct": r["correct"],
                        "scores": [float(x) for x in r["scores"]], **({"group": r["group"]} if "group" in r else {})}
                       for r in records]
        return EvalResult(records=records, predictions=predictions, protocol=protocol)
