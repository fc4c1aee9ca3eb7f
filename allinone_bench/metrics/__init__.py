"""Metrics: per-sample records keyed by id in, ``{name: value}`` out (see :mod:`.base` for the design).

Task YAMLs list metrics by name, with typed options where a metric has some (:func:`build_metrics`); the
engine gathers the records of every rank, then each metric ``process``-es them and ``compute``-s once. The
functional API (``retrieval_metrics``, ``qa_accuracy``, ...) works on plain arrays for notebooks and tests.
"""

from __future__ import annotations

from allinone_bench.metrics.accuracy import (
    OOV_LABEL,
    AccuracyMetric,
    MultipleChoiceMetric,
    TieOptions,
    TopKMetric,
    multiple_choice_accuracy,
    qa_accuracy,
    topk_accuracy,
)
from allinone_bench.metrics.base import (
    Metric,
    MetricSpec,
    NoMetricOptions,
    Record,
    build_metrics,
    get_metric,
    list_metrics,
    merge_scores,
    metric_names,
    register_metric,
)
from allinone_bench.metrics.captioning import (
    CAPTION_METRICS,
    DEFAULT_CAPTION_METRICS,
    CaptioningMetric,
    CaptioningMetricOptions,
    CaptionScores,
    caption_metrics,
    ptb_tokenize,
    score_captions,
    simple_tokenize,
)
from allinone_bench.metrics.mc_groups import GroupedChoiceMetric
from allinone_bench.metrics.probe import DEFAULT_C_GRID, LinearProbe, fit_linear_probe
from allinone_bench.metrics.ranking import TIE_RULES, RankCounts, TieRule, rank_counts
from allinone_bench.metrics.retrieval import (
    RetrievalMetric,
    RetrievalMetricOptions,
    dual_softmax,
    rerank,
    retrieval_metrics,
    t2v_metrics,
    v2t_metrics,
)

__all__ = [
    "Metric",
    "MetricSpec",
    "NoMetricOptions",
    "Record",
    "register_metric",
    "get_metric",
    "list_metrics",
    "build_metrics",
    "merge_scores",
    "metric_names",
    "TieRule",
    "TIE_RULES",
    "RankCounts",
    "rank_counts",
    "RetrievalMetric",
    "RetrievalMetricOptions",
    "retrieval_metrics",
    "t2v_metrics",
    "v2t_metrics",
    "dual_softmax",
    "rerank",
    "OOV_LABEL",
    "AccuracyMetric",
    "TieOptions",
    "MultipleChoiceMetric",
    "TopKMetric",
    "qa_accuracy",
    "multiple_choice_accuracy",
    "topk_accuracy",
    "CAPTION_METRICS",
    "DEFAULT_CAPTION_METRICS",
    "CaptioningMetric",
    "CaptioningMetricOptions",
    "CaptionScores",
    "caption_metrics",
    "score_captions",
    "ptb_tokenize",
    "simple_tokenize",
    "DEFAULT_C_GRID",
    "LinearProbe",
    "fit_linear_probe",
]
