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


def test_topk_label_scored_minus_inf_is_never_a_hit() -> None:
    # A class the probe never saw in training gets -inf: wrong at every k, even with few classes, where the
    # tie rule alone would credit it (two -inf columns tie within the top 5).
    scores = np.array([[0.7, 0.2, -np.inf, -np.inf], [0.5, 0.25, 0.25, -np.inf]])
    res = topk_accuracy(scores, [2, 2], ks=(1, 2, 5))
    assert res["top1"] == 0.0 and res["top2"] == pytest.approx(25.0)  # row 1: tied 2nd/3rd -> half a hit
    assert res["top5"] == pytest.approx(50.0)


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
    assert {"accuracy", "mc_accuracy", "mc_group_accuracy", "topk_accuracy", "retrieval", "captioning"} == set(list_metrics())
    assert get_metric("acc_in_vocab") is AccuracyMetric and get_metric("cider") is CaptioningMetric
    with pytest.raises(ConfigError, match="unknown metric 'bleu5'"):
        get_metric("bleu5")


def test_build_metrics_groups_output_names() -> None:
    metrics = build_metrics(["acc", "acc_in_vocab", "bleu4", "rouge_l", {"name": "captioning", "tokenizer": "simple"}])
    assert [type(m) for m in metrics] == [AccuracyMetric, CaptioningMetric]
    assert metrics[0].keys == ("acc", "acc_in_vocab")
    assert metrics[1].keys == ("bleu4", "rouge_l") and metrics[1].options.tokenizer == "simple"
    assert build_metrics(["captioning"])[0].keys == ("bleu4", "meteor", "rouge_l", "cider")
    with pytest.raises(ConfigError, match=r"metrics\[0\]: tie: unknown key \(valid keys here: ties\)"):
        build_metrics([{"name": "accuracy", "tie": "average"}])
    with pytest.raises(ConfigError, match=r"metrics\[1\]: ties: Input should be 'optimistic', .*got 'coin-flip'"):
        build_metrics(["acc", {"name": "acc_in_vocab", "ties": "coin-flip"}])
    with pytest.raises(ConfigError, match=r"metrics\[1\]: options \{'ties': 'official'\} contradict"):
        build_metrics([{"name": "acc", "ties": "average"}, {"name": "acc_in_vocab", "ties": "official"}])
    with pytest.raises(ConfigError, match="unknown output"):
        AccuracyMetric(keys=["top1"])


def test_options_are_typed_shared_by_a_class_and_described() -> None:
    (ret,) = build_metrics(["t2v_R@1", {"name": "v2t_R@1", "ties": "official"}, "v2t_R@5"])
    assert ret.keys == ("t2v_R@1", "v2t_R@1", "v2t_R@5") and ret.options.ties == "official"
    assert ret.describe() == {"metric": "retrieval", "keys": ["t2v_R@1", "v2t_R@1", "v2t_R@5"],
                              "ties": "official", "dual_softmax": None}
    (same,) = build_metrics([{"name": "t2v_R@1", "ties": "official"}, {"name": "v2t_R@1", "ties": "official"}])
    assert same.options.ties == "official"  # repeating the class's options is fine
    assert AccuracyMetric(ties="official").describe()["ties"] == "official"
    # ``only`` keeps the options and drops classes left without keys (captioning's cheap selection metrics)
    built = build_metrics([{"name": "bleu4", "tokenizer": "simple"}, "meteor", "cider", "acc"], only=["cider"])
    assert [(type(m), m.keys, m.options.tokenizer) for m in built] == [(CaptioningMetric, ("cider",), "simple")]


def test_merge_scores_checks_shared_counts() -> None:
    from allinone_bench.metrics import merge_scores

    records = [{"id": i, "scores": [0.0, 1.0], "label": 1} for i in range(3)]
    out: dict[str, float] = {}
    merge_scores(out, AccuracyMetric(keys=["acc"]).compute(records), "accuracy")
    merge_scores(out, TopKMetric(keys=["top1"]).compute(records), "topk_accuracy")
    assert out == {"acc": 100.0, "n": 3, "n_in_vocab": 3, "n_oov": 0, "n_correct": 3.0, "top1": 100.0}
    with pytest.raises(BenchError, match="disagree on 'n'"):
        merge_scores(out, {"n": 4}, "other")


def test_custom_metric_subclass() -> None:
    class Count(Metric):
        name = "count_test"
        outputs = ("count",)

        def compute_metrics(self, records: list[dict]) -> dict[str, float]:
            return {"count": len(records)}

    m = Count()
    m.process({"id": i % 3} for i in range(10))
    assert m.compute() == {"count": 3} and m.num_duplicates == 7
