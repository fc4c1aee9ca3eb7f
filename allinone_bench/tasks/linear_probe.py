"""Action recognition by linear probe on the frozen All-in-One (K400, HMDB51, UCF101; paper Table 6).

Two probes (``options.probe``):

* ``sklearn`` (default): frozen video-only features, ``encode_video`` (no text, no roll: frames are
  independent and averaged), pooled as the vision cls token (``pooling: cls``, the paper's "cls token of the
  last layer") or the mean of all tokens (``mean``); extracted with the evaluation protocol (uniform frames,
  center crop) for the train and test splits through ``ctx.map`` (cached by sample id), then a standardised
  multinomial logistic regression (:mod:`allinone_bench.metrics.probe`) whose ``C`` is chosen on a held-out
  ``val_fraction`` of the *training* features. Nothing is finetuned, so the engine's loop is skipped.
* ``official``: the official ``linear_evaluation=True`` recipe (``allinone_module.py``): the joint pass with the
  text prompt ``"A person is doing [MASK]"`` (the official K400 config spells it "A persion ..."; set
  ``prompt`` to reproduce that), the backbone frozen, ``pooler`` + ``vqa_classifier`` (classes + 1 outputs)
  trained with cross-entropy through the engine's finetuning loop (random frames, dropout active in the frozen
  backbone as in the reference, which keeps the whole module in train mode). The reference also leaves the
  unused ``mlm_score``/``itm_score`` trainable; they receive no gradient, so freezing them changes nothing.

Both report ``top1`` / ``top5`` / ``top10`` through the ``topk_accuracy`` metric (whichever ``top<k>`` the task
lists; percent; ties by the metric's ``ties`` option; a test class absent from the training features is scored
``-inf`` and counts as wrong), as in Table 6. The sklearn probe's evaluation is three visible steps: extract
frozen features, fit the classifier on the training features (:meth:`LinearProbeKind.fit_probe`), predict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from allinone_bench.data.types import ClassificationSample, DatasetSplit
from allinone_bench.errors import ConfigError, DataError
from allinone_bench.metrics.probe import DEFAULT_C_GRID, LinearProbe, fit_linear_probe
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

__all__ = ["LinearProbeKind", "LinearProbeOptions", "class_names_of"]

OFFICIAL_PROMPT = "A person is doing [MASK]"
TRAINABLE_OFFICIAL = ("pooler.", "vqa_classifier.")


@dataclass
class LinearProbeOptions:
    """``options:`` of linear-probe tasks (see the module docstring)."""

    probe: Literal["sklearn", "official"] = "sklearn"
    pooling: Literal["cls", "mean"] = "cls"  # sklearn: vision cls token or mean of all video tokens
    C: list[float] = field(default_factory=lambda: list(DEFAULT_C_GRID))  # one value = no selection
    val_fraction: float = 0.2
    max_iter: int = 1000
    prompt: str = OFFICIAL_PROMPT  # official probe
    num_labels: int | None = None  # official probe: classifier outputs; None = classes + 1 (401 / 52)

    def __post_init__(self) -> None:
        if not self.C or any(not c > 0 for c in self.C):
            raise ConfigError(f"options.C: a non-empty list of positive values, got {self.C!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"options.val_fraction: must be in (0, 1), got {self.val_fraction}")
        if self.max_iter < 1:
            raise ConfigError(f"options.max_iter: must be >= 1, got {self.max_iter}")
        if self.num_labels is not None and self.num_labels < 2:
            raise ConfigError(f"options.num_labels: must be >= 2 or null, got {self.num_labels}")


def class_names_of(split: DatasetSplit) -> list[str]:
    """The split's class names (by label), or the labels as strings when the adapter gives none."""
    if split.class_names:
        return list(split.class_names)
    return [str(i) for i in range(max((int(s.label) for s in split.samples), default=-1) + 1)]


