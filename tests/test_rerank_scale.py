"""dual+rerank(k) at scale: joint forwards counted (not timed) on a 1000 x 1000 set.

The cross-encoder scores exactly the pairs :func:`rerank_pairs` selects, so their number is the joint-forward
count; ``tests/test_run_retrieval.py`` checks on a real run that the evaluator's ``pair_scores`` counter follows
the same selection. The default (``rerank_directions: t2v``) scores each text's top-k videos: k N pairs, 1.6% of
all pairs at k = 16, N = 1000, whatever the scores. ``both`` adds each video's top-k texts, deduplicated: at
most 2 k N = 3.2%; measured 1.83% for unstructured scores and 2.06% for scores of correlated text/video
embeddings (as a trained dual encoder gives), so the issue's "<= 2%" holds for ``t2v`` and not always for
``both``. The test asserts the measured values within 0.1 point.
"""

from __future__ import annotations

import numpy as np
import pytest

from allinone_bench.tasks.retrieval import rerank_pairs

N, K = 1000, 16


def _dual(kind: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    if kind == "unstructured":
        return rng.standard_normal((N, N))
    videos = rng.standard_normal((N, 64))
    return (videos + 0.5 * rng.standard_normal((N, 64))) @ videos.T


@pytest.mark.parametrize("kind", ["unstructured", "correlated"])
def test_t2v_rerank_scores_k_per_text(kind: str) -> None:
    dual = _dual(kind)
    pairs = rerank_pairs(dual, K, directions="t2v")
    assert len(pairs) == K * N and len(pairs) / (N * N) <= 0.02
    for t in (0, 17, N - 1):  # exactly the text's dual top-k
        assert {v for tt, v in pairs if tt == t} == set(np.argsort(-dual[t], kind="stable")[:K].tolist())


@pytest.mark.parametrize(("kind", "expected_share"), [("unstructured", 0.0183), ("correlated", 0.0206)])
def test_both_directions_forwards_on_1000x1000(kind: str, expected_share: float) -> None:
    pairs = rerank_pairs(_dual(kind), K, directions="both")
    share = len(pairs) / (N * N)
    assert rerank_pairs(_dual(kind), K, directions="t2v") <= pairs
    assert len(pairs) <= 2 * K * N  # never more than k per query and direction
    assert abs(share - expected_share) <= 0.001, share
    assert {t for t, _ in pairs} == set(range(N)) and {v for _, v in pairs} == set(range(N))
