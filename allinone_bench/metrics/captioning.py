"""Captioning metrics (BLEU-1..4, METEOR, ROUGE-L, CIDEr) through pycocoevalcap, the scorers papers use.

Inputs are ``predictions {id: caption}`` and ``references {id: [caption, ...]}``. Scores are reported
x100, as the captioning tables print them (CIDEr 0.5 -> 50.0).

Tokenisation decides the numbers as much as the scorers do. ``tokenizer="ptb"`` (default) is the
standard: Stanford PTBTokenizer (Java), lower-cased, punctuation tokens removed exactly as
pycocoevalcap's ``PTBTokenizer`` does. We run the same jar through stdin, so nothing is written into
site-packages. ``tokenizer="simple"`` is a pure-Python approximation for machines without Java; its
results carry ``nonstandard_tokenizer = 1.0`` and must not be compared with published numbers.

Java is also needed by METEOR. Each Java process lives for one call (tokenise once, score once) and is
stopped before returning, so no JVM outlives an evaluation. A missing ``java`` raises a
:class:`BenchError` that says what to install or which metric to drop.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from allinone_bench.errors import BenchError, ConfigError, RunError
from allinone_bench.metrics.base import Metric, MetricOptions, Record, register_metric

__all__ = [
    "CAPTION_METRICS",
    "DEFAULT_CAPTION_METRICS",
    "CaptionScores",
    "CaptioningMetric",
    "CaptioningMetricOptions",
    "caption_metrics",
    "ptb_tokenize",
    "require_java",
    "score_captions",
    "simple_tokenize",
    "tokenize_captions",
]

CaptionTokenizer = Literal["ptb", "simple"]
CAPTION_METRICS: tuple[str, ...] = ("bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l", "cider")
DEFAULT_CAPTION_METRICS: tuple[str, ...] = ("bleu4", "meteor", "rouge_l", "cider")

_PTB_CLASS = "edu.stanford.nlp.process.PTBTokenizer"
_JAVA_TIMEOUT_S = 600.0

Captions = dict[str, list[str]]


@dataclass(frozen=True)
class CaptionScores:
    """Corpus scores (x100), per-sample scores (x100) and how the text was tokenised."""

    metrics: dict[str, float]
    per_sample: dict[str, dict[str, float]]
    tokenizer: str

    @property
    def standard(self) -> bool:
        return self.tokenizer == "ptb"


# ------------------------------------------------------------------------------------------ tokenisers
def require_java(purpose: str, remedy: str) -> str:
    """Path of ``java`` or a :class:`BenchError` naming what needs it and how to avoid it."""
    java = shutil.which("java")
    if java is None:
        raise BenchError(f"{purpose} needs Java, but no 'java' is on PATH: install a JRE (e.g. "
                         f"'apt-get install default-jre-headless' or 'conda install openjdk'), or {remedy}")
    return java


def _ptb_punctuation() -> frozenset[str]:
    from pycocoevalcap.tokenizer.ptbtokenizer import PUNCTUATIONS

    return frozenset(PUNCTUATIONS)


def _ptb_jar() -> Path:
    import pycocoevalcap.tokenizer.ptbtokenizer as ptb

    return Path(ptb.__file__).with_name(ptb.STANFORD_CORENLP_3_4_1_JAR)


def ptb_tokenize(sentences: Sequence[str]) -> list[str]:
    """PTB-tokenise, lower-case and drop punctuation tokens, one Java process for all ``sentences``.

    Equivalent to pycocoevalcap's ``PTBTokenizer`` (same jar, flags and punctuation list), reading stdin
    instead of a temporary file next to the jar.
    """
    java = require_java("the PTB caption tokenizer", "use tokenizer='simple' (flagged as non-standard)")
    if not sentences:
        return []
    text = "\n".join(" ".join(s.split()) for s in sentences)  # one line per sentence, no inner newlines
    cmd = [java, "-cp", str(_ptb_jar()), _PTB_CLASS, "-preserveLines", "-lowerCase", "-encoding", "UTF-8"]
    try:
        proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=_JAVA_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RunError(f"PTB tokenizer ({_ptb_jar().name}) could not run: {err}") from err
    lines = proc.stdout.decode("utf-8").split("\n")
    if proc.returncode != 0 or len(lines) < len(sentences):
        raise RunError(
            f"PTB tokenizer failed (exit {proc.returncode}, {len(lines)} lines for {len(sentences)} sentences): "
            f"{proc.stderr.decode('utf-8', 'replace').strip()[-500:]}"
        )
    punct = _ptb_punctuation()
    return [" ".join(w for w in line.split() if w not in punct) for line in lines[: len(sentences)]]


# Words with inner hyphens/periods stay whole ("t-shirt", "3.5"); clitics split like PTB ("do n't", "man 's").
_SIMPLE_TOKEN = re.compile(r"[a-z0-9]+(?=n't\b)|n't\b|'[a-z]+|[a-z0-9]+(?:[-.][a-z0-9]+)*")


def simple_tokenize(sentence: str) -> str:
    """Pure-Python approximation of PTB tokenisation + punctuation removal (non-standard)."""
    return " ".join(_SIMPLE_TOKEN.findall(sentence.lower()))


def tokenize_captions(captions: Mapping[str, Sequence[str]], tokenizer: CaptionTokenizer = "ptb") -> Captions:
    """Tokenise every caption of every id in one pass (one Java process for ``"ptb"``)."""
    flat = [(key, c) for key, caps in captions.items() for c in caps]
    if tokenizer == "ptb":
        tokens = ptb_tokenize([c for _, c in flat])
    elif tokenizer == "simple":
        tokens = [simple_tokenize(c) for _, c in flat]
    else:
        raise ConfigError(f"caption tokenizer {tokenizer!r}: expected 'ptb' or 'simple'")
    out: Captions = {key: [] for key in captions}
    for (key, _), tok in zip(flat, tokens):
        out[key].append(tok)
    return out


# -------------------------------------------------------------------------------------------- scorers
ScorerResult = dict[str, tuple[float, list[float]]]


def _bleu(gts: Captions, res: Captions) -> ScorerResult:
    from pycocoevalcap.bleu.bleu import Bleu

    corpus, per = Bleu(4).compute_score(gts, res, verbose=0)
    return {f"bleu{n + 1}": (float(corpus[n]), [float(x) for x in per[n]]) for n in range(4)}


def _meteor(gts: Captions, res: Captions) -> ScorerResult:
    require_java("METEOR", "drop METEOR from the task's metrics (e.g. `metrics: [bleu4, rouge_l, cider]`)")
    from pycocoevalcap.meteor.meteor import Meteor

    try:
        scorer = Meteor()  # starts the JVM
    except OSError as err:
        raise RunError(f"METEOR could not start Java: {err}") from err
    proc = scorer.meteor_p
    try:
        corpus, per = scorer.compute_score(gts, res)
    except (ValueError, OSError) as err:  # JVM died: empty reply lines / broken pipe
        proc.kill()
        detail = proc.stderr.read().decode("utf-8", "replace").strip()[-500:] if proc.stderr else ""
        raise RunError(f"METEOR (java) failed: {err}; {detail}") from err
    finally:
        if proc.stdin and not proc.stdin.closed:
            proc.stdin.close()
        proc.kill()
        proc.wait(timeout=30)
    return {"meteor": (float(corpus), [float(x) for x in per])}


def _rouge(gts: Captions, res: Captions) -> ScorerResult:
    from pycocoevalcap.rouge.rouge import Rouge

    corpus, per = Rouge().compute_score(gts, res)
    return {"rouge_l": (float(corpus), [float(x) for x in per])}


def _cider(gts: Captions, res: Captions) -> ScorerResult:
    from pycocoevalcap.cider.cider import Cider

    corpus, per = Cider().compute_score(gts, res)
    return {"cider": (float(corpus), [float(x) for x in per])}


# family -> (metric keys it produces, runner); one run of a family yields all of its keys
_SCORERS: dict[str, tuple[tuple[str, ...], Callable[[Captions, Captions], ScorerResult]]] = {
    "bleu": (("bleu1", "bleu2", "bleu3", "bleu4"), _bleu),
    "meteor": (("meteor",), _meteor),
    "rouge_l": (("rouge_l",), _rouge),
    "cider": (("cider",), _cider),
}


def score_captions(
    predictions: Mapping[Any, str],
    references: Mapping[Any, Sequence[str]],
    *,
    metrics: Sequence[str] = DEFAULT_CAPTION_METRICS,
    tokenizer: CaptionTokenizer = "ptb",
) -> CaptionScores:
    """Corpus and per-sample captioning scores (x100) for the ids of ``predictions``.

    Every prediction needs at least one reference and vice versa. CIDEr's document frequencies come from
    the references of exactly these ids, as in the COCO evaluation code.
    """
    unknown = [m for m in metrics if m not in CAPTION_METRICS]
    if unknown or not metrics:
        raise ConfigError(f"captioning metrics {list(metrics)}: expected some of {list(CAPTION_METRICS)}")
    preds = {str(k): v for k, v in predictions.items()}
    refs = {str(k): list(v) for k, v in references.items()}
    if preds.keys() != refs.keys():
        only_p = sorted(preds.keys() - refs.keys())[:5]
        only_r = sorted(refs.keys() - preds.keys())[:5]
        raise BenchError(f"captioning: ids differ: without references {only_p}, without prediction {only_r}")
    if not preds:
        raise BenchError("captioning: no predictions to score")
    for key in preds:
        if not isinstance(preds[key], str):
            raise BenchError(f"captioning: prediction for id {key!r} is {type(preds[key]).__name__}, expected str")
        if not refs[key] or not all(isinstance(r, str) for r in refs[key]):
            raise BenchError(f"captioning: id {key!r} needs a non-empty list of reference strings")
    if "meteor" in metrics:  # fail before spending time on the other scorers
        require_java("METEOR", "drop METEOR from the task's metrics (e.g. `metrics: [bleu4, rouge_l, cider]`)")

    ids = sorted(preds)
    tokens = tokenize_captions({**{f"r{k}": refs[k] for k in ids}, **{f"p{k}": [preds[k]] for k in ids}}, tokenizer)
    gts = {k: tokens[f"r{k}"] for k in ids}
    res = {k: tokens[f"p{k}"] for k in ids}

    corpus: dict[str, float] = {}
    per_sample: dict[str, dict[str, float]] = {k: {} for k in ids}
    for keys, runner in _SCORERS.values():
        wanted = [m for m in keys if m in metrics]
        if not wanted:
            continue
        result = runner(gts, res)
        for m in wanted:
            value, per = result[m]
            corpus[m] = 100.0 * value
            for k, v in zip(ids, per):  # the scorers iterate gts.keys(), i.e. ``ids`` order
                per_sample[k][m] = 100.0 * v
    ordered = {m: corpus[m] for m in metrics}
    return CaptionScores(metrics=ordered, per_sample=per_sample, tokenizer=tokenizer)


def caption_metrics(
    predictions: Mapping[Any, str],
    references: Mapping[Any, Sequence[str]],
    *,
    metrics: Sequence[str] = DEFAULT_CAPTION_METRICS,
    tokenizer: CaptionTokenizer = "ptb",
) -> dict[str, float]:
    """Corpus scores (x100) plus ``n``; adds ``nonstandard_tokenizer = 1.0`` unless PTB was used."""
    scores = score_captions(predictions, references, metrics=metrics, tokenizer=tokenizer)
    out: dict[str, float] = {**scores.metrics, "n": len(scores.per_sample)}
    if not scores.standard:
        out["nonstandard_tokenizer"] = 1.0
    return out


class CaptioningMetricOptions(MetricOptions):
    """``tokenizer``: ``ptb`` (standard, Java), ``simple`` (pure Python, flagged non-standard) or ``auto``
    (PTB when Java is on PATH, else ``simple`` with METEOR reported as NaN: meant for synthetic smoke runs)."""

    tokenizer: Literal["ptb", "simple", "auto"] = "ptb"


@register_metric
class CaptioningMetric(Metric):
    """Captioning. Record: ``id``, ``prediction`` (str), ``references`` (list of str). Runs on rank 0 only
    (Java). :meth:`describe` reports the tokenizer that really ran and any metric left out."""

    name = "captioning"
    outputs = CAPTION_METRICS
    default_outputs = DEFAULT_CAPTION_METRICS
    fields = ("prediction", "references")
    options_type = CaptioningMetricOptions
    compute_on_all_ranks = False

    def __init__(self, keys: Sequence[str] | None = None, **options: Any) -> None:
        super().__init__(keys, **options)
        self.tokenizer_used: CaptionTokenizer | None = None
        self.notes: list[str] = []

    def validate_record(self, record: Record) -> None:
        refs = record["references"]
        if isinstance(refs, str):
            record["references"] = [refs]

    def compute_metrics(self, records: list[Record]) -> dict[str, float]:
        keys = list(self.keys)
        out: dict[str, float] = {}
        tokenizer: CaptionTokenizer = self.options.tokenizer if self.options.tokenizer != "auto" else "ptb"
        self.notes = []
        if self.options.tokenizer == "auto" and shutil.which("java") is None:
            tokenizer = "simple"
            if "meteor" in keys:
                keys.remove("meteor")
                out["meteor"] = float("nan")
                self.notes.append("METEOR not computed: no Java on PATH (tokenizer: auto)")
        self.tokenizer_used = tokenizer
        if keys:
            out.update(caption_metrics(
                {r["id"]: r["prediction"] for r in records},
                {r["id"]: list(r["references"]) for r in records},
                metrics=keys,
                tokenizer=tokenizer,
            ))
        return out

    def describe(self) -> dict[str, Any]:
        used = self.tokenizer_used
        out = {**super().describe(), "tokenizer_used": used, "standard": None if used is None else used == "ptb"}
        if self.notes:
            out["notes"] = list(self.notes)
        return out
