"""Text-video retrieval: R@K, median and mean rank in both directions, plus rerank and dual softmax.

Input is a similarity matrix ``S`` (N_text x N_video; larger = more similar) and ``text_to_video[i]``, the
column of text ``i``'s video. Several texts may share a video (multi-caption evaluation); paragraph mode is
just one text per video.

* t2v: each text ranks all videos; rank of its one ground-truth video.
* v2t: each video that has at least one text ranks all texts; the rank of its best-ranked ground-truth text.
  The video's other ground-truth texts are not competitors (they are correct answers too). Videos with no
  text are distractors for t2v and are not v2t queries.

Ranks are 1-based; R@K is a percentage; MdR/MnR are the median/mean rank. Ties follow ``ties=`` (see
:mod:`allinone_bench.metrics.ranking`; default ``"average"``). ``ties="official"`` reproduces
Frozen-in-Time's ``retrieval_metrics.py`` as All-in-One uses it: t2v optimistic; v2t takes each
ground-truth text's average position among *all* texts (other ground-truth texts included), the best one,
and counts R@1 only when that (0-based) average is exactly 0 and R@K (K > 1) when it is below K
(``cols2metrics``: ``R1 = cols == 0``, ``R5 = cols < 5``).

Dual softmax (:func:`dual_softmax`) and rerank (:func:`rerank`) are separate steps that return a new
matrix, so a harness reports them as labelled rows next to the raw protocol, never instead of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from allinone_bench.errors import BenchError, ConfigError, RunError
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
    "DEFAULT_KS",
    "t2v_rank_counts",
    "v2t_rank_counts",
    "summarise_ranks",
    "t2v_metrics",
    "v2t_metrics",
    "retrieval_metrics",
    "dual_softmax",
    "rerank",
    "RetrievalMetric",
    "RetrievalMetricOptions",
]

DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 50)
Direction = Literal["t2v", "v2t"]
CrossScorer = Callable[[int, np.ndarray], Sequence[float] | np.ndarray]


def _text_to_video(text_to_video: Sequence[int] | np.ndarray | None, n_text: int, n_video: int) -> np.ndarray:
    if text_to_video is None:
        if n_text != n_video:
            raise BenchError(
                f"retrieval: text_to_video is required when the matrix is not square ({n_text}x{n_video})"
            )
        return np.arange(n_text, dtype=np.int64)
    t2v = np.asarray(text_to_video)
    if t2v.shape != (n_text,) or (t2v.size and t2v.dtype.kind not in "iu"):
        raise BenchError(
            f"retrieval: text_to_video must hold one integer video column per text ({n_text}), "
            f"got shape {t2v.shape} dtype {t2v.dtype}"
        )
    t2v = t2v.astype(np.int64)
    if t2v.size and (t2v.min() < 0 or t2v.max() >= n_video):
        raise BenchError(f"retrieval: text_to_video has a column outside [0, {n_video})")
    return t2v


def t2v_rank_counts(sims: Any, text_to_video: Sequence[int] | np.ndarray | None = None) -> RankCounts:
    """Rank counts of each text's ground-truth video among all videos."""
    s = as_score_matrix(sims, "similarity matrix")
    return rank_counts(s, _text_to_video(text_to_video, *s.shape))


def v2t_rank_counts(
    sims: Any, text_to_video: Sequence[int] | np.ndarray | None = None, *, official: bool = False
) -> RankCounts:
    """Rank counts of each video's best ground-truth text among all texts (videos without text skipped).

    ``official=True`` keeps the video's other ground-truth texts as competitors (they only matter when
    tied with the best one), as Frozen-in-Time does.
    """
    s = as_score_matrix(sims, "similarity matrix")
    t2v = _text_to_video(text_to_video, *s.shape)
    n_text, n_video = s.shape
    has_text = np.zeros(n_video, dtype=bool)
    has_text[t2v] = True
    queries = np.nonzero(has_text)[0]
    # Best-scored ground-truth text of each video (lowest text index on ties; any tied one gives the same counts).
    own = s[np.arange(n_text), t2v]
    best_score = np.full(n_video, -np.inf)
    np.maximum.at(best_score, t2v, own)
    winners = np.nonzero(own == best_score[t2v])[0][::-1]  # reversed, so the lowest index is written last
    best_text = np.empty(n_video, dtype=np.int64)
    best_text[t2v[winners]] = winners
    st = s.T[queries]  # (Q, N_text): one row per query video
    gt = t2v[None, :] == queries[:, None] if not official else None  # other GT texts are not competitors
    return rank_counts(st, best_text[queries], exclude=gt)