@register_kind
class LinearProbeKind(PerSampleKind):
    """Records: ``id``, ``label``, ``label_seen``, ``scores`` (class probabilities or logits), ``pred``."""

    name = "linear_probe"
    sample_type = ClassificationSample
    options_type = LinearProbeOptions
    supports_zero_shot = False

    def __init__(self, config: Any, tokenizer: Any) -> None:
        super().__init__(config, tokenizer)
        self.num_labels: int | None = None  # official probe: classifier outputs, fixed when the model is built

    @property  # type: ignore[override]
    def supports_finetune(self) -> bool:
        """Only the official probe trains through the engine; the sklearn probe fits its classifier as a step of
        ``evaluate`` (:meth:`fit_probe`)."""
        return self.options.probe == "official"

    # ------------------------------------------------------------------ model
    def model_overrides(self, train_split: DatasetSplit | None) -> dict[str, Any]:
        if self.options.probe != "official":
            return {}
        if train_split is None:
            raise DataError(f"task {self.config.name}: the official probe needs the training split's classes")
        classes = class_names_of(train_split)
        n = self.options.num_labels if self.options.num_labels is not None else len(classes) + 1
        if n < len(classes):
            raise ConfigError(f"task {self.config.name}: options.num_labels={n} is smaller than the "
                              f"{len(classes)} classes")
        self.num_labels = n
        return {"qa_labels": n}

    def prepare_model(self, model: torch.nn.Module, *, zero_shot: bool, load_report: Any | None = None) -> None:
        """Freeze the backbone: everything for ``sklearn``; all but ``pooler`` + ``vqa_classifier`` for
        ``official``."""
        trainable = TRAINABLE_OFFICIAL if self.options.probe == "official" else ()
        for name, param in model.named_parameters():
            param.requires_grad_(name.startswith(trainable) if trainable else False)

    # ------------------------------------------------------------------ official probe: items and loss
    def _check_label(self, sample: ClassificationSample) -> int:
        if self.num_labels is not None and not 0 <= sample.label < self.num_labels:
            raise DataError(f"sample {sample.id!r}: label {sample.label} outside the classifier's "
                            f"{self.num_labels} classes")
        return int(sample.label)

    def _prompt_item(self, sample: ClassificationSample, clip: torch.Tensor) -> Batch:
        ids, mask = self.encode_text([self.options.prompt])
        return {"video": clip, "text_ids": ids[0], "text_mask": mask[0],
                "label": torch.tensor(self._check_label(sample), dtype=torch.long)}

    def train_item(self, sample: ClassificationSample, rng: np.random.Generator) -> Batch:
        return self._prompt_item(sample, self.load_clip(sample.video, train=True, rng=rng))

    def eval_item(self, sample: ClassificationSample) -> Batch:
        return self._prompt_item(sample, self.eval_clip(sample))

    def _logits(self, model: torch.nn.Module, batch: Batch) -> torch.Tensor:
        return model.qa_logits(model(batch["video"], batch["text_ids"], batch["text_mask"]).cls_feats).float()

    def loss(self, model: torch.nn.Module, batch: Batch) -> LossOutput:
        if self.options.probe != "official":
            raise ConfigError(f"task {self.config.name}: the sklearn probe is fitted in evaluation, not finetuned")
        logits = self._logits(model, batch)
        loss = F.cross_entropy(logits, batch["label"])
        acc = float((logits.argmax(-1) == batch["label"]).float().mean())
        return LossOutput(loss, {"ce": float(loss.detach()), "train_acc": acc})

    def predict(self, model: torch.nn.Module, batch: Batch) -> list[Record]:
        return [{"scores": row} for row in self._logits(model, batch)]

    # ------------------------------------------------------------------ sklearn probe: features
    def _feature_item(self, sample: ClassificationSample) -> Batch:
        return {"video": self.eval_clip(sample)}

    def _features(self, model: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
        feats = model.encode_video(batch["video"]).feats
        pooled = feats[:, 0] if self.options.pooling == "cls" else feats.mean(dim=1)
        return list(pooled.float())

    def extract(self, model: torch.nn.Module, split: DatasetSplit, role: str, ctx: EvalContext) -> np.ndarray:
        """(N, D) frozen features of ``split`` in sample order (cached per sample id under ``<role>_features``)."""
        feats = ctx.map(f"{role}_features", split.samples, key=lambda s: s.id, prepare=self._feature_item,
                        forward=partial(self._features, model), desc=f"{self.config.name}: {role} features")
        return np.stack([np.asarray(feats[s.id], dtype=np.float64) for s in split.samples])

    def fit_probe(self, feats: np.ndarray, split: DatasetSplit, ctx: EvalContext) -> LinearProbe:
        """The sklearn probe's classifier, fitted on frozen training features only (``C`` picked on a held-out
        ``val_fraction`` of them, seeded by the task seed)."""
        o = self.options
        probe = fit_linear_probe(feats, [int(s.label) for s in split.samples], C=o.C[0] if len(o.C) == 1 else o.C,
                                 val_fraction=o.val_fraction, max_iter=o.max_iter, seed=self.config.seed)
        ctx.log(f"{self.config.name}: logistic-regression probe on {feats.shape[0]} x {feats.shape[1]} features, "
                f"C = {probe.C:g}" + ("" if probe.converged else " (lbfgs did not converge)"))
        return probe

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, model: torch.nn.Module, split: DatasetSplit, ctx: EvalContext) -> EvalResult:
        names = class_names_of(split)
        if self.options.probe == "official":
            outs = self.predict_split(model, split, ctx)
            records = [self._record(s, np.asarray(r["scores"], dtype=np.float64), True, names)
                       for s, r in zip(split.samples, outs, strict=True)]
            protocol = ProtocolSummary(
                scoring="official probe: prompt joint pass, frozen backbone, trained pooler + vqa_classifier",
                details={"probe": "official", "prompt": self.options.prompt, "num_labels": self.num_labels})
            return EvalResult(records, [export_record(r) for r in records], protocol)
        train = ctx.load_split("train")
        if train is None:
            raise ConfigError(f"task {self.config.name}: the sklearn probe needs a training split "
                              "(dataset.splits.train)")
        probe = self.fit_probe(self.extract(model, train, "train", ctx), train, ctx)  # 1-2: features, fit
        x_test = self.extract(model, split, "test", ctx)
        n_classes = max(len(names), max(int(s.label) for s in split.samples) + 1)
        columns = [int(c) for c in probe.classes.tolist()]
        scores = np.full((len(split.samples), n_classes), -np.inf)  # classes never seen in training: -inf
        scores[:, columns] = probe.predict_scores(x_test)  # 3: class probabilities of the test features
        records = [self._record(s, scores[i], int(s.label) in columns, names) for i, s in enumerate(split.samples)]
        o = self.options
        details: dict[str, Any] = {
            "probe": "sklearn", "pooling": "vision cls token" if o.pooling == "cls" else "mean of all video tokens",
            "features": "encode_video (no roll), frames averaged, evaluation clip protocol for train and test",
            "C_grid": list(o.C), "val_fraction": o.val_fraction, "C": probe.C,
            "C_val_accuracy": {str(k): v for k, v in probe.val_accuracy.items()}, "converged": probe.converged}
        return EvalResult(records, [export_record(r) for r in records],
                          ProtocolSummary("logistic regression on frozen video-only features", details),
                          metrics={"probe_C": probe.C, "n_train": probe.n_train})

    @staticmethod
    def _record(sample: ClassificationSample, scores: np.ndarray, seen: bool, names: list[str]) -> Record:
        pred = int(np.argmax(scores))
        return {"id": sample.id, "label": int(sample.label), "label_seen": seen, "scores": scores, "pred": pred,
                "label_name": sample.label_name or (names[sample.label] if sample.label < len(names) else ""),
                "pred_name": names[pred] if pred < len(names) else ""}


def export_record(record: Record) -> Record:
    """Prediction and the top-5 classes (not the full score vector)."""
    scores = np.asarray(record["scores"], dtype=np.float64)
    top = [int(i) for i in np.argsort(-scores, kind="stable")[:5] if np.isfinite(scores[i])]
    return {k: record[k] for k in ("id", "label", "label_name", "pred", "pred_name", "label_seen")} | {
        "correct": record["pred"] == record["label"] and bool(record["label_seen"]), "top5": top}
