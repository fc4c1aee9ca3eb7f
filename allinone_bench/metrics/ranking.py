"""Where the right answer lands among scored candidates, with ties made explicit.

Retrieval (R@K, MdR, MnR), top-k and argmax accuracy all ask one question: how many candidates outscore
the target? Exact score ties are common in practice (bf16 similarities, a collapsed model that scores
everything alike) and each code base breaks them its own way, which moves R@1 by whole points. So ranks
are kept as counts (strictly greater, tied) and a named rule turns them into ranks and hits afterwards.

Tie rules (``ties=``):

* ``"optimistic"``: the target wins every tie (rank = 1 + #greater).
* ``"pessimistic"``: the target loses every tie (rank = 1 + #greater + #tied).
* ``"average"`` (the default everywhere): the expectation under a uniformly random order of the tied
  candidates: rank = 1 + #greater + #tied / 2, and a hit at K counts the fraction of the tied positions that
  fall within the top K. A model that scores everything alike then gets chance-level R@K instead of 100%
  (optimistic) or 0% (pessimistic); that is why it is the honest default.
* ``"official"``: what the reference code does; each metric module documents its mapping (Frozen-in-Time's
  optimistic t2v and mid-rank v2t for retrieval, first-index argmax for accuracy).

Internal rules add the two reference behaviours: ``"midrank"`` (rank = average position; Frozen-in-Time's
``cols2metrics`` counts R@1 only when the averaged 0-based rank is exactly 0, and R@K for K > 1 when it is
below K, so a tie at the top (0-based 0.5) is a miss at 1 and a hit at 5) and ``"first"`` (ties go to the
earlier candidate index, like ``argmax``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from allinone_bench.errors import BenchError, ConfigError, RunError

__all__ = ["TieRule", "TIE_RULES", "RankCounts", "rank_counts", "as_score_matrix", "check_ties"]

TieRule = Literal["optimistic", "pessimistic", "average", "official"]
TIE_RULES: tuple[str, ...] = get_args(TieRule)
ResolvedRule = Literal["optimistic", "pessimistic", "average", "midrank", "first"]

_ROW_CHUNK = 2048  # rows per block when comparing against the target score (bounds the boolean temporaries)


def check_ties(ties: str) -> TieRule:
    if ties not in TIE_RULES:
        raise ConfigError(f"ties={ties!r}: expected one of {list(TIE_RULES)}")
    return ties  # type: ignore[return-value]


@dataclass(frozen=True)
class RankCounts:
    """Per query: candidates scoring strictly higher than the target, tied with it, and tied-and-earlier."""

    greater: np.ndarray  # int64 (Q,)
    tied: np.ndarray  # int64 (Q,), other candidates with exactly the target's score
    tied_before: np.ndarray  # int64 (Q,), of those, how many have a smaller candidate index

    def __len__(self) -> int:
        return int(self.greater.shape[0])

    def ranks(self, rule: ResolvedRule) -> np.ndarray:
        """1-based ranks (float64; fractional only under ``average``/``midrank``)."""
        g = self.greater.astype(np.float64)
        if rule == "optimistic":
            return g + 1
        if rule == "pessimistic":
            return g + 1 + self.tied
        if rule in ("average", "midrank"):
            return g + 1 + self.tied / 2.0
        if rule == "first":
            return g + 1 + self.tied_before
        raise ConfigError(f"unknown tie rule {rule!r}")

    def hits(self, k: int, rule: ResolvedRule) -> np.ndarray:
        """Per-query hit at K in [0, 1] (fractional only under ``average``)."""
        if rule == "average":
            first = self.greater + 1  # best position the target can take among its tie block
            block = self.tied + 1
            return np.clip((k - first + 1) / block, 0.0, 1.0)
        if rule == "midrank":  # Frozen-in-Time: R1 = (rank0 == 0), R@K = (rank0 < K) on averaged 0-based ranks
            rank0 = self.greater + self.tied / 2.0
            return (rank0 == 0 if k == 1 else rank0 < k).astype(np.float64)
        return (self.ranks(rule) <= k).astype(np.float64)


def rank_counts(scores: np.ndarray, target: np.ndarray, *, exclude: np.ndarray | None = None) -> RankCounts:
    """Rank counts of ``scores[q, target[q]]`` within row ``q``.

    ``exclude`` (bool, same shape as ``scores``) removes candidates from the competition (e.g. the other
    correct captions of a video), never the target itself.
    """
    n_q, n_c = scores.shape
    target = np.asarray(target, dtype=np.int64)
    if target.shape != (n_q,):
        raise BenchError(f"rank_counts: {target.shape[0]} targets for {n_q} score rows")
    if n_q and (target.min() < 0 or target.max() >= n_c):
        raise BenchError(f"rank_counts: target index out of range [0, {n_c}) (min {target.min()}, max {target.max()})")
    greater = np.empty(n_q, dtype=np.int64)
    tied = np.empty(n_q, dtype=np.int64)
    tied_before = np.empty(n_q, dtype=np.int64)
    cols = np.arange(n_c)
    for lo in range(0, n_q, _ROW_CHUNK):
        hi = min(lo + _ROW_CHUNK, n_q)
        block = scores[lo:hi]
        tgt = target[lo:hi]
        ref = block[np.arange(hi - lo), tgt][:, None]
        gt = block > ref
        eq = block == ref
        if exclude is not None:
            keep = ~exclude[lo:hi]
            keep[np.arange(hi - lo), tgt] = True
            gt &= keep
            eq &= keep
        greater[lo:hi] = gt.sum(axis=1)
        tied[lo:hi] = eq.sum(axis=1) - 1  # minus the target itself
        tied_before[lo:hi] = (eq & (cols[None, :] < tgt[:, None])).sum(axis=1)
    return RankCounts(greater, tied, tied_before)


def as_score_matrix(scores: Any, what: str = "scores") -> np.ndarray:
    """A finite-or-inf float64 2-D array from numpy/torch/nested lists; NaN is refused.

    NaN compares false with everything, so a NaN similarity would silently rank as a win.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(scores, torch.Tensor):
        scores = scores.detach().float().cpu().numpy()
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise BenchError(f"{what}: expected a 2-D numeric matrix ({err})") from err
    if arr.ndim != 2:
        raise BenchError(f"{what}: expected a 2-D matrix, got shape {arr.shape}")
    if np.isnan(arr).any():
        rows = np.unique(np.nonzero(np.isnan(arr))[0])[:5].tolist()
        raise RunError(f"{what}: contains NaN (e.g. rows {rows}); a NaN score cannot be ranked")
    return arr