def summarise_ranks(
    counts: RankCounts, rule: ResolvedRule, *, ks: Sequence[int] = DEFAULT_KS, prefix: str = ""
) -> dict[str, float]:
    """``{prefix}R@K`` (percent), ``{prefix}MdR``, ``{prefix}MnR`` under one resolved tie rule."""
    if len(counts) == 0:
        raise BenchError("retrieval: no queries to rank")
    ranks = counts.ranks(rule)
    out = {f"{prefix}R@{k}": 100.0 * float(counts.hits(k, rule).mean()) for k in ks}
    out[f"{prefix}MdR"] = float(np.median(ranks))
    out[f"{prefix}MnR"] = float(ranks.mean())
    return out


def t2v_metrics(
    sims: Any,
    text_to_video: Sequence[int] | np.ndarray | None = None,
    *,
    ties: TieRule = "average",
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, float]:
    """Text-to-video ``t2v_R@K``, ``t2v_MdR``, ``t2v_MnR``; ``official`` = optimistic ties."""
    rule: ResolvedRule = "optimistic" if check_ties(ties) == "official" else ties  # type: ignore[assignment]
    return summarise_ranks(t2v_rank_counts(sims, text_to_video), rule, ks=ks, prefix="t2v_")


def v2t_metrics(
    sims: Any,
    text_to_video: Sequence[int] | np.ndarray | None = None,
    *,
    ties: TieRule = "average",
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, float]:
    """Video-to-text ``v2t_R@K``, ``v2t_MdR``, ``v2t_MnR``; ``official`` = Frozen-in-Time mid-rank."""
    official = check_ties(ties) == "official"
    rule: ResolvedRule = "midrank" if official else ties  # type: ignore[assignment]
    counts = v2t_rank_counts(sims, text_to_video, official=official)
    return summarise_ranks(counts, rule, ks=ks, prefix="v2t_")


def retrieval_metrics(
    sims: Any,
    text_to_video: Sequence[int] | np.ndarray | None = None,
    *,
    ties: TieRule = "average",
    ks: Sequence[int] = DEFAULT_KS,
    v2t_sims: Any | None = None,
) -> dict[str, float]:
    """Both directions. ``v2t_sims`` (same shape) scores v2t from another matrix, e.g. one reranked per video."""
    out = t2v_metrics(sims, text_to_video, ties=ties, ks=ks)
    out.update(v2t_metrics(sims if v2t_sims is None else v2t_sims, text_to_video, ties=ties, ks=ks))
    return out


def dual_softmax(sims: Any, temperature: float, *, direction: Direction = "t2v") -> np.ndarray:
    """Dual-softmax (DSL, CAMoE) inference re-weighting; a post-processing step, off unless asked for.

    For t2v, each entry is multiplied by a softmax over the *texts* of its video column (how much the
    video prefers this text), ``S * softmax(S / temperature, axis=0)``; for v2t over the videos of each text
    row. It assumes the test set pairs texts and videos one to one and needs every query at once, so the
    harness reports it as a separate, labelled row. The constant ``* N`` factor some code adds is omitted:
    it does not change any rank. ``temperature`` is in the units of ``S`` (0.05 matches All-in-One's
    contrastive training on cosine similarities; CLIP4Clip-style logits scaled by 100 use 1.0).
    """
    if not temperature > 0:
        raise ConfigError(f"dual_softmax: temperature must be > 0, got {temperature}")
    s = as_score_matrix(sims, "similarity matrix")
    axis = {"t2v": 0, "v2t": 1}.get(direction)
    if axis is None:
        raise ConfigError(f"dual_softmax: direction must be 't2v' or 'v2t', got {direction!r}")
    z = s / temperature
    z = z - z.max(axis=axis, keepdims=True)
    prior = np.exp(z)
    prior /= prior.sum(axis=axis, keepdims=True)
    return s * prior


