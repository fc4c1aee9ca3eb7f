"""Text-video retrieval (MSRVTT, DiDeMo, ActivityNet): finetune with the symmetric contrastive (VTC) loss,
optionally plus a VTM loss (hard negatives with ``itm_score``, or the official random false texts ranked by
``rank_output``; see :class:`RetrievalOptions`), and evaluate with one of three scorers:

* ``dual``: cosine similarity of ``txt_proj`` (text-only [CLS]) and ``vid_proj`` (video-only cls): one
  unimodal pass per text and per video, the official "fast retrieval" numbers;
* ``cross``: the VTM match logit of the joint pass for every (text, video) pair (N_text x N_video joint
  forwards; the official ``get_recall_metric`` that takes ~26 h on MSRVTT);
* ``dual+rerank``: dual scores, then the cross-encoder re-scores each text's top-``k`` videos (t2v) and, with
  ``rerank_directions: both``, each video's top-``k`` texts (v2t); the union of pairs is scored once. The
  default ``t2v`` reranks only the direction the paper reports (k N joint forwards: 1.6% of all pairs at
  k = 16, N = 1000) and scores v2t with the dual similarities; ``both`` costs up to 2 k N. With ``k`` = all
  candidates the reranked directions *are* ``cross``.

``views > 1`` averages the dual similarity over clips sampled with different seeds (official: 3 views with
random frames; set ``protocol.video.sampling: rand`` for that; view ``v`` of a video draws its frames from an
rng seeded by (task seed, ``v``, video id), see ``TaskKind.eval_clip``). Text modes: ``single`` (each caption is a
query; training draws one caption per video per epoch) and ``paragraph`` (a video's sentences joined).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from allinone_bench.data.types import DatasetSplit, RetrievalSample
from allinone_bench.errors import ConfigError
from allinone_bench.tasks.base import (
    Batch,
    EvalContext,
    EvalResult,
    LossOutput,
    ProtocolSummary,
    Record,
    TaskKind,
    register_kind,
)

Scoring = Literal["dual", "cross", "dual+rerank"]
RerankDirections = Literal["t2v", "both"]
# hard_negative_itm: 2-way itm_score CE on the positives and hard negatives mined from the VTC similarities;
# false_text_rank: the official irtr loss, the true text and vtm_false_texts random false texts of the
# training set scored by rank_output (ITM "match" row), softmax CE over the 1 + K scores, the true text first.
VtmLoss = Literal["hard_negative_itm", "false_text_rank"]


@dataclass
class RetrievalOptions:
    """``options:`` of retrieval tasks (see the module docstring)."""

    scoring: Scoring = "dual"
    rerank_k: int = 16
    rerank_directions: RerankDirections = "t2v"
    views: int = 1
    temperature: float = 0.05
    contrastive_weight: float = 1.0
    vtm_weight: float = 0.0
    vtm_loss: VtmLoss = "hard_negative_itm"
    vtm_negatives: int = 1  # hard_negative_itm: mined negatives per text and per video
    vtm_false_texts: int = 15  # false_text_rank: random false texts per video (official draw_false_text 15)
    vtc_reduction: Literal["mean", "sum"] = "mean"
    text_pass: Literal["once", "per_frame"] = "once"
    cross_batch_size: int | None = None  # (text, video) pairs per joint forward; default eval.batch_size

    def __post_init__(self) -> None:
        if self.rerank_k < 1:
            raise ConfigError(f"options.rerank_k: must be >= 1, got {self.rerank_k}")
        if self.views < 1:
            raise ConfigError(f"options.views: must be >= 1, got {self.views}")
        if not self.temperature > 0:
            raise ConfigError(f"options.temperature: must be > 0, got {self.temperature}")
        if self.contrastive_weight <= 0 and self.vtm_weight <= 0:
            raise ConfigError("options: contrastive_weight and vtm_weight cannot both be 0 (nothing to train)")
        if self.vtm_negatives < 1:
            raise ConfigError(f"options.vtm_negatives: must be >= 1, got {self.vtm_negatives}")
        if self.vtm_false_texts < 1:
            raise ConfigError(f"options.vtm_false_texts: must be >= 1, got {self.vtm_false_texts}")


@dataclass(frozen=True)
class _Text:
    """One query text: its id, string, and the column (video index) it belongs to."""

    id: str
    text: str
    video: int


def symmetric_contrastive_loss(text: torch.Tensor, video: torch.Tensor, temperature: float,
                               reduction: str = "mean") -> torch.Tensor:
    """Text->video plus video->text cross-entropy over the cosine matrix / temperature (fixed temperature 0.05,
    pair i <-> i is the positive). ``reduction``: ``mean`` of the two directions, or their ``sum`` (the
    official ``ind_itc`` loss, twice the mean: with AdamW only the balance against the VTM loss changes)."""
    logits = text @ video.t() / temperature
    target = torch.arange(logits.shape[0], device=logits.device)
    total = F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)
    return total if reduction == "sum" else 0.5 * total


def hard_negative_pairs(sims: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(text_idx, video_idx)`` of each text's ``n`` most similar wrong videos and each video's ``n``
    most similar wrong texts (the positive i <-> i is excluded)."""
    b = sims.shape[0]
    n = min(n, b - 1)
    masked = sims.masked_fill(torch.eye(b, dtype=torch.bool, device=sims.device), float("-inf"))
    rows = torch.arange(b, device=sims.device)
    neg_v = masked.topk(n, dim=1).indices  # (B, n): videos for each text
    neg_t = masked.t().topk(n, dim=1).indices  # (B, n): texts for each video
    text_idx = torch.cat([rows.repeat_interleave(n), neg_t.reshape(-1)])
    video_idx = torch.cat([neg_v.reshape(-1), rows.repeat_interleave(n)])
    return text_idx, video_idx


