"""Does a fast path predict what the plain path predicts? Agreement of a precision with fp32 on a synthetic task.

The same randomly initialised (seeded) model evaluates the task's synthetic test split twice through the task
kind's own ``evaluate``: once in fp32 and once in the precision under test. Reported: the share of samples whose
prediction (answer, chosen option, caption, rank of the target) is identical, and the change of every metric.
A random model scores candidates close together, so this is a harsh setting for agreement: a trained model
separates its candidates further and flips fewer of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

#: Record keys that hold a kind's prediction, in the order they are looked for.
PREDICTION_KEYS: tuple[str, ...] = ("t2v_rank", "pred_label", "pred", "prediction")


@dataclass
class Agreement:
    """fp32 against ``precision`` on one task: identical-prediction share and metric deltas (other - fp32)."""

    task: str
    precision: str
    samples: int
    identical: float
    key: str
    #: share identical among samples whose fp32 top-1 beats top-2 by more than bf16 resolves (None: no scores)
    identical_decisive: float | None = None
    decisive: int = 0
    metrics_fp32: dict[str, float] = field(default_factory=dict)
    metrics_other: dict[str, float] = field(default_factory=dict)

    @property
    def metric_delta(self) -> dict[str, float]:
        return {k: self.metrics_other[k] - v for k, v in self.metrics_fp32.items() if k in self.metrics_other}


def prediction_of(record: dict[str, Any]) -> tuple[str, Any]:
    """The (key, value) of a record's prediction."""
    for key in PREDICTION_KEYS:
        if key in record:
            return key, record[key]
    raise KeyError(f"no prediction key among {PREDICTION_KEYS} in record keys {sorted(record)}")


def _decisive(record: dict[str, Any], rel: float = 2.0**-7) -> bool | None:
    """Whether the record's top score beats the runner-up by more than ``rel`` (two bf16 ulps) of its size."""
    scores = record.get("scores")
    if not isinstance(scores, (list, tuple)) or len(scores) < 2:
        return None
    top = sorted((float(s) for s in scores), reverse=True)
    return top[0] - top[1] > rel * max(abs(top[0]), abs(top[1]), 1e-6)


def evaluate_synthetic(task: str, precision: str, overrides: dict[str, Any], *,
                       root: Path | None = None) -> tuple[Any, Any, Any]:
    """One evaluation of ``task``'s synthetic test split (from ``root``, default the synthetic set) by a seeded
    random model, in this process (no loader workers): the ``Evaluation``, the ``Evaluator`` (its
    ``data_wait``) and the task kind (its clip loaders)."""
    from allinone_bench.data.datasets import drop_missing_videos, get_adapter
    from allinone_bench.data.tokenizer import load_tokenizer
    from allinone_bench.engine.evaluator import Evaluator
    from allinone_bench.engine.precision import resolve_precision
    from allinone_bench.engine.runner import model_arch_kwargs
    from allinone_bench.engine.synthetic import ensure_synthetic
    from allinone_bench.model import build_model
    from allinone_bench.tasks import get_kind, load_task

    cpu = torch.device("cpu")
    cfg = load_task(task, synthetic=True, overrides={"eval.num_workers": 0, **overrides})
    if root is None:
        root, _ = ensure_synthetic(cfg.dataset.adapter, cfg.synthetic.num_videos, cfg.synthetic.seed)
    adapter = get_adapter(cfg.dataset.adapter)(root, **cfg.dataset.options)
    kind = get_kind(cfg.kind)(cfg, load_tokenizer())
    splits = cfg.dataset.splits
    train = drop_missing_videos(adapter.load(splits.name("train")))[0] if splits.train is not None else None
    test = drop_missing_videos(adapter.load(splits.name("test")))[0]
    torch.manual_seed(0)
    model = build_model(cfg.model.variant, **model_arch_kwargs(cfg), **kind.model_overrides(train)).eval()
    kind.prepare_model(model, zero_shot=True)
    ev = Evaluator(config=cfg, device=cpu, precision=resolve_precision(precision, cpu), tag="agreement", seed=0,
                   num_workers=0, split_loader=lambda role: train if role == "train" else test)
    return ev.evaluate(kind, model, test), ev, kind


def _evaluate(task: str, precision: str, overrides: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, float]]:
    evaluation, _, _ = evaluate_synthetic(task, precision, overrides)
    return evaluation.predictions, evaluation.metrics


def precision_agreement(task: str, precision: str = "bf16", overrides: dict[str, Any] | None = None) -> Agreement:
    """Evaluate ``task``'s synthetic test split in fp32 and in ``precision`` with the same random model."""
    base, m_base = _evaluate(task, "fp32", overrides or {})
    other, m_other = _evaluate(task, precision, overrides or {})
    key = prediction_of(base[0])[0]
    same = sum(prediction_of(a)[1] == prediction_of(b)[1] for a, b in zip(base, other, strict=True))
    flags = [_decisive(r) for r in base]
    pairs = [(a, b) for a, b, f in zip(base, other, flags, strict=True) if f]
    decisive = (sum(prediction_of(a)[1] == prediction_of(b)[1] for a, b in pairs) / len(pairs)
                if pairs else None) if any(f is not None for f in flags) else None
    return Agreement(task=task, precision=precision, samples=len(base), identical=same / max(len(base), 1),
                     key=key, identical_decisive=decisive, decisive=len(pairs),
                     metrics_fp32=m_base, metrics_other=m_other)
