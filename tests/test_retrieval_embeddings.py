"""Retrieval at scale (issue 10, item 4): text and video embeddings are computed once per id within an
evaluation (also when reranking reuses the videos), and a repeated evaluation with the same cache reads them
back instead of running the model again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from allinone_bench.data.datasets import get_adapter
from allinone_bench.data.tokenizer import load_tokenizer
from allinone_bench.engine.evaluator import Evaluator
from allinone_bench.engine.precision import resolve_precision
from allinone_bench.engine.runner import model_arch_kwargs
from allinone_bench.engine.synthetic import ensure_synthetic
from allinone_bench.model import build_model
from allinone_bench.tasks import get_kind, load_task

CPU = torch.device("cpu")


def _counting(model: torch.nn.Module, counts: dict[str, int]) -> None:
    """Count the rows each embedding pass sees (not calls)."""
    for name in ("contrastive_text", "contrastive_video"):
        inner = getattr(model, name)

        def wrapped(x: torch.Tensor, *rest: Any, _inner: Any = inner, _name: str = name) -> torch.Tensor:
            counts[_name] = counts.get(_name, 0) + x.shape[0]
            return _inner(x, *rest)

        setattr(model, name, wrapped)


def test_embeddings_once_per_id_and_cached(tmp_path: Path) -> None:
    cfg = load_task("msrvtt_retrieval", synthetic=True,
                    overrides={"options.scoring": "dual+rerank", "options.rerank_k": 3, "options.views": 2})
    root, _ = ensure_synthetic(cfg.dataset.adapter, cfg.synthetic.num_videos, cfg.synthetic.seed)
    split = get_adapter(cfg.dataset.adapter)(root).load("test")
    kind = get_kind("retrieval")(cfg, load_tokenizer())
    torch.manual_seed(0)
    model = build_model(cfg.model.variant, **model_arch_kwargs(cfg), contrastive=True).eval()
    counts: dict[str, int] = {}
    _counting(model, counts)
    n_t, n_v = len(kind.query_texts(split)), len(split.samples)

    def evaluate() -> tuple[list[dict[str, Any]], Evaluator]:
        ev = Evaluator(config=cfg, device=CPU, precision=resolve_precision("fp32", CPU), tag="test/eval", seed=0,
                       cache_root=tmp_path, fingerprint="f", num_workers=0)
        return kind.evaluate(model, split, ev).records, ev

    first, ev = evaluate()
    assert counts == {"contrastive_text": n_t, "contrastive_video": 2 * n_v}  # once per id (per view)
    assert ev.counters["text_emb"] == n_t and ev.counters["video_emb_view0"] == ev.counters["video_emb_view1"] == n_v
    assert ev.counters["clips"] <= n_v  # the reranker decodes each candidate video once, not once per pair
    counts.clear()
    again, ev2 = evaluate()
    assert counts == {}  # nothing embedded again: read from the evaluation cache
    assert ev2.counters["text_emb"] == ev2.counters["video_emb_view0"] == ev2.counters["pair_scores"] == 0
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a["scores"], b["scores"])
