"""dual+rerank(k) at scale: joint forwards counted (not timed) on a 1000 x 1000 set.

The cross-encoder scores exactly the pairs :func:`rerank_pairs` selects (each text's top-k videos and each
video's top-k texts, deduplicated), so their number is the joint-forward count; ``tests/test_run_retrieval.py``
checks on a real run that the evaluator's ``pair_scores`` counter follows the same selection. Hard bound:
2 k N pairs = 3.2% of all pairs at k = 16, N = 1000. Measured share on the dual scores below: 1.83% for
unstructured scores, 2.06% for scores of correlated text/video embeddings (as a trained dual encoder gives),
so the issue's "<= 2%" holds only for the first; the test asserts the measured values within 0.1 point.
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


@pytest.mark.parametrize(("kind", "expected_share"), [("unstructured", 0.0183), ("correlated", 0.0206)])
def test_rerank_forwards_on_1000x1000(kind: str, expected_share: float) -> None:
    pairs = rerank_pairs(_dual(kind), K)
    share = len(pairs) / (N * N)
    assert len(pairs) <= 2 * K * N  # never more than k per query and direction
    assert abs(share - expected_share) <= 0.001, share
    assert {t for t, _ in pairs} == set(range(N)) and {v for _, v in pairs} == set(range(N))
