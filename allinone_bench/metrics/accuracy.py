"""Accuracy for open-ended QA, multiple choice and classification (top-k).

Open-ended QA is classification over the training-answer vocabulary, so some test answers cannot be
predicted at all (out of vocabulary, OOV: label ``None`` or ``-100``). Two denominators exist:

* ``acc``: OOV questions count as wrong and stay in the denominator (ClipBERT protocol, and what the
  All-in-One maintainers say they report);
* ``acc_in_vocab``: OOV questions removed, which is what the All-in-One code actually computes
  (``my_metrics.Accuracy`` drops label -100 from both counts). It is higher; both are reported with counts.

Predictions are argmax of the scores. If scores tie at the maximum, ``ties`` decides (see
:mod:`allinone_bench.metrics.ranking`): ``"average"`` (default) credits 1/(number tied) when the answer is
among them; ``"official"`` = first index wins, like ``torch.argmax``. Records may carry a ready ``pred``
instead of ``scores`` (then ties cannot be seen and ``pred`` is taken as is).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from allinone_bench.errors import BenchError
from allinone_bench.metrics.base import Metric, MetricOptions, Record, register_metric
from allinone_bench.metrics.ranking import (
    RankCounts,
    ResolvedRule,
    TieRule,
    as_score_matrix,
    check_ties,
    rank_counts,
)

__all__ = [
    "OOV_LABEL",
    "qa_accuracy",
    "multiple_choice_accuracy",
    "topk_accuracy",
    "AccuracyMetric",
    "MultipleChoiceMetric",
    "TopKMetric",
    "TieOptions",
]

OOV_LABEL = -100
"""Label of an answer outside the training vocabulary (the reference code's ignore index); ``None`` too."""


def _rule(ties: TieRule) -> ResolvedRule:
    return "first" if check_ties(ties) == "official" else ties  # type: ignore[return-value]


def _is_oov(label: Any) -> bool:
    return label is None or int(label) < 0


def _ragged_scores(scores: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Stack rows of possibly different lengths; returns (matrix, padding mask)."""
    if isinstance(scores, np.ndarray) or hasattr(scores, "shape"):
        mat = as_score_matrix(scores, what)
        return mat, np.zeros(mat.shape, dtype=bool)
    rows = [np.asarray(r, dtype=np.float64).reshape(-1) for r in scores]
    width = max((r.shape[0] for r in rows), default=0)
    mat = np.full((len(rows), width), -np.inf)
    pad = np.ones((len(rows), width), dtype=bool)
    for i, r in enumerate(rows):
        mat[i, : r.shape[0]] = r
        pad[i, : r.shape[0]] = False
    as_score_matrix(mat, what)  # NaN check
    return mat, pad


def _counts(scores: np.ndarray, pad: np.ndarray, targets: np.ndarray, what: str) -> RankCounts:
    n_valid = (~pad).sum(axis=1)
    bad = np.nonzero((targets < 0) | (targets >= n_valid))[0]
    if bad.size:
        i = int(bad[0])
        raise BenchError(f"{what}: target {int(targets[i])} outside the {int(n_valid[i])} scored choices (row {i})")
    return rank_counts(scores, targets, exclude=pad if pad.any() else None)


def qa_accuracy(
    labels: Sequence[int | None],
    *,
    scores: Any | None = None,
    preds: Sequence[int] | None = None,
    ties: TieRule = "average",
) -> dict[str, float]:
    """``acc`` (OOV counted wrong) and ``acc_in_vocab`` (OOV removed), in percent, with counts.

    Give either ``scores`` (N x num_answers logits) or ``preds`` (N answer indices).
    """
    if (scores is None) == (preds is None):
        raise BenchError("qa_accuracy: give exactly one of scores= or preds=")
    oov = np.array([_is_oov(y) for y in labels], dtype=bool)
    n = len(labels)
    if n == 0:
        raise BenchError("qa_accuracy: no questions")
    target = np.array([0 if o else int(y) for y, o in zip(labels, oov)], dtype=np.int64)  # type: ignore[arg-type]
    if scores is not None:
        mat, pad = _ragged_scores(scores, "qa scores")
        if mat.shape[0] != n:
            raise BenchError(f"qa_accuracy: {mat.shape[0]} score rows for {n} labels")
        correct = _counts(mat, pad, target, "qa_accuracy").hits(1, _rule(ties))
    else:
        p = np.asarray(preds, dtype=np.int64).reshape(-1)
        if p.shape[0] != n:
            raise BenchError(f"qa_accuracy: {p.shape[0]} predictions for {n} labels")
        correct = (p == target).astype(np.float64)
    correct[oov] = 0.0  # an OOV answer can never be predicted
    n_correct = float(correct.sum())
    n_in_vocab = int((~oov).sum())
    return {
        "acc": 100.0 * n_correct / n,
        "acc_in_vocab": 100.0 * n_correct / n_in_vocab if n_in_vocab else float("nan"),
        "n": n,
        "n_in_vocab": n_in_vocab,
        "n_oov": n - n_in_vocab,
        "n_correct": n_correct,
    }


def multiple_choice_accuracy(
    scores: Any, answers: Sequence[int], *, ties: TieRule = "average"
) -> dict[str, float]:
    """``mc_acc`` (percent) = argmax over each question's option scores equals the answer index.

    ``scores`` is N x n_options, or a list of per-question score lists of different lengths.
    """
    mat, pad = _ragged_scores(scores, "option scores")
    target = np.asarray(answers, dtype=np.int64).reshape(-1)
    if mat.shape[0] != target.shape[0] or target.shape[0] == 0:
        raise BenchError(f"multiple_choice_accuracy: {mat.shape[0]} score rows for {target.shape[0]} answers")
    counts = _counts(mat, pad, target, "multiple_choice_accuracy")
    correct = counts.hits(1, _rule(ties))
    return {
        "mc_acc": 100.0 * float(correct.mean()),
        "n": int(target.shape[0]),
        "n_correct": float(correct.sum()),
        "n_tied": int(((counts.greater == 0) & (counts.tied > 0)).sum()),
    }


def topk_accuracy(
    scores: Any, labels: Sequence[int], *, ks: Sequence[int] = (1, 5, 10), ties: TieRule = "average"
) -> dict[str, float]:
    """``top{k}`` (percent): the label is among the k highest-scored classes.

    A label scored ``-inf`` can never be predicted (e.g. a class the linear probe never saw in training) and
    counts as wrong at every k, however few classes there are.
    """
    mat, pad = _ragged_scores(scores, "class scores")
    target = np.asarray(labels, dtype=np.int64).reshape(-1)
    if mat.shape[0] != target.shape[0] or target.shape[0] == 0:
        raise BenchError(f"topk_accuracy: {mat.shape[0]} score rows for {target.shape[0]} labels")
    counts = _counts(mat, pad, target, "topk_accuracy")
    rule = _rule(ties)
    impossible = mat[np.arange(target.shape[0]), target] == -np.inf
    out: dict[str, float] = {}
    for k in ks:
        hits = counts.hits(int(k), rule)
        hits[impossible] = 0.0
        out[f"top{k}"] = 100.0 * float(hits.mean())
    out["n"] = int(target.shape[0])
    return out


# ----------------------------------------------------------------------------------------------- metrics
class TieOptions(MetricOptions):
    """``ties``: how exact score ties at the top are credited (see :mod:`.ranking`; ``official`` = first index
    wins, like ``torch.argmax``)."""

    ties: TieRule = "average"


@register_metric
class AccuracyMetric(Metric):
    """Open-ended QA. Record: ``id``, ``label`` (int, or None/-100 for OOV), and ``scores`` or ``pred``.

    Out-of-vocabulary handling is the choice of key: ``acc`` counts OOV questions as wrong, ``acc_in_vocab``
    drops them (what the reference code computes).
    """

    name = "accuracy"
    outputs = ("acc", "acc_in_vocab")
    fields = ("label",)
    options_type = TieOptions

    def validate_record(self, record: Record) -> None:
        if ("scores" in record) == ("pred" in record):
            raise BenchError(f"metric 'accuracy': record {record['id']!r} needs exactly one of 'scores' or 'pred'")

    def compute_metrics(self, records: list[Record]) -> dict[str, float]:
        with_scores = ["scores" in r for r in records]
        labels = [r["label"] for r in records]
        if all(with_scores):
            res = qa_accuracy(labels, scores=[r["scores"] for r in records], ties=self.options.ties)
        elif not any(with_scores):
            res = qa_accuracy(labels, preds=[int(r["pred"]) for r in records])
        else:
            raise BenchError("metric 'accuracy': mix of records with 'scores' and with 'pred'; use one kind")
        return {k: res[k] for k in (*self.keys, "n", "n_in_vocab", "n_oov", "n_correct")}


@register_metric
class MultipleChoiceMetric(Metric):
    """Multiple choice. Record: ``id``, ``scores`` (one per option), ``answer`` (0-based option index)."""

    name = "mc_accuracy"
    outputs = ("mc_acc",)
    fields = ("scores", "answer")
    options_type = TieOptions

    def compute_metrics(self, records: list[Record]) -> dict[str, float]:
        res = multiple_choice_accuracy(
            [r["scores"] for r in records], [int(r["answer"]) for r in records], ties=self.options.ties
        )
        return {"mc_acc": res["mc_acc"], "n": res["n"], "n_correct": res["n_correct"], "n_tied": res["n_tied"]}


@register_metric
class TopKMetric(Metric):
    """Classification top-k. Record: ``id``, ``scores`` (one per class; ``-inf`` = class never predictable),
    ``label`` (0-based class). The one top-k of the package: linear probes report through it too."""

    name = "topk_accuracy"
    outputs = ("top1", "top5", "top10")
    fields = ("scores", "label")
    options_type = TieOptions

    def validate_record(self, record: Record) -> None:
        if record["label"] is None or int(record["label"]) < 0:
            raise BenchError(f"metric 'topk_accuracy': record {record['id']!r} has no class label")

    def compute_metrics(self, records: list[Record]) -> dict[str, float]:
        ks = tuple(int(k.removeprefix("top")) for k in self.keys)
        return topk_accuracy(
            [r["scores"] for r in records], [int(r["label"]) for r in records], ks=ks, ties=self.options.ties
        )
