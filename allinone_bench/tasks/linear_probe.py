"""Action recognition by linear probe on the frozen All-in-One (K400, HMDB51, UCF101; paper Table 6).

Two probes (``options.probe``):

* ``sklearn`` (default): frozen video-only features, ``encode_video`` (no text, no roll: frames are
  independent and averaged), pooled as the vision cls token (``pooling: cls``, the paper's "cls token of the
  last layer") or the mean of all tokens (``mean``); extracted with the evaluation protocol (uniform frames,
  center crop) for the train and test splits through ``ctx.map`` (cached by sample id), then a standardised
  multinomial logistic regression (:mod:`allinone_bench.metrics.probe`) whose ``C`` is chosen on a held-out
  ``val_fraction`` of the *training* features. Nothing is finetuned, so the engine's loop is skipped.
* ``official``: the reference ``linear_evaluation=True`` recipe (reference section 2): the joint pass with the
  text prompt ``"A person is doing [MASK]"`` (the official K400 config spells it "A persion ..."; set
  ``prompt`` to reproduce that), the backbone frozen, ``pooler`` + ``vqa_classifier`` (classes + 1 outputs)
  trained with cross-entropy through the engine's finetuning loop (random frames, dropout active in the frozen
  backbone as in the reference, which keeps the whole module in train mode). The reference also leaves the
  unused ``mlm_score``/``itm_score`` trainable; they receive no gradient, so freezing them changes nothing.

Both report ``top1`` / ``top5`` / ``top10`` (whichever ``top<k>`` the task lists; percent; exact ties resolved
by the ``average`` rule; a test class absent from the training features counts as wrong), as in Table 6.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from allinone_bench.data.types import ClassificationSample, DatasetSplit
from allinone_bench.errors import ConfigError, DataError
from allinone_bench.metrics.probe import DEFAULT_C_GRID, LinearProbe, fit_linear_probe
from allinone_bench.metrics.ranking import rank_counts
from allinone_bench.tasks.base import Batch, EvalContext, LossOutput, PerSampleKind, Record, register_kind

__all__ = ["LinearProbeKind", "LinearProbeOptions", "probe_topk"]

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


def probe_topk(records: list[Record], ks: tuple[int, ...]) -> dict[str, float]:
    """``top{k}`` (percent) from records with ``scores`` (one per class column), ``label`` (its column)
    and ``label_seen`` (False: the class had no training sample, counted as wrong)."""
    if not records:
        raise DataError("linear probe: no records to score")
    seen = np.array([bool(r.get("label_seen", True)) for r in records])
    out: dict[str, float] = {}
    hits = {k: np.zeros(len(records)) for k in ks}
    if seen.any():
        mat = np.stack([np.asarray(r["scores"], dtype=np.float64) for r, s in zip(records, seen, strict=True) if s])
        target = np.array([int(r["label"]) for r, s in zip(records, seen, strict=True) if s], dtype=np.int64)
        counts = rank_counts(mat, target)
        for k in ks:
            hits[k][seen] = counts.hits(int(k), "average")
    for k in ks:
        out[f"top{k}"] = 100.0 * float(hits[k].mean())
    out["n"] = len(records)
    return out


@register_kind
class LinearProbeKind(PerSampleKind):
    """Records: ``id``, ``label``, ``label_seen``, ``scores`` (class probabilities or logits), ``pred``."""

    name = "linear_probe"
    sample_type = ClassificationSample
    options_type = LinearProbeOptions
    supports_zero_shot = False

    def __init__(self, config: Any, tokenizer: Any) -> None:
        super().__init__(config, tokenizer)
        self.class_names: list[str] | None = None
        self.num_labels: int | None = None
        self.probe: LinearProbe | None = None

    @property  # type: ignore[override]
    def supports_finetune(self) -> bool:
        """Only the official probe trains through the engine; the sklearn probe fits inside ``evaluate``."""
        return self.options.probe == "official"

    # ------------------------------------------------------------------ model
    def _set_classes(self, split: DatasetSplit | None) -> None:
        if split is None or self.class_names is not None:
            return
        if split.class_names:
            self.class_names = list(split.class_names)
        elif split.samples:
            self.class_names = [str(i) for i in range(max(int(s.label) for s in split.samples) + 1)]

    def model_overrides(self, train_split: DatasetSplit | None) -> dict[str, Any]:
        self._set_classes(train_split)
        if self.options.probe != "official":
            return {}
        if self.class_names is None:
            raise DataError(f"task {self.config.name}: the official probe needs the training split's classes")
        n = self.options.num_labels if self.options.num_labels is not None else len(self.class_names) + 1
        if n < len(self.class_names):
            raise ConfigError(f"task {self.config.name}: options.num_labels={n} is smaller than the "
                              f"{len(self.class_names)} classes")
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
        return self._prompt_item(sample, self.train_clips.load(sample.video, rng))

    def eval_item(self, sample: ClassificationSample) -> Batch:
        return self._prompt_item(sample, self.eval_clips.load(sample.video))

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
        return {"video": self.eval_clips.load(sample.video)}

    def _features(self, model: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
        feats = model.encode_video(batch["video"]).feats
        pooled = feats[:, 0] if self.options.pooling == "cls" else feats.mean(dim=1)
        return list(pooled.float())

    def extract(self, model: torch.nn.Module, split: DatasetSplit, role: str, ctx: EvalContext) -> np.ndarray:
        """(N, D) frozen features of ``split`` in sample order (cached per sample id under ``<role>_features``)."""
        feats = ctx.map(f"{role}_features", split.samples, key=lambda s: s.id, prepare=self._feature_item,
                        forward=partial(self._features, model), desc=f"{self.config.name}: {role} features")
        return np.stack([np.asarray(feats[s.id], dtype=np.float64) for s in split.samples])

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, model: torch.nn.Module, split: DatasetSplit, ctx: EvalContext) -> list[Record]:
        self._set_classes(split)
        if self.options.probe == "official":
            raw = super().evaluate(model, split, ctx)
            return [self._record(s, np.asarray(r["scores"], dtype=np.float64), True)
                    for s, r in zip(split.samples, raw, strict=True)]
        train = ctx.load_split("train")
        if train is None:
            raise ConfigError(f"task {self.config.name}: the sklearn probe needs a training split "
                              "(dataset.splits.train)")
        self._set_classes(train)
        x_train = self.extract(model, train, "train", ctx)
        x_test = self.extract(model, split, "test", ctx)
        o = self.options
        self.probe = fit_linear_probe(x_train, [int(s.label) for s in train.samples],
                                      C=o.C[0] if len(o.C) == 1 else o.C, val_fraction=o.val_fraction,
                                      max_iter=o.max_iter, seed=self.config.seed)
        ctx.log(f"{self.config.name}: logistic-regression probe on {x_train.shape[0]} x {x_train.shape[1]} features, "
                f"C = {self.probe.C:g}" + ("" if self.probe.converged else " (lbfgs did not converge)"))
        n_classes = max(len(self.class_names or []), max(int(s.label) for s in split.samples) + 1)
        probs = self.probe.predict_scores(x_test)
        columns = [int(c) for c in self.probe.classes.tolist()]
        full = np.full((len(split.samples), n_classes), -np.inf)
        full[:, columns] = probs
        return [self._record(s, full[i], int(s.label) in columns) for i, s in enumerate(split.samples)]

    def _record(self, sample: ClassificationSample, scores: np.ndarray, seen: bool) -> Record:
        pred = int(np.argmax(scores))
        names = self.class_names or []
        return {"id": sample.id, "label": int(sample.label), "label_seen": seen, "scores": scores, "pred": pred,
                "label_name": sample.label_name or (names[sample.label] if sample.label < len(names) else ""),
                "pred_name": names[pred] if pred < len(names) else ""}

    def compute_metrics(self, records: list[Record], split: DatasetSplit) -> dict[str, float]:
        ks = tuple(int(m[3:]) for m in self.config.metrics if re.fullmatch(r"top\d+", m))
        out = probe_topk(records, ks or (1, 5))
        if self.options.probe == "sklearn" and self.probe is not None:
            out.update(probe_C=self.probe.C, n_train=self.probe.n_train)
        return out

    def export_record(self, record: Record) -> Record:
        """Prediction and the top-5 classes (not the full score vector)."""
        scores = np.asarray(record["scores"], dtype=np.float64)
        top = [int(i) for i in np.argsort(-scores, kind="stable")[:5] if np.isfinite(scores[i])]
        return {k: record[k] for k in ("id", "label", "label_name", "pred", "pred_name", "label_seen")} | {
            "correct": record["pred"] == record["label"] and bool(record["label_seen"]), "top5": top}

    def protocol_summary(self) -> dict[str, Any]:
        o = self.options
        if o.probe == "official":
            return {"scoring": "official probe: prompt joint pass, frozen backbone, trained pooler + vqa_classifier",
                    "probe": "official", "prompt": o.prompt, "num_labels": self.num_labels}
        out: dict[str, Any] = {"scoring": "logistic regression on frozen video-only features", "probe": "sklearn",
                               "pooling": "vision cls token" if o.pooling == "cls" else "mean of all video tokens",
                               "features": "encode_video (no roll), frames averaged, evaluation clip protocol "
                                           "for train and test",
                               "C_grid": list(o.C), "val_fraction": o.val_fraction}
        if self.probe is not None:
            out.update(C=self.probe.C, C_val_accuracy={str(k): v for k, v in self.probe.val_accuracy.items()},
                       converged=self.probe.converged)
        return out
