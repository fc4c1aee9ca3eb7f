"""Metrics with a collect/compute split: per-sample records keyed by id in, ``{name: value}`` out.

Task YAMLs list metrics by name (see :func:`build_metrics`); evaluation loops call ``process`` on every
rank and ``compute`` once. The functional API (``retrieval_metrics``, ``qa_accuracy``, ...) works on plain
arrays for notebooks and tests.
"""

from __future__ import annotations

from allinone_bench.metrics.accuracy import (
    OOV_LABEL,
    AccuracyMetric,
    MultipleChoiceMetric,
    TopKMetric,
    multiple_choice_accuracy,
    qa_accuracy,
    topk_accuracy,
)
from allinone_bench.metrics.base import (
    Metric,
    Record,
    build_metrics,
    compute_all,
    get_metric,
    list_metrics,
    register_metric,
)
from allinone_bench.metrics.captioning import (
    CAPTION_METRICS,
    DEFAULT_CAPTION_METRICS,
    CaptioningMetric,
    CaptionScores,
    caption_metrics,
    ptb_tokenize,
    score_captions,
    simple_tokenize,
)
from allinone_bench.metrics.mc_groups import GroupedChoiceMetric
from allinone_bench.metrics.probe import DEFAULT_C_GRID, LinearProbe, LinearProbeMetric, evaluate_probe, fit_linear_probe
from allinone_bench.metrics.ranking import TIE_RULES, RankCounts, TieRule, rank_counts
from allinone_bench.metrics.retrieval import (
    RetrievalMetric,
    dual_softmax,
    rerank,
    retrieval_metrics,
    t2v_metrics,
    v2t_metrics,
)

__all__ = [
    "Metric",
    "Record",
    "register_metric",
    "get_metric",
    "list_metrics",
    "build_metrics",
    "compute_all",
    "TieRule",
    "TIE_RULES",
    "RankCounts",
    "rank_counts",
    "RetrievalMetric",
    "retrieval_metrics",
    "t2v_metrics",
    "v2t_metrics",
    "dual_softmax",
    "rerank",
    "OOV_LABEL",
    "AccuracyMetric",
    "MultipleChoiceMetric",
    "TopKMetric",
    "qa_accuracy",
    "multiple_choice_accuracy",
    "topk_accuracy",
    "CAPTION_METRICS",
    "DEFAULT_CAPTION_METRICS",
    "CaptioningMetric",
    "CaptionScores",
    "caption_metrics",
    "score_captions",
    "ptb_tokenize",
    "simple_tokenize",
    "DEFAULT_C_GRID",
    "LinearProbe",
    "LinearProbeMetric",
    "fit_linear_probe",
    "evaluate_probe",
]