def rerank(
    sims: Any,
    cross_scorer: CrossScorer,
    k: int,
    *,
    direction: Direction = "t2v",
    queries: Sequence[int] | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Two-stage retrieval: re-score each query's top-``k`` candidates with a cross-encoder.

    ``cross_scorer(query_idx, candidate_idxs) -> scores`` gets a text index and video indices for
    ``direction="t2v"`` (rows), or a video index and text indices for ``"v2t"`` (columns). In each query's
    line the top-``k`` entries are replaced by the cross scores shifted above every other entry, so the
    top-``k`` keep their cross-encoder order ahead of the rest (which keep their dual order); with
    ``k`` = all candidates the result is pure cross-encoder ranking (cross scores unshifted). Top-``k`` ties
    go to the lower index (stable sort). ``queries`` restricts the work to some query indices (one rank's
    shard); the other lines are returned unchanged. Returns a new N_text x N_video float64 matrix.
    """
    s = as_score_matrix(sims, "similarity matrix")
    if direction not in ("t2v", "v2t"):
        raise ConfigError(f"rerank: direction must be 't2v' or 'v2t', got {direction!r}")
    lines = s.copy() if direction == "t2v" else s.T.copy()  # one query per row
    n_q, n_c = lines.shape
    if not 1 <= k:
        raise ConfigError(f"rerank: k must be >= 1, got {k}")
    k = min(k, n_c)
    todo = range(n_q) if queries is None else [int(q) for q in queries]
    iterator: Any = todo
    if progress:
        from rich.progress import track

        iterator = track(todo, description=f"rerank {direction} top-{k}")
    for q in iterator:
        if not 0 <= q < n_q:
            raise BenchError(f"rerank: query index {q} outside [0, {n_q})")
        row = lines[q]
        top = np.argsort(-row, kind="stable")[:k]
        cross = np.asarray(cross_scorer(q, top.copy()), dtype=np.float64).reshape(-1)
        if cross.shape != (k,):
            raise BenchError(f"rerank: cross_scorer returned {cross.shape[0]} scores for {k} candidates (query {q})")
        if not np.isfinite(cross).all():
            raise RunError(f"rerank: cross_scorer returned a non-finite score for query {q}")
        if k == n_c:
            row[:] = cross[np.argsort(top)]  # scatter back in candidate order
            continue
        rest = np.delete(row, top)
        floor = rest.max()
        margin = max(1.0, abs(floor) * 1e-6)
        row[top] = cross - cross.min() + floor + margin
    return lines if direction == "t2v" else lines.T.copy()


class RetrievalMetricOptions(MetricOptions):
    """``ties``: the tie rule (see :mod:`.ranking`; ``official`` = Frozen-in-Time's optimistic t2v and mid-rank
    v2t); ``dual_softmax``: a temperature (> 0) to also report the DSL row under ``dsl_``-prefixed keys."""

    ties: TieRule = "average"
    dual_softmax: float | None = Field(default=None, gt=0)


@register_metric
class RetrievalMetric(Metric):
    """Retrieval from per-text rows of the similarity matrix.

    Record fields: ``id`` (text id), ``scores`` (this text's similarity to every video, in one fixed video
    order shared by all records), ``target`` (its video's column). Optional ``v2t_scores``: the same row of
    a matrix reranked per video (see :func:`rerank`). Rows may come from any rank; their order does not matter.
    """

    name = "retrieval"
    outputs = tuple(f"{d}_{m}" for d in ("t2v", "v2t") for m in ("R@1", "R@5", "R@10", "R@50", "MdR", "MnR"))
    fields = ("scores", "target")
    options_type = RetrievalMetricOptions

    def compute_metrics(self, records: list[Record]) -> dict[str, float]:
        ties, temperature = self.options.ties, self.options.dual_softmax
        sims = _stack_rows(records, "scores")
        v2t_sims = _stack_rows(records, "v2t_scores") if any("v2t_scores" in r for r in records) else None
        t2v = np.array([int(r["target"]) for r in records], dtype=np.int64)
        ks = sorted({int(k.split("@")[1]) for k in self.keys if "@" in k}) or list(DEFAULT_KS)
        full = retrieval_metrics(sims, t2v, ties=ties, ks=ks, v2t_sims=v2t_sims)
        out = {k: full[k] for k in self.keys}
        if temperature is not None:
            dsl = retrieval_metrics(
                dual_softmax(sims, temperature, direction="t2v"),
                t2v,
                ties=ties,
                ks=ks,
                v2t_sims=dual_softmax(sims, temperature, direction="v2t"),
            )
            out.update({f"dsl_{k}": dsl[k] for k in self.keys})
        out["n_texts"] = len(records)
        out["n_videos"] = int(sims.shape[1])
        return out


def _stack_rows(records: list[Record], field: str) -> np.ndarray:
    rows = []
    width = None
    for r in records:
        if field not in r:
            raise BenchError(f"metric 'retrieval': record {r['id']!r} lacks {field!r} while others have it")
        row = np.asarray(r[field], dtype=np.float64).reshape(-1)
        if width is None:
            width = row.shape[0]
        elif row.shape[0] != width:
            raise BenchError(
                f"metric 'retrieval': record {r['id']!r} scores {row.shape[0]} videos, others {width}; "
                "every row must score the same video set in the same order"
            )
        rows.append(row)
    return np.stack(rows)
