"""Accuracy (OOV handling), multiple choice, top-k, the Metric base (dedup, records) and the registry."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from allinone_bench.errors import BenchError, ConfigError
from allinone_bench.metrics import (
    AccuracyMetric,
    CaptioningMetric,
    Metric,
    MultipleChoiceMetric,
    TopKMetric,
    build_metrics,
    compute_all,
    get_metric,
    list_metrics,
    multiple_choice_accuracy,
    qa_accuracy,
    topk_accuracy,
)

# labels: 0, 2, OOV (None), OOV (-100), 1 ; predictions 0, 1, 3, 0, 1
# correct: yes, no, (OOV: wrong), (OOV: wrong), yes -> 2 correct
# acc = 2/5 = 40 %, acc_in_vocab = 2/3 = 66.67 % (the reference code's denominator drops the 2 OOV questions)
LABELS = [0, 2, None, -100, 1]
PREDS = [0, 1, 3, 0, 1]


def test_acc_counts_oov_as_wrong_and_acc_in_vocab_drops_them() -> None:
    res = qa_accuracy(LABELS, preds=PREDS)
    assert res["acc"] == pytest.approx(40.0)
    assert res["acc_in_vocab"] == pytest.approx(200 / 3)
    assert (res["n"], res["n_in_vocab"], res["n_oov"], res["n_correct"]) == (5, 3, 2, 2)


def test_acc_from_scores_equals_argmax() -> None:
    scores = np.full((5, 4), -1.0)
    for i, p in enumerate(PREDS):
        scores[i, p] = 1.0
    assert qa_accuracy(LABELS, scores=scores) == qa_accuracy(LABELS, preds=PREDS)
    # an OOV question is wrong even when the score row happens to peak at index 0 (its placeholder target)
    assert scores[3].argmax() == 0


def test_acc_ties() -> None:
    scores = np.array([[0.5, 0.5, 0.1], [0.2, 0.9, 0.9]])
    labels = [1, 1]
    # row 0: answer 1 tied with 0 at the max; row 1: answer 1 tied with 2 at the max
    assert qa_accuracy(labels, scores=scores)["acc"] == pytest.approx(50.0)  # 0.5 + 0.5 credit
    assert qa_accuracy(labels, scores=scores, ties="official")["acc"] == pytest.approx(50.0)  # argmax: 0 and 1
    assert qa_accuracy(labels, scores=scores, ties="optimistic")["acc"] == 100.0
    assert qa_accuracy(labels, scores=scores, ties="pessimistic")["acc"] == 0.0


def test_all_oov_gives_nan_in_vocab() -> None:
    res = qa_accuracy([None, -100], preds=[0, 1])
    assert res["acc"] == 0.0 and np.isnan(res["acc_in_vocab"])


def test_multiple_choice_with_ties() -> None:
    scores = [[0.1, 0.9, 0.3], [0.5, 0.5, 0.1], [0.2, 0.1, 0.0]]
    answers = [1, 1, 2]
    # q0 right; q1 answer tied with option 0; q2 wrong
    assert multiple_choice_accuracy(scores, answers)["mc_acc"] == pytest.approx(50.0)  # 1 + 0.5 + 0
    official = multiple_choice_accuracy(scores, answers, ties="official")  # first index wins the tie -> wrong
    assert official["mc_acc"] == pytest.approx(100 / 3) and official["n_tied"] == 1
    assert multiple_choice_accuracy(scores, answers, ties="optimistic")["mc_acc"] == pytest.approx(200 / 3)
    assert multiple_choice_accuracy(scores, answers, ties="pessimistic")["mc_acc"] == pytest.approx(100 / 3)


def test_multiple_choice_ragged_options() -> None:
    res = multiple_choice_accuracy([[0.1, 0.9], [0.3, 0.2, 0.8]], [1, 2])
    assert res["mc_acc"] == 100.0 and res["n"] == 2
    with pytest.raises(BenchError, match="outside the 2 scored choices"):
        multiple_choice_accuracy([[0.1, 0.9], [0.3, 0.2, 0.8]], [2, 2])


def test_topk_by_hand() -> None:
    scores = np.array(
        [
            [0.1, 0.5, 0.3, 0.9, 0.2, 0.0],  # label 2: 0.5 and 0.9 above -> rank 3
            [0.6, 0.1, 0.2, 0.3, 0.4, 0.5],  # label 1: five classes above -> rank 6
        ]
    )
    res = topk_accuracy(scores, [2, 1], ks=(1, 3, 5, 10))
    assert res == {"top1": 0.0, "top3": 50.0, "top5": 50.0, "top10": 100.0, "n": 2}


# ------------------------------------------------------------------------------------------ Metric base
@dataclass(frozen=True)
class QARecord:
    id: str
    pred: int
    label: int | None


def test_metric_process_dedups_padding_duplicates() -> None:
    metric = AccuracyMetric()
    records = [QARecord(f"q{i}", p, y) for i, (p, y) in enumerate(zip(PREDS, LABELS))]
    metric.process(records[:3])
    metric.process(records[2:])  # q2 again, as a padded DistributedSampler would repeat it
    metric.process([{"id": "q0", "pred": 0, "label": 0}])  # dicts and dataclasses mix
    assert len(metric) == 5 and metric.num_duplicates == 2
    res = metric.compute()
    assert res["acc"] == pytest.approx(40.0) and res["acc_in_vocab"] == pytest.approx(200 / 3)
    assert res["n"] == 5


def test_metric_duplicate_with_other_values_is_an_error() -> None:
    metric = AccuracyMetric()
    metric.process([{"id": "q0", "pred": 0, "label": 0}])
    with pytest.raises(BenchError, match="'q0' was recorded twice"):
        metric.process([{"id": "q0", "pred": 1, "label": 0}])


def test_metric_duplicate_float_tolerance_and_tensors() -> None:
    torch = pytest.importorskip("torch")
    metric = MultipleChoiceMetric()
    metric.process([{"id": 7, "scores": torch.tensor([0.1, 0.9], dtype=torch.bfloat16), "answer": torch.tensor(1)}])
    metric.process([{"id": "7", "scores": [0.1001, 0.8999], "answer": 1}])  # same sample, other batch: ok
    assert len(metric) == 1
    with pytest.raises(BenchError, match="recorded twice"):
        metric.process([{"id": 7, "scores": [0.9, 0.1], "answer": 1}])
    assert metric.compute()["mc_acc"] == 100.0


def test_metric_record_validation() -> None:
    with pytest.raises(BenchError, match="lacks field"):
        MultipleChoiceMetric().process([{"id": "a", "scores": [1.0]}])
    with pytest.raises(BenchError, match="without an 'id'"):
        AccuracyMetric().process([{"pred": 1, "label": 1}])
    with pytest.raises(BenchError, match="exactly one of"):
        AccuracyMetric().process([{"id": "a", "label": 1}])
    with pytest.raises(BenchError, match="no records"):
        AccuracyMetric().compute()


def test_compute_with_explicit_records_leaves_state_alone() -> None:
    metric = TopKMetric(keys=["top1", "top5"])
    metric.process([{"id": "x", "scores": [0.0, 1.0], "label": 0}])
    res = metric.compute([{"id": "a", "scores": [0.2, 0.8], "label": 1}, {"id": "a", "scores": [0.2, 0.8], "label": 1}])
    assert res == {"top1": 100.0, "top5": 100.0, "n": 1}
    assert metric.compute() == {"top1": 0.0, "top5": 100.0, "n": 1}


# --------------------------------------------------------------------------------------------- registry
def test_registry_names_and_aliases() -> None:
    assert {"accuracy", "mc_accuracy", "topk_accuracy", "retrieval", "captioning", "linear_probe"} <= set(
        list_metrics()
    )
    assert get_metric("acc_in_vocab") is AccuracyMetric and get_metric("cider") is CaptioningMetric
    with pytest.raises(ConfigError, match="unknown metric 'bleu5'"):
        get_metric("bleu5")


def test_build_metrics_groups_output_names() -> None:
    metrics = build_metrics(["acc", "acc_in_vocab", "bleu4", "rouge_l", {"name": "captioning", "tokenizer": "simple"}])
    assert [type(m) for m in metrics] == [AccuracyMetric, CaptioningMetric]
    assert metrics[0].keys == ("acc", "acc_in_vocab")
    assert metrics[1].keys == ("bleu4", "rouge_l") and metrics[1].tokenizer == "simple"  # type: ignore[attr-defined]
    assert build_metrics(["captioning"])[0].keys == ("bleu4", "meteor", "rouge_l", "cider")
    with pytest.raises(ConfigError, match="bad options"):
        build_metrics([{"name": "accuracy", "tie": "average"}])
    with pytest.raises(ConfigError, match="ties"):
        build_metrics([{"name": "accuracy", "ties": "coin-flip"}])
    with pytest.raises(ConfigError, match="unknown output"):
        AccuracyMetric(keys=["top1"])


def test_compute_all_merges_and_checks_shared_counts() -> None:
    acc = AccuracyMetric(keys=["acc"])
    top = TopKMetric(keys=["top1"])
    for i in range(3):
        acc.process([{"id": i, "scores": [0.0, 1.0], "label": 1}])
        top.process([{"id": i, "scores": [0.0, 1.0], "label": 1}])
    assert compute_all([acc, top]) == {
        "acc": 100.0, "n": 3, "n_in_vocab": 3, "n_oov": 0, "n_correct": 3.0, "top1": 100.0
    }
    top.process([{"id": 9, "scores": [1.0, 0.0], "label": 1}])
    with pytest.raises(BenchError, match="disagree on 'n'"):
        compute_all([acc, top])


def test_custom_metric_subclass() -> None:
    class Count(Metric):
        name = "count_test"
        outputs = ("count",)

        def compute_metrics(self, records: list[dict]) -> dict[str, float]:
            return {"count": len(records)}

    m = Count()
    m.process({"id": i % 3} for i in range(10))
    assert m.compute() == {"count": 3} and m.num_duplicates == 7


def test_merge_of_rank_shards_drops_padding() -> None:
    # What gather() does with the per-rank record dicts of a padded 2-rank split (no process group needed).
    metric = AccuracyMetric()
    rank0 = {"q0": {"id": "q0", "pred": 0, "label": 0}, "q2": {"id": "q2", "pred": 1, "label": 2}}
    rank1 = {"q1": {"id": "q1", "pred": 1, "label": 1}, "q0": {"id": "q0", "pred": 0, "label": 0}}
    merged = metric._merge([rank0, rank1])
    assert sorted(merged) == ["q0", "q1", "q2"] and metric.gather_duplicates == 1
    assert metric.compute(list(merged.values()))["acc"] == pytest.approx(200 / 3)
    with pytest.raises(BenchError, match="recorded twice"):
        metric._merge([rank0, {"q0": {"id": "q0", "pred": 5, "label": 0}}])
