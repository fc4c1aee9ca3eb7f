"""Retrieval ranks, tie rules, multi-caption/paragraph modes, rerank and dual softmax, on hand-worked matrices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from allinone_bench.errors import BenchError, ConfigError
from allinone_bench.metrics import RetrievalMetric, build_metrics, dual_softmax, rerank, retrieval_metrics
from allinone_bench.metrics.retrieval import t2v_metrics, t2v_rank_counts, v2t_metrics, v2t_rank_counts


def test_small_matrix_by_hand() -> None:
    # rows = texts, cols = videos, text i <-> video i.
    s = np.array(
        [
            [0.9, 0.1, 0.65],
            [0.2, 0.3, 0.8],
            [0.4, 0.7, 0.6],
        ]
    )
    # t2v: t0 -> v0 (0.9 is the row max) rank 1; t1 -> v1 (0.3; 0.8 above) rank 2; t2 -> v2 (0.6; 0.7 above) rank 2
    # v2t: v0 column [0.9,0.2,0.4] t0 rank 1; v1 column [0.1,0.3,0.7] t1 rank 2;
    #      v2 column [0.65,0.8,0.6] t2 rank 3
    m = retrieval_metrics(s, ks=(1, 2, 5))
    assert m["t2v_R@1"] == pytest.approx(100 / 3)
    assert m["t2v_R@2"] == pytest.approx(100.0)
    assert m["t2v_R@5"] == pytest.approx(100.0)
    assert m["t2v_MdR"] == 2.0
    assert m["t2v_MnR"] == pytest.approx(5 / 3)
    assert m["v2t_R@1"] == pytest.approx(100 / 3)
    assert m["v2t_R@2"] == pytest.approx(200 / 3)
    assert m["v2t_MdR"] == 2.0
    assert m["v2t_MnR"] == pytest.approx(2.0)
    # No ties here, so every rule agrees.
    for ties in ("optimistic", "pessimistic", "official"):
        assert retrieval_metrics(s, ks=(1, 2, 5), ties=ties) == pytest.approx(m)


def test_default_keys_and_torch_input() -> None:
    torch = pytest.importorskip("torch")
    s = torch.eye(60) + 0.01 * torch.arange(60.0)[None, :]  # every text's GT is its row max
    m = retrieval_metrics(s)
    assert set(m) == {f"{d}_{k}" for d in ("t2v", "v2t") for k in ("R@1", "R@5", "R@10", "R@50", "MdR", "MnR")}
    assert m["t2v_R@1"] == 100.0 and m["t2v_MdR"] == 1.0 and m["t2v_MnR"] == 1.0


@pytest.mark.parametrize(
    ("ties", "rank", "r1", "r2", "r3"),
    [
        # one text, GT video 1 tied with videos 0 and 2 at 0.5, video 3 below:
        # greater = 0, tied = 2 -> the GT occupies one of positions 1..3
        ("optimistic", 1.0, 100.0, 100.0, 100.0),
        ("pessimistic", 3.0, 0.0, 0.0, 100.0),
        ("average", 2.0, 100 / 3, 200 / 3, 100.0),  # expected hit under a random order of the tie block
        ("official", 1.0, 100.0, 100.0, 100.0),  # Frozen-in-Time t2v is optimistic
    ],
)
def test_t2v_tie_rules(ties: str, rank: float, r1: float, r2: float, r3: float) -> None:
    s = np.array([[0.5, 0.5, 0.5, 0.2]])
    m = t2v_metrics(s, [1], ties=ties, ks=(1, 2, 3))  # type: ignore[arg-type]
    assert m["t2v_MdR"] == rank and m["t2v_MnR"] == rank
    assert (m["t2v_R@1"], m["t2v_R@2"], m["t2v_R@3"]) == pytest.approx((r1, r2, r3))


def test_constant_scores_give_chance_by_default() -> None:
    s = np.zeros((4, 4))
    avg = retrieval_metrics(s, ks=(1,))
    assert avg["t2v_R@1"] == pytest.approx(25.0) and avg["v2t_R@1"] == pytest.approx(25.0)
    assert avg["t2v_MdR"] == 2.5 and avg["t2v_MnR"] == 2.5
    assert retrieval_metrics(s, ks=(1,), ties="optimistic")["t2v_R@1"] == 100.0
    pess = retrieval_metrics(s, ks=(1,), ties="pessimistic")
    assert pess["t2v_R@1"] == 0.0 and pess["t2v_MdR"] == 4.0


def test_multi_caption_best_gt_text() -> None:
    # texts t0,t1 describe v0; t2,t3 describe v1
    s = np.array(
        [
            [0.9, 0.2],
            [0.1, 0.5],
            [0.3, 0.4],
            [0.6, 0.7],
        ]
    )
    t2v = [0, 0, 1, 1]
    # t2v: t0 rank 1, t1 rank 2 (0.5 > 0.1), t2 rank 1, t3 rank 1 -> R@1 75, MdR 1, MnR 1.25
    # v2t: v0 column [0.9,0.1,0.3,0.6], best GT t0 (0.9) rank 1;
    #      v1 column [0.2,0.5,0.4,0.7], best GT t3 (0.7) rank 1 (t1's 0.5 is below) -> R@1 100
    m = retrieval_metrics(s, t2v, ks=(1, 5))
    assert m["t2v_R@1"] == 75.0 and m["t2v_MdR"] == 1.0 and m["t2v_MnR"] == 1.25
    assert m["v2t_R@1"] == 100.0 and m["v2t_MnR"] == 1.0
    assert len(t2v_rank_counts(s, t2v)) == 4 and len(v2t_rank_counts(s, t2v)) == 2


def test_multi_caption_ties_default_vs_official() -> None:
    s = np.array(
        [
            [0.8, 0.1],  # t0 (v0)
            [0.8, 0.2],  # t1 (v0)
            [0.3, 0.9],  # t2 (v1)
            [0.8, 0.4],  # t3 (v1)
        ]
    )
    t2v = [0, 0, 1, 1]
    # v2t for v0: column [0.8, 0.8, 0.3, 0.8]. Best GT score 0.8 (t0 and t1).
    #   default ("average", other GT texts are not competitors): t3 ties -> greater 0, tied 1 -> rank 1.5,
    #   R@1 credit 0.5.  official (Frozen): average 0-based position of 0.8 among all texts = (0+1+2)/3 = 1,
    #   i.e. rank 2, and R@1 needs 0-based rank < 1 -> miss; R@2 hit.
    # v2t for v1: column [0.1, 0.2, 0.9, 0.4], best GT t2 (0.9) rank 1 under every rule.
    d = v2t_metrics(s, t2v, ks=(1, 2))
    assert d["v2t_R@1"] == pytest.approx(75.0) and d["v2t_MnR"] == pytest.approx(1.25)
    o = v2t_metrics(s, t2v, ks=(1, 2), ties="official")
    assert o["v2t_R@1"] == pytest.approx(50.0) and o["v2t_R@2"] == pytest.approx(100.0)
    assert o["v2t_MdR"] == 1.5 and o["v2t_MnR"] == 1.5
    assert v2t_metrics(s, t2v, ks=(1,), ties="pessimistic")["v2t_R@1"] == 50.0  # v0 rank 2
    assert v2t_metrics(s, t2v, ks=(1,), ties="optimistic")["v2t_R@1"] == 100.0


def test_official_ties_by_hand_in_each_direction() -> None:
    """The 3x3 case of issue 8: one tie in row 1 / column 2, 0-based positions, text i <-> video i."""
    s = np.array(
        [
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 1.0],
            [0.0, 0.0, 1.0],
        ]
    )
    # t2v (official = optimistic): t1's GT v1 ties with v2 at the top -> 0-based rank 0 -> every text hits R@1.
    #   average rule: t1 gets half a hit -> (1 + 0.5 + 1) / 3.
    # v2t (official = Frozen mid-rank): v2's column [0, 1, 1]: GT t2 ties with t1 at positions 0 and 1 ->
    #   averaged 0-based rank 0.5, which is not 0 -> no R@1 (66.7), but 0.5 < 5 -> R@5 hit (100).
    #   MdR = median(1, 1, 1.5) = 1, MnR = (1 + 1 + 1.5) / 3.
    o = retrieval_metrics(s, ties="official", ks=(1, 5))
    assert o["t2v_R@1"] == pytest.approx(100.0) and o["t2v_MnR"] == pytest.approx(1.0)
    assert o["v2t_R@1"] == pytest.approx(200 / 3)  # 66.7; the old rule (rank < K + 1) gave 100
    assert o["v2t_R@5"] == pytest.approx(100.0)
    assert o["v2t_MdR"] == 1.0 and o["v2t_MnR"] == pytest.approx(3.5 / 3)
    a = retrieval_metrics(s, ties="average", ks=(1,))
    assert a["t2v_R@1"] == pytest.approx(250 / 3) and a["v2t_R@1"] == pytest.approx(250 / 3)


def test_official_v2t_fractional_rank_below_k_is_a_hit() -> None:
    # Video 0's GT text t0 (2.0) ties with t5 below four texts at 3.0: 0-based positions 4 and 5 -> 4.5.
    # Official: R@1 miss (4.5 != 0), R@5 hit (4.5 < 5); average rule: half a hit at 5. Other videos: rank 0.
    s = 2.0 * np.eye(7)
    s[1:5, 0] = 3.0
    s[5, 0] = 2.0
    o = v2t_metrics(s, ks=(1, 5), ties="official")
    assert o["v2t_R@1"] == pytest.approx(600 / 7) and o["v2t_R@5"] == pytest.approx(100.0)
    assert o["v2t_MnR"] == pytest.approx((6 + 5.5) / 7)
    a = v2t_metrics(s, ks=(5,), ties="average")
    assert a["v2t_R@5"] == pytest.approx(650 / 7)


def _frozen_reference(s: np.ndarray, per_video: int, ks: tuple[int, ...]) -> dict[str, float]:
    """Independent, naive re-statement of Frozen-in-Time's rules (texts video-major, 0-based positions)."""
    n_text, n_video = s.shape
    t2v = []
    for i in range(n_text):
        ordered = sorted(s[i].tolist(), reverse=True)
        t2v.append(ordered.index(s[i, i // per_video]))  # first position of the GT value: optimistic
    v2t = []
    for v in range(n_video):
        ordered = sorted(s[:, v].tolist(), reverse=True)
        positions = [
            float(np.mean([p for p, x in enumerate(ordered) if x == s[j, v]]))
            for j in range(v * per_video, (v + 1) * per_video)
        ]
        v2t.append(min(positions))
    out = {}
    for name, ranks in (("t2v", np.array(t2v, float)), ("v2t", np.array(v2t))):
        for k in ks:  # cols2metrics: R1 = (cols == 0), R5/R10/R50 = (cols < K)
            out[f"{name}_R@{k}"] = 100.0 * float(np.mean(ranks == 0 if k == 1 else ranks < k))
        out[f"{name}_MdR"] = float(np.median(ranks)) + 1
        out[f"{name}_MnR"] = float(np.mean(ranks)) + 1
    return out


@pytest.mark.parametrize("per_video", [1, 3])
def test_official_matches_frozen_rules_with_many_ties(per_video: int) -> None:
    rng = np.random.default_rng(per_video)
    n_video = 12
    s = np.round(rng.random((n_video * per_video, n_video)), 1)  # one decimal: ties everywhere
    t2v = np.repeat(np.arange(n_video), per_video)
    ks = (1, 2, 5, 10)
    ours = retrieval_metrics(s, t2v, ties="official", ks=ks)
    assert ours == pytest.approx(_frozen_reference(s, per_video, ks))


def test_paragraph_mode_one_text_per_video() -> None:
    # DiDeMo/ActivityNet paragraph retrieval: each video's sentences joined into one text -> square matrix.
    s = np.array(
        [
            [0.7, 0.2, 0.1],
            [0.3, 0.6, 0.65],
            [0.1, 0.2, 0.9],
        ]
    )
    # t2v ranks 1, 2, 1; v2t: v0 [0.7,0.3,0.1] rank 1, v1 [0.2,0.6,0.2] rank 1, v2 [0.1,0.65,0.9] rank 1
    m = retrieval_metrics(s, ks=(1,))
    assert m == pytest.approx(retrieval_metrics(s, [0, 1, 2], ks=(1,)))
    assert m["t2v_R@1"] == pytest.approx(200 / 3) and m["t2v_MnR"] == pytest.approx(4 / 3)
    assert m["v2t_R@1"] == 100.0


def test_distractor_videos_without_text() -> None:
    s = np.array([[0.9, 0.95, 0.1], [0.2, 0.3, 0.4]])  # video 1 has no text: a t2v distractor only
    m = retrieval_metrics(s, [0, 2], ks=(1,))
    assert m["t2v_R@1"] == 50.0  # t0 loses to the distractor, t1 wins
    assert len(v2t_rank_counts(s, [0, 2])) == 2  # v2t queries: videos 0 and 2
    assert m["v2t_R@1"] == 100.0  # v0 column [0.9, 0.2]; v2 column [0.1, 0.4]


def test_bad_inputs() -> None:
    with pytest.raises(BenchError, match="NaN"):
        retrieval_metrics(np.array([[np.nan, 0.1], [0.2, 0.3]]))
    with pytest.raises(BenchError, match="text_to_video is required"):
        retrieval_metrics(np.zeros((3, 2)))
    with pytest.raises(BenchError, match="outside"):
        retrieval_metrics(np.zeros((2, 2)), [0, 2])
    with pytest.raises(ConfigError, match="ties"):
        retrieval_metrics(np.zeros((2, 2)), ties="random")  # type: ignore[arg-type]


def test_rerank_k_equals_n_is_pure_cross_ranking() -> None:
    rng = np.random.default_rng(0)
    dual = rng.random((6, 5))
    cross = rng.normal(size=(6, 5))
    t2v = [0, 1, 2, 3, 4, 0]
    calls: list[int] = []

    def scorer(text: int, videos: np.ndarray) -> np.ndarray:
        calls.append(len(videos))
        return cross[text, videos]

    out = rerank(dual, scorer, k=5)
    np.testing.assert_array_equal(out, cross)
    assert calls == [5] * 6
    assert retrieval_metrics(out, t2v) == retrieval_metrics(cross, t2v)
    # v2t direction: one query per video, the callback gets (video, text indices)
    out_v = rerank(dual, lambda v, texts: cross[texts, v], k=6, direction="v2t")
    np.testing.assert_array_equal(out_v, cross)


def test_rerank_top_k_order() -> None:
    dual = np.array([[0.9, 0.8, 0.1, 0.5]])
    # dual top-2 = videos 0, 1; the cross-encoder prefers video 1 (2.0) over video 0 (-3.0)
    out = rerank(dual, lambda t, vids: np.where(vids == 1, 2.0, -3.0), k=2)
    assert np.argsort(-out[0]).tolist() == [1, 0, 3, 2]  # top-2 in cross order, then the rest in dual order
    assert out[0, 3] == 0.5 and out[0, 2] == 0.1  # untouched entries keep their dual score
    assert out[0, [0, 1]].min() > 0.5


def test_rerank_queries_subset() -> None:
    dual = np.array([[0.9, 0.1], [0.2, 0.8]])
    # text 1's dual order is [video 1, video 0]; the scorer gives them 5.0 and 7.0 in that order
    out = rerank(dual, lambda t, vids: np.array([5.0, 7.0]), k=2, queries=[1])
    np.testing.assert_array_equal(out[0], dual[0])  # text 0 not in this shard: unchanged
    assert out[1].tolist() == [7.0, 5.0]


def test_dual_softmax_by_hand() -> None:
    # v0 is a "hub" similar to both texts. Raw t2v: t1's GT v1 (0.7) loses to v0 (0.8) -> R@1 50.
    s = np.array([[0.9, 0.3], [0.8, 0.7]])
    # temperature 0.1, t2v prior = softmax over texts in each video column:
    #   v0: softmax([9, 8]) = [0.7311, 0.2689]; v1: softmax([3, 7]) = [0.0180, 0.9820]
    #   S' = [[0.9*0.7311, 0.3*0.0180], [0.8*0.2689, 0.7*0.9820]] = [[0.658, 0.0054], [0.2151, 0.6874]]
    p0 = 1 / (1 + math.exp(-1))
    p1 = 1 / (1 + math.exp(-4))
    expected = np.array([[0.9 * p0, 0.3 * (1 - p1)], [0.8 * (1 - p0), 0.7 * p1]])
    out = dual_softmax(s, 0.1)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert retrieval_metrics(s, ks=(1,))["t2v_R@1"] == 50.0
    assert retrieval_metrics(out, ks=(1,))["t2v_R@1"] == 100.0
    np.testing.assert_allclose(dual_softmax(s, 0.1, direction="v2t"), dual_softmax(s.T, 0.1).T)
    with pytest.raises(ConfigError):
        dual_softmax(s, 0.0)


def test_retrieval_metric_records_and_dsl_row() -> None:
    s = np.array([[0.9, 0.3], [0.8, 0.7]])
    metric = RetrievalMetric(dual_softmax=0.1)
    metric.process([{"id": "t1", "scores": s[1], "target": 1}, {"id": "t0", "scores": s[0], "target": 0}])
    metric.process([{"id": "t1", "scores": s[1], "target": 1}])  # padding duplicate
    res = metric.compute()
    assert metric.num_duplicates == 1
    assert res["t2v_R@1"] == 50.0 and res["dsl_t2v_R@1"] == 100.0
    assert res["n_texts"] == 2 and res["n_videos"] == 2
    assert metric.describe()["dual_softmax"] == 0.1 and metric.describe()["ties"] == "average"


def test_retrieval_metric_alias_keys_and_v2t_scores() -> None:
    (metric,) = build_metrics(["t2v_R@1", "v2t_R@1", {"name": "retrieval", "ties": "pessimistic"}])
    assert isinstance(metric, RetrievalMetric) and metric.options.ties == "pessimistic"
    s = np.zeros((2, 2))
    v2t = np.eye(2)
    metric.process({"id": i, "scores": s[i], "target": i, "v2t_scores": v2t[i]} for i in range(2))
    res = metric.compute()
    assert set(res) == {"t2v_R@1", "v2t_R@1", "n_texts", "n_videos"}
    assert res["t2v_R@1"] == 0.0 and res["v2t_R@1"] == 100.0  # v2t scored from the reranked matrix
    with pytest.raises(BenchError, match="same video set"):
        metric.compute([{"id": 0, "scores": [0.1, 0.2], "target": 0}, {"id": 1, "scores": [0.1], "target": 0}])
