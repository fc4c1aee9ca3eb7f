"""Captioning metrics equal pycocoevalcap's own scorers; tokenizer fallback is flagged; missing Java is explicit."""

from __future__ import annotations

import shutil

import pytest

from allinone_bench.errors import BenchError
from allinone_bench.metrics import CaptioningMetric, build_metrics, caption_metrics, score_captions
from allinone_bench.metrics.captioning import ptb_tokenize, simple_tokenize

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="PTB tokenizer / METEOR need Java")

PREDICTIONS = {
    "vid1": "A man is playing a guitar.",
    "vid2": "a woman is cutting an onion",
    "vid3": "Two dogs run on the grass!",
}
REFERENCES = {
    "vid1": ["A man plays the guitar.", "Someone is playing a guitar on stage.", "a man is strumming a guitar"],
    "vid2": ["A woman slices an onion.", "a lady is cutting onions in the kitchen"],
    "vid3": ["Two dogs are running across a field.", "dogs play on the grass", "Two puppies run outside."],
}


def _pycocoevalcap_reference(meteor_scorer: object) -> dict[str, float]:
    """The scores exactly as pycocoevalcap computes them (its own tokenizer and scorers)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tok = PTBTokenizer()
    gts = tok.tokenize({k: [{"caption": c} for c in v] for k, v in REFERENCES.items()})
    res = tok.tokenize({k: [{"caption": v}] for k, v in PREDICTIONS.items()})
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    meteor, _ = meteor_scorer.compute_score(gts, res)  # type: ignore[attr-defined]
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    return {"bleu4": 100 * bleu[3], "meteor": 100 * meteor, "rouge_l": 100 * rouge, "cider": 100 * cider}


@needs_java
def test_scores_equal_pycocoevalcap(monkeypatch: pytest.MonkeyPatch) -> None:
    import pycocoevalcap.meteor.meteor as meteor_module

    # METEOR's JVM takes ~15 s to load its paraphrase table; start it once and let both the reference
    # and our code score through it (our code must then stop it: Java processes are short-lived).
    scorer = meteor_module.Meteor()
    ref = _pycocoevalcap_reference(scorer)
    monkeypatch.setattr(meteor_module, "Meteor", lambda: scorer)
    ours = caption_metrics(PREDICTIONS, REFERENCES)
    assert scorer.meteor_p.poll() is not None  # the JVM was stopped after scoring
    assert set(ours) == {"bleu4", "meteor", "rouge_l", "cider", "n"}
    for key, value in ref.items():
        assert ours[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    assert ours["n"] == 3
    assert ours["cider"] > 0 and 0 < ours["bleu4"] < 100 and 0 < ours["meteor"] < 100


@needs_java
def test_ptb_tokenize_matches_pycocoevalcap_tokenizer() -> None:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    sentences = ["He doesn't like t-shirts, (really)!", "", "The man's dog... ran  3.5 km?", "café naïve"]
    theirs = PTBTokenizer().tokenize({str(i): [{"caption": s}] for i, s in enumerate(sentences)})
    assert ptb_tokenize(sentences) == [theirs[str(i)][0] for i in range(len(sentences))]


@needs_java
def test_simple_tokenizer_agrees_on_plain_sentences_and_is_flagged() -> None:
    plain = [c for caps in REFERENCES.values() for c in caps] + list(PREDICTIONS.values())
    plain.append("He doesn't like the man's t-shirt.")
    assert [simple_tokenize(s) for s in plain] == ptb_tokenize(plain)
    simple = caption_metrics(PREDICTIONS, REFERENCES, metrics=["bleu4", "cider"], tokenizer="simple")
    assert simple["nonstandard_tokenizer"] == 1.0
    ptb = caption_metrics(PREDICTIONS, REFERENCES, metrics=["bleu4", "cider"])
    assert "nonstandard_tokenizer" not in ptb
    assert simple["cider"] == pytest.approx(ptb["cider"])  # same tokens on these sentences


def test_simple_tokenizer_without_java(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    res = caption_metrics(PREDICTIONS, REFERENCES, metrics=["bleu4", "rouge_l", "cider"], tokenizer="simple")
    assert res["nonstandard_tokenizer"] == 1.0 and res["cider"] > 0


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BenchError, match=r"METEOR needs Java.*metrics: \[bleu4, rouge_l, cider\]"):
        caption_metrics(PREDICTIONS, REFERENCES, tokenizer="simple")
    with pytest.raises(BenchError, match="PTB caption tokenizer needs Java.*tokenizer='simple'"):
        caption_metrics(PREDICTIONS, REFERENCES, metrics=["cider"])


def test_per_sample_scores_and_perfect_prediction() -> None:
    refs = {"a": ["a cat sits on a mat"], "b": ["a dog runs in a park"]}
    scores = score_captions(
        {"a": "a cat sits on a mat", "b": "a bird flies"}, refs, metrics=["bleu1", "rouge_l"], tokenizer="simple"
    )
    assert not scores.standard
    assert scores.per_sample["a"]["bleu1"] == pytest.approx(100.0)
    assert scores.per_sample["a"]["rouge_l"] == pytest.approx(100.0)
    assert scores.per_sample["b"]["rouge_l"] < scores.per_sample["a"]["rouge_l"]


def test_input_errors() -> None:
    with pytest.raises(BenchError, match="ids differ"):
        caption_metrics({"a": "x"}, {"b": ["x"]}, tokenizer="simple")
    with pytest.raises(BenchError, match="non-empty list"):
        caption_metrics({"a": "x"}, {"a": []}, tokenizer="simple")


def test_captioning_metric_records() -> None:
    (metric,) = build_metrics([{"name": "captioning", "tokenizer": "simple"}, "bleu4", "cider"])
    assert isinstance(metric, CaptioningMetric)
    metric.process({"id": k, "prediction": v, "references": REFERENCES[k]} for k, v in PREDICTIONS.items())
    metric.process([{"id": "vid1", "prediction": PREDICTIONS["vid1"], "references": REFERENCES["vid1"]}])
    res = metric.compute()
    direct = caption_metrics(PREDICTIONS, REFERENCES, metrics=["bleu4", "cider"], tokenizer="simple")
    assert res == direct
    assert metric.describe()["standard"] is False
