"""Open-ended QA end to end on synthetic data (CPU): learning beats chance, both accuracies are reported and
consistent with the per-sample predictions, and the direction-of-motion questions are reported separately."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy.stats import binomtest

from allinone_bench.data.synthetic import COLOURS, DIRECTIONS, SHAPES
from allinone_bench.engine import RunOptions, run_task
from allinone_bench.report.results import read_results


def _subset_accuracy(records: list[dict], answers: set[str]) -> tuple[float, int]:
    chosen = [r for r in records if r["answer"] in answers]
    return 100.0 * sum(r["correct"] for r in chosen) / max(len(chosen), 1), len(chosen)


@pytest.mark.slow
def test_default_synthetic_qa_learns(tmp_path: Path, one_thread: None) -> None:
    result = run_task(RunOptions(task="msrvtt_qa", output_dir=tmp_path))
    data = read_results(result.results_path)
    m = data["metrics"]
    vocab = len(COLOURS) + len(SHAPES) + len(DIRECTIONS)  # the synthetic training answers
    chance = 100.0 / vocab
    lines = [json.loads(x) for x in (result.run_dir / data["predictions"]).read_text().splitlines()]
    by_kind = {name: _subset_accuracy(lines, set(values)) for name, values in
               (("colour", COLOURS), ("shape", SHAPES), ("direction", DIRECTIONS))}
    print(f"synthetic msrvtt_qa: acc {m['acc']:.1f}, acc_in_vocab {m['acc_in_vocab']:.1f} "
          f"(uniform chance {chance:.1f}); per question type: "
          + ", ".join(f"{k} {v[0]:.1f}% of {v[1]}" for k, v in by_kind.items()))
    # Learning, as a test of significance rather than a multiple of chance that seed-to-seed noise on 36
    # questions straddles: on the in-vocabulary questions (the OOV ones cannot be answered, so acc has the same
    # count of correct answers) the model beats a uniform guesser over the training answers at p < 0.01
    # (one-sided binomial: 9 or more of 36 correct).
    in_vocab = [r for r in lines if r["in_vocab"]]
    correct = sum(bool(r["correct"]) for r in in_vocab)
    assert binomtest(correct, len(in_vocab), 1 / vocab, alternative="greater").pvalue < 0.01, (correct, len(in_vocab))
    # The model must have learned to read the question. Every video is asked a colour and a shape question, so
    # a model whose answer ignores the question gives colour answers to some share c of the videos and shape
    # answers to some share s <= 1 - c, whichever is asked: at most 50% of those answers would be of the asked
    # type. Direction questions need temporal cues (3 frames + token rolling) that this tiny model learns only
    # sometimes, so they are reported, not asserted (seen: 2-12 of 12 on-type across seeds and runs).
    on_type = {}
    for name, values in (("colour", COLOURS), ("shape", SHAPES), ("direction", DIRECTIONS)):
        asked = [r for r in lines if r["answer"] in values]
        on_type[name] = (sum(r["pred_answer"] in values for r in asked), len(asked))
        print(f"{name}: {on_type[name][0]} of {on_type[name][1]} predictions are {name} answers")
    hits, asked_n = (sum(on_type[k][i] for k in ("colour", "shape")) for i in (0, 1))
    assert asked_n and hits >= 0.75 * asked_n, f"colour/shape questions answered off-type: {on_type}"
    # acc counts OOV questions as wrong; acc_in_vocab drops them: both follow from the predictions file.
    n_correct = sum(r["correct"] for r in lines)
    n_in_vocab = sum(r["in_vocab"] for r in lines)
    assert m["n_oov"] > 0 and n_in_vocab == m["n_in_vocab"]
    assert m["acc"] == pytest.approx(100.0 * n_correct / len(lines))
    assert m["acc_in_vocab"] == pytest.approx(100.0 * n_correct / n_in_vocab)
    assert not any(r["correct"] for r in lines if not r["in_vocab"])
    # MSRVTT-QA has a validation file: the epoch is selected on it, never on test.
    assert not data["selection_split"]["uses_test"]


@pytest.mark.parametrize(("task", "overrides", "selects_on_test"), [
    ("msvd_qa", {}, False),
    ("msvd_qa", {"dataset.splits.val": "test"}, True),  # the official protocol, on request
    ("tgif_frameqa", {}, False),  # no validation file: a holdout of the training GIFs
    ("tgif_frameqa", {"dataset.options.val_source": "test", "dataset.splits.val": "test"}, True),
])
def test_other_open_qa_tasks_end_to_end(tmp_path: Path, task: str, overrides: dict, selects_on_test: bool) -> None:
    result = run_task(RunOptions(task=task, output_dir=tmp_path, count_flops=False,
                                 overrides={"finetune.epochs": 1, **overrides}))
    data = read_results(result.results_path)
    # Selecting the epoch on the test split happens only where a task declares the official protocol, and
    # the results then say so and quote why.
    assert data["selection_split"]["uses_test"] is selects_on_test
    assert bool(data["selection_split"]["note"]) is selects_on_test
    m = data["metrics"]
    assert set(result.config.metric_names) <= set(m)
    assert 0.0 <= m["acc"] <= m["acc_in_vocab"] <= 100.0
    assert data["n_samples"]["evaluated"] == data["n_samples"]["total"] == m["n"]
    assert data["protocol"]["scoring"] == "vqa_classifier argmax"
    assert data["model"]["config"]["qa_labels"] == data["protocol"]["extra"]["num_labels"] >= 2


def test_open_qa_head_size_follows_vocabulary(tmp_path: Path) -> None:
    from allinone_bench.data.tokenizer import load_tokenizer
    from allinone_bench.data.types import DatasetSplit
    from allinone_bench.errors import ConfigError
    from allinone_bench.tasks import get_kind, load_task

    cfg = load_task("msrvtt_qa", synthetic=True)
    kind = get_kind("open_qa")(cfg, load_tokenizer())
    split = DatasetSplit(dataset="x", split="train", samples=[], answer_vocab={"red": 0, "blue": 1})
    assert kind.model_overrides(split) == {"qa_labels": 3}  # vocabulary + 1, as the official heads
    official = get_kind("open_qa")(load_task("msrvtt_qa"), load_tokenizer())
    assert official.model_overrides(split) == {"qa_labels": 1501}
    small = get_kind("open_qa")(load_task("msrvtt_qa", overrides={"options.num_labels": 1}), load_tokenizer())
    with pytest.raises(ConfigError, match="smaller than the training answer vocabulary"):
        small.model_overrides(split)