def false_text_rank_loss(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """The official VTM retrieval loss (``irtr``): each video with its true text and K false texts, one joint
    pass per pair, scored by ``rank_output`` (the ITM "match" row); cross-entropy over the 1 + K scores with the
    true text (index 0) as the target."""
    b, k, length = batch["false_ids"].shape
    ids = torch.cat([batch["text_ids"][:, None], batch["false_ids"]], dim=1).view(b * (k + 1), length)
    mask = torch.cat([batch["text_mask"][:, None], batch["false_mask"]], dim=1).view(b * (k + 1), length)
    out = model(batch["video"].repeat_interleave(k + 1, dim=0), ids, mask)
    scores = model.rank_score(out.cls_feats).float().view(b, k + 1)
    return F.cross_entropy(scores, torch.zeros(b, dtype=torch.long, device=scores.device))


@register_kind
class RetrievalKind(TaskKind):
    """Text-to-video and video-to-text retrieval (records: one per query text, with its score row)."""

    name = "retrieval"
    sample_type = RetrievalSample
    options_type = RetrievalOptions
    supports_zero_shot = True

    # ------------------------------------------------------------------ texts
    def texts_of(self, sample: RetrievalSample) -> list[str]:
        """The query texts of one video under the task's text mode."""
        if not sample.captions:
            raise ConfigError(f"retrieval sample {sample.id!r} has no caption")
        if self.config.protocol.text.mode == "paragraph":
            return [" ".join(c.strip() for c in sample.captions)]
        return list(sample.captions)

    def query_texts(self, split: DatasetSplit) -> list[_Text]:
        """Every query text of an evaluation split (ids ``<video id>#<k>`` when a video has several)."""
        out: list[_Text] = []
        for vi, sample in enumerate(split.samples):
            texts = self.texts_of(sample)
            for k, text in enumerate(texts):
                out.append(_Text(sample.id if len(texts) == 1 else f"{sample.id}#{k}", text, vi))
        return out

    # ------------------------------------------------------------------ model
    def model_overrides(self, train_split: DatasetSplit | None) -> dict[str, Any]:
        return {"contrastive": True}

    def prepare_model(self, model: torch.nn.Module, *, zero_shot: bool, load_report: Any | None = None) -> None:
        fresh = set(getattr(load_report, "initialised", []) or [])
        if zero_shot and self.options.scoring != "cross" and any(k.startswith(("txt_proj", "vid_proj")) for k in fresh):
            raise ConfigError(
                f"task {self.config.name}: zero-shot '{self.options.scoring}' scoring needs txt_proj/vid_proj, which "
                "this checkpoint lacks (released pretrained checkpoints have none); use --set options.scoring=cross "
                "(VTM match logit) for zero-shot retrieval, or finetune"
            )

    # ------------------------------------------------------------------ finetuning
    @property
    def _draws_false_texts(self) -> bool:
        return self.options.vtm_weight > 0 and self.options.vtm_loss == "false_text_rank"

    def train_dataset(self, split: DatasetSplit, *, seed: int) -> Any:
        self._train_pool: list[RetrievalSample] = list(split.samples)  # where false texts are drawn from
        return super().train_dataset(split, seed=seed)

    def _random_text(self, sample: RetrievalSample, rng: np.random.Generator) -> str:
        texts = self.texts_of(sample)
        return texts[int(rng.integers(len(texts)))]

    def train_item(self, sample: RetrievalSample, rng: np.random.Generator) -> Batch:
        ids, mask = self.encode_text([self._random_text(sample, rng)])
        item = {"video": self.load_clip(sample.video, train=True, rng=rng), "text_ids": ids[0], "text_mask": mask[0]}
        if self._draws_false_texts:
            # official get_false_text: a random caption of a random training sample (here never the video's own)
            others = [s for s in self._train_pool if s.id != sample.id] or self._train_pool
            picks = rng.integers(len(others), size=self.options.vtm_false_texts)
            item["false_ids"], item["false_mask"] = self.encode_text(
                [self._random_text(others[int(j)], rng) for j in picks])
        return item

    def _train_text_embeddings(self, model: torch.nn.Module, batch: Batch) -> torch.Tensor:
        """``text_pass: per_frame`` runs the text-only pass on T copies of each text and averages them (the
        official code; the copies differ only through dropout, so in evaluation this equals one pass)."""
        ids, mask = batch["text_ids"], batch["text_mask"]
        if self.options.text_pass == "once" or not model.training:
            return model.contrastive_text(ids, mask)
        t = self.config.protocol.video.num_frames
        cls = model.encode_text(ids.repeat_interleave(t, dim=0), mask.repeat_interleave(t, dim=0)).cls
        return F.normalize(model.txt_proj(cls.view(ids.shape[0], t, -1).mean(dim=1)), dim=-1)

    def loss(self, model: torch.nn.Module, batch: Batch) -> LossOutput:
        opts = self.options
        text = self._train_text_embeddings(model, batch)
        video = model.contrastive_video(batch["video"])
        logs: dict[str, float] = {}
        total = text.new_zeros(())
        if opts.contrastive_weight > 0:
            vtc = symmetric_contrastive_loss(text, video, opts.temperature, opts.vtc_reduction)
            total = total + opts.contrastive_weight * vtc
            logs["vtc"] = float(vtc.detach())
        if opts.vtm_weight > 0 and self._draws_false_texts:
            vtm = false_text_rank_loss(model, batch)
        elif opts.vtm_weight > 0 and text.shape[0] > 1:
            vtm = self._vtm_loss(model, batch, (text @ video.t()).detach())
        else:
            return LossOutput(total, logs)
        total = total + opts.vtm_weight * vtm
        logs["vtm"] = float(vtm.detach())
        return LossOutput(total, logs)

    def _vtm_loss(self, model: torch.nn.Module, batch: Batch, sims: torch.Tensor) -> torch.Tensor:
        """VTM cross-entropy on the B positives plus hard negatives mined from the contrastive similarities."""
        b = sims.shape[0]
        neg_t, neg_v = hard_negative_pairs(sims, self.options.vtm_negatives)
        pos = torch.arange(b, device=sims.device)
        t_idx, v_idx = torch.cat([pos, neg_t]), torch.cat([pos, neg_v])
        labels = torch.cat([torch.ones(b, dtype=torch.long, device=sims.device),
                            torch.zeros(neg_t.shape[0], dtype=torch.long, device=sims.device)])
        out = model(batch["video"][v_idx], batch["text_ids"][t_idx], batch["text_mask"][t_idx])
        return F.cross_entropy(model.vtm_logits(out.cls_feats), labels)

    # ------------------------------------------------------------------ evaluation
    def _text_item(self, text: _Text) -> Batch:
        ids, mask = self.encode_text([text.text])
        return {"text_ids": ids[0], "text_mask": mask[0]}

    def _video_item(self, view: int, sample: RetrievalSample) -> Batch:
        return {"video": self.eval_clip(sample, view)}

    def evaluate(self, model: torch.nn.Module, split: DatasetSplit, ctx: EvalContext) -> EvalResult:
        opts = self.options
        videos: list[RetrievalSample] = list(split.samples)
        texts = self.query_texts(split)
        n_t, n_v = len(texts), len(videos)
        dual: np.ndarray | None = None
        if opts.scoring in ("dual", "dual+rerank"):
            dual = self._dual_scores(model, texts, videos, ctx)
        t2v: np.ndarray
        v2t: np.ndarray
        if opts.scoring == "dual":
            assert dual is not None
            t2v = v2t = dual
        else:
            if opts.scoring == "cross":
                pairs = [(t, v) for t in range(n_t) for v in range(n_v)]
            else:
                assert dual is not None
                pairs = sorted(rerank_pairs(dual, opts.rerank_k, directions=opts.rerank_directions))
            scores = self._cross_scores(model, texts, videos, pairs, ctx)
            if opts.scoring == "cross":
                t2v = v2t = cross_matrix(scores, n_t, n_v)
            else:
                from allinone_bench.metrics import rerank

                assert dual is not None

                def t2v_scorer(q: int, cands: np.ndarray) -> np.ndarray:
                    return np.array([scores[(q, int(c))] for c in cands])

                def v2t_scorer(q: int, cands: np.ndarray) -> np.ndarray:
                    return np.array([scores[(int(c), q)] for c in cands])

                t2v = rerank(dual, t2v_scorer, opts.rerank_k, direction="t2v")
                v2t = dual if opts.rerank_directions == "t2v" else rerank(dual, v2t_scorer, opts.rerank_k,
                                                                          direction="v2t")
        records: list[Record] = []
        for i, text in enumerate(texts):
            rec: Record = {"id": text.id, "scores": t2v[i].astype(np.float64), "target": text.video,
                           "video_id": videos[text.video].id, "text": text.text}
            if v2t is not t2v:
                rec["v2t_scores"] = v2t[i].astype(np.float64)
            records.append(rec)
        video_ids = [v.id for v in videos]
        return EvalResult(records=records, predictions=[export_record(r, video_ids) for r in records],
                          protocol=self.protocol_summary())

    def _dual_scores(self, model: torch.nn.Module, texts: list[_Text], videos: list[RetrievalSample],
                     ctx: EvalContext) -> np.ndarray:
        """Mean over views of the cosine matrix (N_text x N_video), float64."""
        text_emb = ctx.map(
            "text_emb", texts, key=lambda t: t.id, prepare=self._text_item,
            forward=lambda b: list(model.contrastive_text(b["text_ids"], b["text_mask"]).float()),
            desc=f"{self.config.name}: text embeddings",
        )
        t = torch.stack([text_emb[x.id] for x in texts]).double()
        total = torch.zeros(len(texts), len(videos), dtype=torch.float64)
        for view in range(self.options.views):
            video_emb = ctx.map(
                f"video_emb_view{view}", videos, key=lambda s: s.id, prepare=partial(self._video_item, view),
                forward=lambda b: list(model.contrastive_video(b["video"]).float()),
                desc=f"{self.config.name}: video embeddings (view {view + 1}/{self.options.views})",
            )
            v = torch.stack([video_emb[s.id] for s in videos]).double()
            total += t @ v.t()
        return (total / self.options.views).numpy()

    def _cross_scores(self, model: torch.nn.Module, texts: list[_Text], videos: list[RetrievalSample],
                      pairs: list[tuple[int, int]], ctx: EvalContext) -> dict[tuple[int, int], float]:
        """VTM match logits of ``pairs`` (text index, video index): one joint forward per pair."""
        if not pairs:
            return {}
        needed = sorted({v for _, v in pairs})
        clip_map = ctx.map(  # every rank needs every clip of its pairs; clips are not cached on disk
            "clips", [videos[i] for i in needed], key=lambda s: s.id, prepare=partial(self._video_item, 0),
            forward=lambda b: list(b["video"]), cache=False, shard=False,
            desc=f"{self.config.name}: clips for the cross-encoder",
        )
        clips = {i: clip_map[videos[i].id] for i in needed}
        ids, mask = self.encode_text([t.text for t in texts])

        def forward(batch: Batch) -> list[torch.Tensor]:
            t_idx = batch["t"].cpu()
            v_idx = batch["v"].cpu().tolist()
            device = batch["t"].device
            video = torch.stack([clips[v] for v in v_idx]).to(device)
            out = model(video, ids[t_idx].to(device), mask[t_idx].to(device))
            return list(model.rank_score(out.cls_feats).float())

        keyed = ctx.map(
            "pair_scores", pairs, key=lambda p: f"{texts[p[0]].id}|{videos[p[1]].id}",
            prepare=_pair_item, forward=forward, batch_size=self.options.cross_batch_size,
            num_workers=0, desc=f"{self.config.name}: cross-encoder ({len(pairs)} pairs)",
        )
        return {p: float(keyed[f"{texts[p[0]].id}|{videos[p[1]].id}"]) for p in pairs}

    # ------------------------------------------------------------------ reporting
    def protocol_summary(self) -> ProtocolSummary:
        details: dict[str, Any] = {"views": self.options.views}
        if self.options.scoring == "dual+rerank":
            details["rerank_k"] = self.options.rerank_k
            details["rerank_directions"] = self.options.rerank_directions
            details["v2t_scoring"] = "dual" if self.options.rerank_directions == "t2v" else "dual+rerank"
        return ProtocolSummary(scoring=self.options.scoring, details=details)


def export_record(record: Record, video_ids: list[str]) -> Record:
    """A query's line in ``predictions.jsonl``: its video, the rank of that video (t2v, ties averaged) and
    the top-5 videos."""
    row = np.asarray(record["scores"], dtype=np.float64)
    target = int(record["target"])
    greater = int((row > row[target]).sum())
    tied = int((row == row[target]).sum()) - 1
    top = np.argsort(-row, kind="stable")[:5]
    return {
        "id": record["id"],
        "text": record.get("text"),
        "video_id": record.get("video_id"),
        "t2v_rank": 1 + greater + tied / 2,
        "top5": [{"video_id": video_ids[i], "score": float(row[i])} for i in top],
    }


def _pair_item(pair: tuple[int, int]) -> Batch:
    return {"t": torch.tensor(pair[0]), "v": torch.tensor(pair[1])}


def rerank_pairs(dual: np.ndarray, k: int, directions: RerankDirections = "t2v") -> set[tuple[int, int]]:
    """(text, video) pairs the cross-encoder must score for ``dual+rerank(k)``: each text's top-``k`` videos and,
    for ``directions="both"``, each video's top-``k`` texts, chosen exactly as
    :func:`allinone_bench.metrics.rerank` does (stable sort)."""
    n_t, n_v = dual.shape
    pairs: set[tuple[int, int]] = set()
    k_v, k_t = min(k, n_v), min(k, n_t)
    for t in range(n_t):
        pairs.update((t, int(v)) for v in np.argsort(-dual[t], kind="stable")[:k_v])
    if directions == "t2v":
        return pairs
    for v in range(n_v):
        pairs.update((int(t), v) for t in np.argsort(-dual[:, v], kind="stable")[:k_t])
    return pairs


def cross_matrix(scores: dict[tuple[int, int], float], n_t: int, n_v: int) -> np.ndarray:
    """The full (N_text x N_video) matrix from all-pairs cross scores."""
    out = np.empty((n_t, n_v), dtype=np.float64)
    for (t, v), s in scores.items():
        out[t, v] = s
    return out
