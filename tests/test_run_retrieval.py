"""Retrieval end to end on synthetic data (CPU): the default run learns, paragraph/multi-caption modes,
the three scorers (dual+rerank with k = all candidates is exactly cross), zero-shot rules, results files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from allinone_bench.cli.run_cmds import register
from allinone_bench.data.datasets import get_adapter
from allinone_bench.data.tokenizer import load_tokenizer
from allinone_bench.engine import RunOptions, run_task
from allinone_bench.engine.evaluator import Evaluator
from allinone_bench.engine.precision import resolve_precision
from allinone_bench.engine.runner import model_arch_kwargs
from allinone_bench.engine.synthetic import ensure_synthetic
from allinone_bench.errors import ConfigError
from allinone_bench.model import build_model, save_pretrained
from allinone_bench.report.results import read_results
from allinone_bench.tasks import get_kind, load_task

CPU = torch.device("cpu")


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.mark.slow
def test_default_synthetic_run_learns_and_writes_results(tmp_path: Path, one_thread: None) -> None:
    """`allinone-bench run msrvtt_retrieval` with no other option: synthetic data, random init, and the
    finetuned dual encoder retrieves well above chance."""
    result = CliRunner().invoke(_app(), ["run", "msrvtt_retrieval", "--output-dir", str(tmp_path)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "t2v_R@1" in result.stdout and "results:" in result.stdout
    path = next(tmp_path.glob("msrvtt_retrieval/*/results.json"))
    data = read_results(path)
    m = data["metrics"]
    n = int(m["n_videos"])
    chance_r1, chance_mdr = 100.0 / n, (n + 1) / 2
    print(f"synthetic msrvtt_retrieval: t2v R@1 {m['t2v_R@1']:.1f} (chance {chance_r1:.1f}), "
          f"v2t R@1 {m['v2t_R@1']:.1f}, t2v MdR {m['t2v_MdR']} (chance {chance_mdr})")
    assert m["t2v_R@1"] >= 3 * chance_r1 and m["v2t_R@1"] >= 2 * chance_r1
    assert m["t2v_MdR"] <= chance_mdr / 2
    assert data["data"]["root"] == "synthetic" and data["model"]["checkpoint"] is None
    assert any("RANDOM" in w for w in data["warnings"]) and any("SYNTHETIC" in w for w in data["warnings"])
    assert data["protocol"]["scoring"] == "dual" and data["protocol"]["frames"] == 3
    assert data["selection_split"]["split"] == "val" and not data["selection_split"]["uses_test"]
    # the adapter's resolved options (defaults included) say which files played train/val/test
    assert data["data"]["options"]["cut"] == "jsfusion" and data["data"]["options"]["val_source"] == "holdout"
    # FLOPs of the model that ran (tiny synthetic Ti: 3 frames of 32x32, 16 text tokens), counted, never None
    flops = data["flops"]
    assert flops is not None and flops["unit"] == "MACs" and flops["value"] == flops["macs"] > 0
    assert flops["flops"] == 2 * flops["macs"]
    assert flops["input_shape"]["video"] == [1, 3, 3, 32, 32] and flops["input_shape"]["text"] == [1, 16]
    run_dir = path.parent
    lines = (run_dir / data["predictions"]).read_text().splitlines()
    assert len(lines) == data["n_samples"]["evaluated"] == n
    assert {"id", "video_id", "t2v_rank", "top5"} <= set(json.loads(lines[0]))
    assert (run_dir / "config.yaml").is_file() and (run_dir / "model" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("task", "overrides", "paragraph"),
    [
        ("didemo_retrieval", {}, True),
        ("activitynet_retrieval", {}, True),
        ("msrvtt_retrieval", {"dataset.options.eval_captions": "all"}, False),
        ("msrvtt_retrieval", {"options.vtm_weight": 1.0, "options.scoring": "dual+rerank", "options.rerank_k": 2},
         False),
    ],
)
def test_text_modes_end_to_end(tmp_path: Path, task: str, overrides: dict, paragraph: bool) -> None:
    result = run_task(RunOptions(task=task, output_dir=tmp_path, count_flops=False,
                                 overrides={"finetune.epochs": 1, **overrides}))
    m = result.metrics
    if paragraph:  # one joined text per video
        assert m["n_texts"] == m["n_videos"]
        assert all(r["id"] == r["video_id"] for r in result.records)
    elif "dataset.options.eval_captions" in overrides:  # every caption is a query
        assert m["n_texts"] > m["n_videos"]
    else:  # VTC + VTM finetuning, reranked evaluation
        history = result.results.finetune["history"]
        assert history and np.isfinite(history[0]["train_loss"])
        assert result.results.protocol.extra["rerank_k"] == 2
    for key in result.config.metric_names:
        assert np.isfinite(m[key])
    assert read_results(result.results_path)["protocol"]["text_mode"] == ("paragraph" if paragraph else "single")


def test_contrastive_loss_and_hard_negatives() -> None:
    from allinone_bench.tasks.retrieval import hard_negative_pairs, symmetric_contrastive_loss

    e = torch.nn.functional.normalize(torch.randn(5, 8), dim=-1)
    assert symmetric_contrastive_loss(e, e, 0.01) < 1e-3  # aligned pairs, sharp temperature
    logits = e @ e.flip(0).t() / 0.05
    target = torch.arange(5)
    manual = 0.5 * (torch.nn.functional.cross_entropy(logits, target)
                    + torch.nn.functional.cross_entropy(logits.t(), target))
    assert torch.allclose(symmetric_contrastive_loss(e, e.flip(0), 0.05), manual)
    sims = torch.tensor([[1.0, 0.9, 0.1], [0.2, 1.0, 0.8], [0.7, 0.3, 1.0]])
    t_idx, v_idx = hard_negative_pairs(sims, 1)
    assert not (t_idx == v_idx).any()  # never the positive
    assert list(zip(t_idx.tolist(), v_idx.tolist(), strict=True)) == [(0, 1), (1, 2), (2, 0), (2, 0), (0, 1), (1, 2)]


def _score_split(scoring: str, k: int = 16, directions: str = "both",
                 cross_batch: int | None = None) -> tuple[list[dict], Evaluator]:
    cfg = load_task("msrvtt_retrieval", synthetic=True,
                    overrides={"options.scoring": scoring, "options.rerank_k": k,
                               "options.rerank_directions": directions, "options.cross_batch_size": cross_batch})
    root, _ = ensure_synthetic(cfg.dataset.adapter, cfg.synthetic.num_videos, cfg.synthetic.seed)
    split = get_adapter(cfg.dataset.adapter)(root).load("test")
    kind = get_kind("retrieval")(cfg, load_tokenizer())
    torch.manual_seed(0)
    model = build_model(cfg.model.variant, **model_arch_kwargs(cfg), contrastive=True).eval()
    ev = Evaluator(config=cfg, device=CPU, precision=resolve_precision("fp32", CPU), tag="t", seed=0,
                   num_workers=0)
    return kind.evaluate(model, split, ev).records, ev


def test_dual_rerank_with_all_candidates_equals_cross() -> None:
    cross, ev_cross = _score_split("cross")
    n_t, n_v = len(cross), len(cross[0]["scores"])
    rerank_all, ev_all = _score_split("dual+rerank", k=n_v)
    assert ev_cross.counters["pair_scores"] == ev_all.counters["pair_scores"] == n_t * n_v
    for a, b in zip(cross, rerank_all, strict=True):
        assert np.array_equal(a["scores"], b["scores"])
        assert np.array_equal(a["scores"], b["v2t_scores"])
    # k < N scores only the union of both directions' top-k and keeps the dual order below them
    small, ev_small = _score_split("dual+rerank", k=3)
    assert ev_small.counters["pair_scores"] <= 3 * (n_t + n_v) < n_t * n_v
    dual, ev_dual = _score_split("dual")
    assert "pair_scores" not in ev_dual.counters
    # the default reranks t2v only: k per text, and v2t keeps the dual scores
    t2v_only, ev_t2v = _score_split("dual+rerank", k=3, directions="t2v")
    assert ev_t2v.counters["pair_scores"] == 3 * n_t
    for d, r, s in zip(dual, t2v_only, small, strict=True):
        assert np.allclose(r["scores"], s["scores"], rtol=1e-5, atol=1e-6)  # same pairs, other batches
        assert np.array_equal(r["v2t_scores"], d["scores"])
    for d, r, c in zip(dual, small, cross, strict=True):
        top = np.argsort(-d["scores"], kind="stable")[:3]
        rest = np.setdiff1d(np.arange(n_v), top)
        assert r["scores"][top].min() > r["scores"][rest].max()  # the reranked top-k stay on top
        def order(x: np.ndarray) -> list[int]:
            return list(np.argsort(-x, kind="stable"))

        assert order(r["scores"][top]) == order(c["scores"][top])  # cross-encoder order inside the top-k
        assert order(r["scores"][rest]) == order(d["scores"][rest])  # dual order below


def test_zero_shot_dual_needs_projection_heads(tmp_path: Path) -> None:
    cfg = load_task("msrvtt_retrieval", synthetic=True)
    torch.manual_seed(0)
    pretrained = build_model(cfg.model.variant, **model_arch_kwargs(cfg))  # like a released ckpt: no txt_proj
    ckpt = save_pretrained(pretrained, tmp_path / "ckpt")
    opts = dict(task="msrvtt_retrieval", checkpoint=str(ckpt), zero_shot=True, output_dir=tmp_path / "runs",
                count_flops=False)
    with pytest.raises(ConfigError, match="options.scoring=cross"):
        run_task(RunOptions(**opts))
    result = run_task(RunOptions(**opts, overrides={"options.scoring": "cross"}))
    data = read_results(result.results_path)
    assert data["zero_shot"] and data["protocol"]["scoring"] == "cross"
    assert data["finetune"]["finetuned"] is False and data["selection_split"]["split"] is None
    assert data["model"]["checkpoint"] == str(ckpt)
    assert not any("RANDOM" in w for w in data["warnings"])


def test_cli_bad_set_key_is_a_config_error(tmp_path: Path) -> None:
    """The CLI maps BenchError to a one-line message + exit 2 (cli.main); here the error itself is checked."""
    result = CliRunner().invoke(_app(), ["run", "msrvtt_retrieval", "--output-dir", str(tmp_path),
                                         "--set", "finetune.lrr=1"])
    assert isinstance(result.exception, ConfigError)
    assert "unknown key 'lrr' under finetune (valid keys: epochs" in str(result.exception)
    assert not list(tmp_path.iterdir())  # nothing written for an invalid configuration


def test_selection_on_test_videos_is_detected_from_the_data(tmp_path: Path) -> None:
    """Split names cannot tell that an adapter option made ``val`` read the test file: the engine compares the
    videos, quotes the declared official protocol when one exists, and refuses otherwise."""
    quick = {"finetune.epochs": 1, "finetune.max_steps": 1}
    official = {**quick, "dataset.options.val_source": "test"}  # MSRVTT 1k-A: validate on the test videos
    result = run_task(RunOptions(task="msrvtt_retrieval", output_dir=tmp_path / "a", count_flops=False,
                                 overrides=official))
    selection = read_results(result.results_path)["selection_split"]
    assert selection["uses_test"] and "Official protocol" in selection["note"]

    undeclared = {**official, "selection.official_protocol_note": None}
    with pytest.raises(ConfigError, match="holds test videos"):
        run_task(RunOptions(task="msrvtt_retrieval", output_dir=tmp_path / "b", count_flops=False,
                            overrides=undeclared))


def test_metric_options_come_from_yaml_and_reach_results(tmp_path: Path) -> None:
    """``ties`` is a typed task-YAML option (here through ``--set``) and results.json records it; the
    reported values are the official rule's on the run's own score rows."""
    from allinone_bench.metrics import retrieval_metrics
    from allinone_bench.tasks import parse_set_args

    overrides = {"finetune.epochs": 1, "finetune.max_steps": 1,
                 **parse_set_args(["metrics=[{name: t2v_R@1, ties: official}, v2t_R@1, v2t_R@5]"])}
    result = run_task(RunOptions(task="msrvtt_retrieval", output_dir=tmp_path, count_flops=False,
                                 overrides=overrides))
    data = read_results(result.results_path)
    assert data["protocol"]["extra"]["metrics"] == [
        {"metric": "retrieval", "keys": ["t2v_R@1", "v2t_R@1", "v2t_R@5"], "ties": "official", "dual_softmax": None}]
    sims = np.stack([r["scores"] for r in result.records])
    official = retrieval_metrics(sims, [r["target"] for r in result.records], ties="official", ks=(1, 5))
    assert {k: data["metrics"][k] for k in ("t2v_R@1", "v2t_R@1", "v2t_R@5")} == pytest.approx(
        {k: official[k] for k in ("t2v_R@1", "v2t_R@1", "v2t_R@5")})
    with pytest.raises(ConfigError, match=r"metrics\[0\]\.ties: Input should be .*got 'first'"):
        load_task("msrvtt_retrieval", overrides=parse_set_args(["metrics=[{name: t2v_R@1, ties: first}]"]))


def test_batched_rerank_equals_one_pair_per_forward() -> None:
    """The fast path (many pairs per joint forward) against the plain one (one pair per forward): the same
    scores within fp32 rounding (batch composition changes the GEMM blocking), hence the same ranks."""
    batched, ev_b = _score_split("dual+rerank", k=3, directions="t2v")
    plain, ev_p = _score_split("dual+rerank", k=3, directions="t2v", cross_batch=1)
    assert ev_b.counters["pair_scores"] == ev_p.counters["pair_scores"]
    for b, p in zip(batched, plain, strict=True):
        assert np.allclose(b["scores"], p["scores"], rtol=1e-5, atol=1e-5)
        assert list(np.argsort(-b["scores"], kind="stable")[:3]) == list(np.argsort(-p["scores"], kind="stable")[:3])
