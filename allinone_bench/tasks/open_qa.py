"""Open-ended video QA (MSRVTT-QA, MSVD-QA, TGIF-FrameQA): classification over the training answers.

The joint pass's pooler output goes through ``vqa_classifier`` (Dropout-Linear-LN-GELU-Linear) with
``num_labels`` outputs (official: train vocabulary + 1 unused class). Training ignores questions whose answer
is out of vocabulary (label -100, as the reference). Evaluation reports both official denominators, named:
``acc`` (OOV questions count as wrong) and ``acc_in_vocab`` (OOV questions dropped, what the reference code
computes). The classifier head gets ``finetune.head_lr_mult`` (10, official).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from allinone_bench.data.types import DatasetSplit, OpenQASample
from allinone_bench.errors import ConfigError, DataError
from allinone_bench.tasks.base import (
    Batch,
    EvalContext,
    EvalResult,
    LossOutput,
    PerSampleKind,
    ProtocolSummary,
    Record,
    register_kind,
)

IGNORE = -100


@dataclass
class OpenQAOptions:
    """``options:`` of open-QA tasks. ``num_labels``: classifier outputs (``None``: train vocabulary + 1)."""

    num_labels: int | None = None

    def __post_init__(self) -> None:
        if self.num_labels is not None and self.num_labels < 1:
            raise ConfigError(f"options.num_labels: must be >= 1 or null, got {self.num_labels}")


@register_kind
class OpenQAKind(PerSampleKind):
    """Records: ``id``, ``label`` (None when OOV), ``scores`` (logits), plus question/answer/prediction."""

    name = "open_qa"
    sample_type = OpenQASample
    options_type = OpenQAOptions

    def __init__(self, config: Any, tokenizer: Any) -> None:
        super().__init__(config, tokenizer)
        self.num_labels: int | None = None  # classifier outputs, fixed when the model is built

    # ------------------------------------------------------------------ model
    def model_overrides(self, train_split: DatasetSplit | None) -> dict[str, Any]:
        vocab = train_split.answer_vocab if train_split is not None else None
        if not vocab:
            raise DataError(f"task {self.config.name}: open QA needs the training answer vocabulary "
                            f"(adapter {self.config.dataset.adapter!r} gave none)")
        n = self.options.num_labels if self.options.num_labels is not None else len(vocab) + 1
        if n < len(vocab):
            raise ConfigError(f"task {self.config.name}: options.num_labels={n} is smaller than the training "
                              f"answer vocabulary ({len(vocab)} answers)")
        self.num_labels = n
        return {"qa_labels": n}

    # ------------------------------------------------------------------ items
    def _label(self, sample: OpenQASample) -> int:
        if sample.label is None:
            return IGNORE
        if self.num_labels is not None and not 0 <= sample.label < self.num_labels:
            raise DataError(f"sample {sample.id!r}: label {sample.label} outside the classifier's "
                            f"{self.num_labels} classes")
        return int(sample.label)

    def _item(self, sample: OpenQASample, clip: torch.Tensor) -> Batch:
        ids, mask = self.encode_text([sample.question])
        return {"video": clip, "text_ids": ids[0], "text_mask": mask[0],
                "label": torch.tensor(self._label(sample), dtype=torch.long)}

    def train_item(self, sample: OpenQASample, rng: np.random.Generator) -> Batch:
        return self._item(sample, self.load_clip(sample.video, train=True, rng=rng))

    def eval_item(self, sample: OpenQASample) -> Batch:
        return self._item(sample, self.eval_clip(sample))

    # ------------------------------------------------------------------ finetuning
    def loss(self, model: torch.nn.Module, batch: Batch) -> LossOutput:
        logits = model.qa_logits(model(batch["video"], batch["text_ids"], batch["text_mask"]).cls_feats)
        labels = batch["label"]
        valid = labels != IGNORE
        if not bool(valid.any()):  # only OOV questions in this batch: nothing to learn, keep the graph
            return LossOutput(logits.sum() * 0.0, {"ce": 0.0})
        loss = F.cross_entropy(logits.float(), labels, ignore_index=IGNORE)
        acc = float((logits.argmax(-1)[valid] == labels[valid]).float().mean())
        return LossOutput(loss, {"ce": float(loss.detach()), "train_acc": acc})

    # ------------------------------------------------------------------ evaluation
    def predict(self, model: torch.nn.Module, batch: Batch) -> list[Record]:
        logits = model.qa_logits(model(batch["video"], batch["text_ids"], batch["text_mask"]).cls_feats).float()
        return [{"scores": row} for row in logits]

    def evaluate(self, model: torch.nn.Module, split: DatasetSplit, ctx: EvalContext) -> EvalResult:
        answers = answer_strings(split.answer_vocab or {})
        records: list[Record] = []
        for sample, out in zip(split.samples, self.predict_split(model, split, ctx), strict=True):
            scores = np.asarray(out["scores"], dtype=np.float32)
            pred = int(scores.argmax())
            records.append({
                "id": sample.id,
                "label": sample.label,
                "scores": scores,
                "pred_label": pred,
                "pred_answer": answers[pred] if pred < len(answers) else None,
                "answer": sample.answer,
                "question": sample.question,
                "in_vocab": sample.label is not None,
            })
        return EvalResult(records=records, predictions=[export_record(r) for r in records],
                          protocol=ProtocolSummary(
                              scoring="vqa_classifier argmax",
                              details={"num_labels": self.num_labels,
                                       "oov": "acc counts out-of-vocabulary answers as wrong; acc_in_vocab "
                                              "excludes them"}))


def answer_strings(vocab: dict[str, int]) -> list[str]:
    """label -> answer string of an answer vocabulary (answer -> label)."""
    answers = [""] * (max(vocab.values()) + 1 if vocab else 0)
    for answer, label in vocab.items():
        answers[label] = answer
    return answers


def export_record(record: Record) -> Record:
    """Prediction without the logit vector; ``correct`` is False for OOV questions (as in ``acc``)."""
    rec = {k: v for k, v in record.items() if k != "scores"}
    rec["correct"] = bool(record["label"] is not None and record["pred_label"] == record["label"])
    return rec
