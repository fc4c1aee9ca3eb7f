"""Cost of the three retrieval scorers (dual, dual+rerank(k), cross) on a synthetic N x N set, in forwards.

Joint forwards are counted with a hook on the model's joint ``forward`` (one per (text, video) pair scored),
text and video passes by wrapping ``encode_text`` / ``encode_video``. All-pairs VTM scoring costs N_text x
N_video joint forwards (the ~26 h of the reference code on MSRVTT); the dual encoder N_text + N_video unimodal
passes; rerank adds k per text (``rerank_directions: t2v``, the default) or at most k per query and
direction (``both``). Shared by ``bench retrieval`` and
``benchmarks/retrieval_scoring.py``.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from allinone_bench.bench.core import Row


def count_forwards(model: torch.nn.Module) -> dict[str, int]:
    """Install counters on ``model``; the returned dict counts items (not calls) per pass and can be reset."""
    counts = {"joint": 0, "text": 0, "video": 0}

    def joint_hook(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        counts["joint"] += int(args[0].shape[0])

    model.register_forward_pre_hook(joint_hook, with_kwargs=True)
    for name in ("encode_text", "encode_video"):
        original = getattr(model, name)

        def wrapped(x: torch.Tensor, *a: Any, _orig: Any = original, _name: str = name, **kw: Any) -> Any:
            counts[_name.split("_")[1]] += int(x.shape[0])
            return _orig(x, *a, **kw)

        setattr(model, name, wrapped)
    return counts


def scorer_settings(ks: tuple[int, ...], cross: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """(label, task overrides) of each scorer to compare."""
    out: list[tuple[str, dict[str, Any]]] = [("dual", {"options.scoring": "dual"})]
    for k in ks:  # the default (t2v: k per text) and both directions (also k per video)
        for directions, suffix in (("t2v", ""), ("both", ", both")):
            out.append((f"dual+rerank(k={k}{suffix})", {"options.scoring": "dual+rerank", "options.rerank_k": k,
                                                         "options.rerank_directions": directions}))
    if cross:
        out.append(("cross", {"options.scoring": "cross"}))
    return out


def score_split(model: torch.nn.Module, split: Any, counts: dict[str, int], overrides: dict[str, Any],
                device: torch.device, precision: str = "auto") -> tuple[dict[str, float], float]:
    """Evaluate ``split`` with the msrvtt_retrieval kind under ``overrides``; (metrics, seconds)."""
    from allinone_bench.data.tokenizer import load_tokenizer
    from allinone_bench.engine.evaluator import Evaluator
    from allinone_bench.engine.precision import resolve_precision
    from allinone_bench.tasks import get_kind, load_task

    cfg = load_task("msrvtt_retrieval", synthetic=True,
                    overrides={"eval.batch_size": 64, "options.cross_batch_size": 128, **overrides})
    kind = get_kind("retrieval")(cfg, load_tokenizer())
    ev = Evaluator(config=cfg, device=device, precision=resolve_precision(precision, device),  # type: ignore[arg-type]
                   tag="bench", seed=0, num_workers=0)
    for key in counts:
        counts[key] = 0
    start = time.perf_counter()
    metrics = ev.evaluate(kind, model, split).metrics
    return metrics, time.perf_counter() - start


def retrieval_rows(*, num_videos: int = 24, ks: tuple[int, ...] = (4,), cross: bool = True,
                   precision: str = "auto", device: torch.device | None = None) -> list[Row]:
    """Score an N-video synthetic msrvtt test split (random tiny model) with each scorer; one row per scorer."""
    from allinone_bench.data.datasets import get_adapter
    from allinone_bench.engine.runner import model_arch_kwargs
    from allinone_bench.engine.synthetic import ensure_synthetic
    from allinone_bench.model import build_model
    from allinone_bench.tasks import load_task

    device = device or torch.device("cpu")
    cfg = load_task("msrvtt_retrieval", synthetic=True)
    torch.manual_seed(0)
    model = build_model(cfg.model.variant, **model_arch_kwargs(cfg), contrastive=True).to(device).eval()
    counts = count_forwards(model)
    # msrvtt's synthetic split is train 2/3, test 1/3: 3N videos give an N-video test split.
    root, _ = ensure_synthetic(cfg.dataset.adapter, 3 * num_videos, seed=1)
    split = get_adapter(cfg.dataset.adapter)(root).load("test")
    n = len(split.samples)
    rows = []
    for label, overrides in scorer_settings(ks, cross):
        metrics, seconds = score_split(model, split, counts, overrides, device, precision)
        rows.append(Row("retrieval", label, f"{n} texts x {n} videos, synthetic tiny model", seconds, {
            "joint_forwards": counts["joint"], "share_of_all_pairs": round(counts["joint"] / (n * n), 4),
            "text_passes": counts["text"], "video_passes": counts["video"],
            "t2v_R@1": round(metrics["t2v_R@1"], 2), "v2t_R@1": round(metrics["v2t_R@1"], 2)}))
    return rows
