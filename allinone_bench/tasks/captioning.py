"""Video captioning (YouCook2, TVC) with a light LM head on the shared All-in-One backbone.

The paper reports captioning (Table 7, "following SwinBERT, we add a light Language Modeling Head"), but the
official repository has no captioning head, decoder or metric code (its heads are VTM, MLM, QA and MC only), so this
protocol is ours and is recorded in ``results.json``:

* **Attention**: the joint pass with ``causal_text=True``: text token i attends to text tokens <= i and to
  every video token; video tokens never see text (so a prefix is scored the same whatever follows it).
* **LM head**: the pretrained MLM head (``mlm_score``: transform + decoder + bias) is reused as the LM head.
  It already maps the backbone's text features to the BERT vocabulary, so no new vocabulary-sized matrix is
  initialised from scratch (the "light" head of the paper).
* **Objective** (``options.objective``):
  ``next_token`` (default): teacher-forced cross-entropy, the feature at text position t predicts token t+1;
  decoding feeds ``[CLS] w_1 .. w_t`` and reads the last position.
  ``swinbert``: SwinBERT's recipe: ``mask_prob`` of the caption tokens (words and ``[SEP]``) are replaced by
  ``[MASK]`` and predicted under the causal mask; decoding feeds ``[CLS] w_1 .. w_t [MASK]`` and reads the
  ``[MASK]`` position (the MLM head predicts a masked token, exactly what it was pretrained for).
* **Decoding**: starts from ``[CLS]``, ends at ``[SEP]`` (or after ``max_gen_len`` tokens); special tokens other
  than ``[SEP]`` are never generated. ``beam_size`` 1 = greedy; beam search keeps ``beam_size`` hypotheses,
  stops an item once ``beam_size`` hypotheses have ended, and ranks them by ``sum log p / length **
  length_penalty`` (length = generated tokens including ``[SEP]``).
* **Metrics**: BLEU-4, METEOR, ROUGE-L, CIDEr through pycocoevalcap with the PTB tokenizer (Java).
  ``val_metrics`` limits what is computed on a selection split other than the test split (METEOR starts a
  JVM that loads its paraphrase tables, seconds per call, and selection only needs CIDEr). The caption
  tokenizer is the captioning metric's ``tokenizer`` option (``metrics: [{name: bleu4, tokenizer: ptb}, ...]``);
  ``auto`` (synthetic runs only) falls back to the non-standard ``simple`` tokenizer when Java is absent and
  then reports METEOR as not computed; both are recorded with the metric's settings.

There is no KV cache: each decoding step re-runs the joint pass on the prefix (``max_gen_len`` passes per
beam), which is what the model API offers; decoding cost is linear in ``max_gen_len x beam_size``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from allinone_bench.data.types import IGNORE_INDEX as IGNORE
from allinone_bench.data.types import CaptionSample, DatasetSplit
from allinone_bench.errors import ConfigError, DataError
from allinone_bench.tasks.base import (
    Batch,
    EvalContext,
    EvalResult,
    LossOutput,
    PerSampleKind,
    ProtocolSummary,
    Record,
    register_kind,
)

__all__ = ["CaptioningKind", "CaptioningOptions", "StepFn", "beam_search", "greedy_decode"]


# (rows, prefixes) -> (N, V) log-probabilities of the next token. ``rows`` (N,) says which batch item (video)
# each prefix belongs to; ``prefixes`` (N, t) are token ids starting with the start token.
StepFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class CaptioningOptions:
    """``options:`` of captioning tasks (see the module docstring)."""

    objective: Literal["next_token", "swinbert"] = "next_token"
    mask_prob: float = 0.15  # swinbert: fraction of caption tokens masked in training (at least one)
    label_smoothing: float = 0.0
    beam_size: int = 1
    length_penalty: float = 1.0
    max_gen_len: int | None = None  # generated tokens incl. [SEP]; None = protocol.text.max_len - 1
    min_gen_len: int = 1  # words before [SEP] may be generated
    val_metrics: list[str] | None = None  # computed on a selection split that is not the test split; None = all

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ConfigError(f"options.beam_size: must be >= 1, got {self.beam_size}")
        if self.max_gen_len is not None and self.max_gen_len < 1:
            raise ConfigError(f"options.max_gen_len: must be >= 1 or null, got {self.max_gen_len}")
        if self.min_gen_len < 0:
            raise ConfigError(f"options.min_gen_len: must be >= 0, got {self.min_gen_len}")
        if not 0.0 < self.mask_prob <= 1.0:
            raise ConfigError(f"options.mask_prob: must be in (0, 1], got {self.mask_prob}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"options.label_smoothing: must be in [0, 1), got {self.label_smoothing}")


# ------------------------------------------------------------------------------------------------ decoding
def _constrain(logp: torch.Tensor, step: int, eos: int, banned: torch.Tensor | None, min_len: int) -> torch.Tensor:
    logp = logp.float()
    if banned is not None:
        logp = logp.masked_fill(banned.to(logp.device), float("-inf"))
    if step < min_len:
        logp[:, eos] = float("-inf")
    return logp


def greedy_decode(step_fn: StepFn, n: int, *, bos: int, eos: int, max_len: int, min_len: int = 0,
                  banned: torch.Tensor | None = None, device: torch.device | str = "cpu") -> list[list[int]]:
    """Argmax decoding of ``n`` items; returns each item's generated ids without the start and end tokens.

    ``banned`` (V,) bool: tokens never generated; ``[SEP]`` (``eos``) is refused before ``min_len`` tokens.
    Items that ended are dropped from later steps.
    """
    out: list[list[int]] = [[] for _ in range(n)]
    alive = torch.arange(n, device=device)
    seqs = torch.full((n, 1), bos, dtype=torch.long, device=device)
    for t in range(max_len):
        logp = _constrain(step_fn(alive, seqs), t, eos, banned, min_len)
        nxt = logp.argmax(dim=-1)
        seqs = torch.cat([seqs, nxt[:, None]], dim=1)
        ended = nxt == eos
        for i in torch.nonzero(ended).flatten().tolist():
            out[int(alive[i])] = seqs[i, 1:-1].tolist()
        alive, seqs = alive[~ended], seqs[~ended]
        if alive.numel() == 0:
            break
    for i, item in enumerate(alive.tolist()):
        out[item] = seqs[i, 1:].tolist()
    return out


def beam_search(step_fn: StepFn, n: int, *, beam_size: int, bos: int, eos: int, max_len: int, min_len: int = 0,
                length_penalty: float = 1.0, banned: torch.Tensor | None = None,
                device: torch.device | str = "cpu") -> list[list[int]]:
    """Beam search over ``n`` items (ids without start/end tokens; see :class:`CaptioningOptions`).

    At each step the ``2 x beam_size`` best expansions of an item are scanned in order: an ``[SEP]`` among the
    first ``beam_size`` of them ends a hypothesis, the others refill the beam. An item stops once it has
    ``beam_size`` ended hypotheses; at ``max_len`` its open beams compete with the ended ones. With
    ``beam_size`` 1 this is exactly :func:`greedy_decode`.
    """
    k = beam_size
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(n)]
    items = torch.arange(n, device=device)
    seqs = torch.full((n * k, 1), bos, dtype=torch.long, device=device)
    scores = torch.full((n, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    steps = 0
    for t in range(max_len):
        steps = t + 1
        logp = _constrain(step_fn(items.repeat_interleave(k), seqs), t, eos, banned, min_len)
        vocab = logp.shape[-1]
        cand = (scores.reshape(-1, 1) + logp).reshape(items.numel(), k * vocab)
        top_s, top_i = cand.topk(min(2 * k, cand.shape[1]), dim=1)
        next_rows: list[int] = []
        next_tok: list[int] = []
        next_scores: list[float] = []
        keep_items: list[int] = []
        for a, item in enumerate(items.tolist()):
            chosen: list[tuple[int, int, float]] = []
            for j in range(top_s.shape[1]):
                s = float(top_s[a, j])
                if s == float("-inf"):
                    break
                beam, tok = divmod(int(top_i[a, j]), vocab)
                if tok == eos:
                    if j < k:
                        finished[item].append((s / steps**length_penalty, seqs[a * k + beam, 1:].tolist()))
                else:
                    chosen.append((beam, tok, s))
                if len(chosen) == k:
                    break
            if len(finished[item]) >= k or not chosen:
                continue
            while len(chosen) < k:  # pad with dead beams (never expanded: score -inf)
                chosen.append((chosen[0][0], chosen[0][1], float("-inf")))
            keep_items.append(a)
            for beam, tok, s in chosen:
                next_rows.append(a * k + beam)
                next_tok.append(tok)
                next_scores.append(s)
        if not keep_items:
            items = items[:0]
            break
        rows = torch.tensor(next_rows, device=device)
        seqs = torch.cat([seqs[rows], torch.tensor(next_tok, device=device)[:, None]], dim=1)
        scores = torch.tensor(next_scores, device=device).view(len(keep_items), k)
        items = items[torch.tensor(keep_items, device=device)]
    for a, item in enumerate(items.tolist()):  # max_len reached: open beams compete with ended hypotheses
        for beam in range(k):
            s = float(scores[a, beam])
            if s != float("-inf"):
                finished[item].append((s / steps**length_penalty, seqs[a * k + beam, 1:].tolist()))
    return [max(hyps, key=lambda h: h[0])[1] if hyps else [] for hyps in finished]


# ------------------------------------------------------------------------------------------------ the kind
@register_kind
class CaptioningKind(PerSampleKind):
    """Records: ``id``, ``prediction`` (decoded string), ``references`` (list of strings)."""

    name = "captioning"
    sample_type = CaptionSample
    options_type = CaptioningOptions
    supports_zero_shot = False

    def __init__(self, config: Any, tokenizer: Any) -> None:
        super().__init__(config, tokenizer)
        text_len = config.protocol.text.max_len
        if text_len < 3:
            raise ConfigError(f"task {config.name}: protocol.text.max_len {text_len} leaves no room for a caption")
        self.max_gen_len = min(self.options.max_gen_len or text_len - 1, text_len - 1)
        banned = tokenizer.special_mask.clone()
        banned[tokenizer.sep_id] = False
        self.banned = banned
        val = self.options.val_metrics
        if val is not None:
            needed = [m.strip() for m in config.selection.metric.split("+")]
            absent = [m for m in needed if m not in val]
            if absent or not set(val) <= set(config.metric_names):
                raise ConfigError(f"task {config.name}: options.val_metrics {val} must be a subset of metrics "
                                  f"{config.metric_names} holding the selection metric "
                                  f"{config.selection.metric!r}")

    # ------------------------------------------------------------------ data
    def check_split(self, split: DatasetSplit) -> None:
        super().check_split(split)
        empty = next((s for s in split.samples if not any(c.strip() for c in s.captions)), None)
        if empty is not None:
            raise DataError(f"task {self.config.name}: sample {empty.id!r} has no reference caption")

    def train_item(self, sample: CaptionSample, rng: np.random.Generator) -> Batch:
        refs = [c for c in sample.captions if c.strip()]
        ids, mask = self.encode_text([refs[int(rng.integers(len(refs)))]])
        item: Batch = {"video": self.load_clip(sample.video, train=True, rng=rng), "text_ids": ids[0],
                       "text_mask": mask[0]}
        if self.options.objective == "swinbert":
            item["text_ids"], item["labels"] = self.mask_caption(ids[0], mask[0], rng)
        return item

    def mask_caption(self, ids: torch.Tensor, mask: torch.Tensor, rng: np.random.Generator
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """SwinBERT masking: caption positions 1..n (words and ``[SEP]``) are replaced by ``[MASK]`` with
        probability ``mask_prob`` (at least one); ``labels`` holds the original ids there, -100 elsewhere."""
        positions = np.flatnonzero(mask.numpy())[1:]  # skip [CLS]
        chosen = positions[rng.random(positions.size) < self.options.mask_prob]
        if chosen.size == 0:
            chosen = positions[[int(rng.integers(positions.size))]]
        index = torch.as_tensor(chosen, dtype=torch.long)
        labels = torch.full_like(ids, IGNORE)
        labels[index] = ids[index]
        masked = ids.clone()
        masked[index] = self.tokenizer.mask_id
        return masked, labels

    def eval_item(self, sample: CaptionSample) -> Batch:
        return {"video": self.eval_clip(sample)}

    # ------------------------------------------------------------------ finetuning
    def loss(self, model: torch.nn.Module, batch: Batch) -> LossOutput:
        ids, mask = batch["text_ids"], batch["text_mask"]
        out = model(batch["video"], ids, mask, causal_text=True)
        if self.options.objective == "swinbert":
            labels = batch["labels"]
            valid = labels != IGNORE
            feats, targets = out.text_feats[valid], labels[valid]
        else:  # position t predicts token t+1 (the [SEP] after the last word included)
            valid = mask[:, 1:].bool()
            feats, targets = out.text_feats[:, :-1][valid], ids[:, 1:][valid]
        logits = model.mlm_logits(feats).float()
        loss = F.cross_entropy(logits, targets, label_smoothing=self.options.label_smoothing)
        acc = float((logits.argmax(dim=-1) == targets).float().mean())
        return LossOutput(loss, {"ce": float(loss.detach()), "token_acc": acc})

    # ------------------------------------------------------------------ decoding
    def step_fn(self, model: torch.nn.Module, video: torch.Tensor) -> StepFn:
        """Next-token log-probabilities for prefixes of the clips in ``video`` (B, T, 3, H, W)."""
        mask_id = self.tokenizer.mask_id
        append_mask = self.options.objective == "swinbert"

        def step(rows: torch.Tensor, prefixes: torch.Tensor) -> torch.Tensor:
            if append_mask:
                prefixes = torch.cat([prefixes, prefixes.new_full((prefixes.shape[0], 1), mask_id)], dim=1)
            out = model(video[rows], prefixes, torch.ones_like(prefixes), causal_text=True)
            return model.mlm_logits(out.text_feats[:, -1]).float().log_softmax(dim=-1)

        return step

    def generate(self, model: torch.nn.Module, video: torch.Tensor, *, beam_size: int | None = None) -> list[str]:
        """Decoded captions of the clips in ``video`` (greedy when the beam size is 1)."""
        k = self.options.beam_size if beam_size is None else beam_size
        tok = self.tokenizer
        common: dict[str, Any] = {"bos": tok.cls_id, "eos": tok.sep_id, "max_len": self.max_gen_len,
                                  "min_len": self.options.min_gen_len, "banned": self.banned.to(video.device),
                                  "device": video.device}
        step = self.step_fn(model, video)
        if k == 1:
            ids = greedy_decode(step, video.shape[0], **common)
        else:
            ids = beam_search(step, video.shape[0], beam_size=k, length_penalty=self.options.length_penalty, **common)
        return [tok.decode(row) for row in ids]

    def predict(self, model: torch.nn.Module, batch: Batch) -> list[Record]:
        return [{"prediction": text} for text in self.generate(model, batch["video"])]

    def evaluate(self, model: torch.nn.Module, split: DatasetSplit, ctx: EvalContext) -> EvalResult:
        records = [{"id": s.id, "prediction": r["prediction"], "references": [c for c in s.captions if c.strip()]}
                   for s, r in zip(split.samples, self.predict_split(model, split, ctx), strict=True)]
        return EvalResult(records=records, predictions=records, protocol=self.protocol_summary())

    def metric_keys(self, split: DatasetSplit) -> list[str] | None:
        """All of the task's metrics on the test split; ``val_metrics`` on another (selection) split."""
        if split.split == self.config.dataset.splits.test:
            return None
        return self.options.val_metrics

    # ------------------------------------------------------------------ protocol
    def protocol_summary(self) -> ProtocolSummary:
        o = self.options
        out: dict[str, Any] = {
            "protocol_source": "ours: the official code has no captioning (paper Table 7 follows SwinBERT)",
            "attention": "causal text, full video (model causal_text=True)",
            "lm_head": "pretrained MLM head (mlm_score) reused",
            "objective": o.objective,
            "beam_size": o.beam_size,
            "length_penalty": o.length_penalty,
            "max_gen_len": self.max_gen_len,
            "min_gen_len": o.min_gen_len,
            "val_metrics": list(o.val_metrics) if o.val_metrics is not None else list(self.config.metric_names),
        }
        if o.objective == "swinbert":
            out["mask_prob"] = o.mask_prob
        scoring = f"{'greedy' if o.beam_size == 1 else f'beam search (size {o.beam_size})'} decoding"
        return ProtocolSummary(scoring=scoring, details=out)
