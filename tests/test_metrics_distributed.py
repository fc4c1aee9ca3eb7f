"""Evaluation is a function of the data and the seed, never of the worker count or the shard.

This runs the path the engine really uses, ``Evaluator.evaluate``: the kind's ``evaluate`` (``ctx.map`` shards
items by id over ranks, DataLoader workers prepare clips, results are gathered by id) and then the task's metrics
on the gathered records (rank-0-only metrics broadcast their result). With random frame sampling (``sampling:
rand``) and 3 retrieval views, 0 and 2 DataLoader workers, and 1 and 2 gloo processes, give the same records,
predictions and metrics for every task kind: bit for bit across worker counts; across process counts every
discrete value (ids, predicted labels and answers, top-5 lists, captions, R@K, accuracies) is identical and the
float scores agree to float32 rounding (a rank batches other samples together, which moves the last bits).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from allinone_bench.data.datasets import get_adapter
from allinone_bench.data.tokenizer import load_tokenizer
from allinone_bench.engine.evaluator import Evaluator, score
from allinone_bench.engine.precision import resolve_precision
from allinone_bench.engine.runner import model_arch_kwargs
from allinone_bench.engine.synthetic import ensure_synthetic
from allinone_bench.errors import BenchError
from allinone_bench.metrics import Metric
from allinone_bench.model import build_model
from allinone_bench.tasks import get_kind, load_task

CPU = torch.device("cpu")
RANDOM = {"protocol.video.sampling": "rand", "dataset.cache_clips": False, "eval.batch_size": 3,
          "eval.precision": "fp32"}
CASES: dict[str, dict[str, Any]] = {  # one task per kind
    "msrvtt_retrieval": {"options.views": 3, "synthetic.num_videos": 8},
    "msrvtt_qa": {"synthetic.num_videos": 8},
    "tgif_action": {"synthetic.num_videos": 8},
    "msrvtt_mc": {"synthetic.num_videos": 8},
    "hmdb51_probe": {"synthetic.num_videos": 16},
    "youcook2_caption": {"synthetic.num_videos": 8, "options.max_gen_len": 4},
}


def _plain(obj: Any) -> Any:
    """JSON-able copy (arrays to lists; -inf kept as a string so it survives JSON)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        return _plain(np.asarray(obj).tolist())
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else str(float(obj))
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _evaluate(task: str, workers: int, sampling: str = "rand") -> dict[str, Any]:
    """One evaluation of the task's synthetic test split, built as the runner builds it (random init, seed 0)."""
    overrides = {**RANDOM, **CASES[task], "eval.num_workers": workers, "protocol.video.sampling": sampling}
    cfg = load_task(task, synthetic=True, overrides=overrides)
    root, _ = ensure_synthetic(cfg.dataset.adapter, cfg.synthetic.num_videos, cfg.synthetic.seed)
    adapter = get_adapter(cfg.dataset.adapter)(root, **cfg.dataset.options)
    splits = {role: adapter.load(name) for role in ("train", "test")
              if (name := cfg.dataset.splits.name(role)) is not None}
    kind = get_kind(cfg.kind)(cfg, load_tokenizer())
    torch.manual_seed(0)
    model = build_model(cfg.model.variant, **model_arch_kwargs(cfg), **kind.model_overrides(splits.get("train")))
    kind.prepare_model(model, zero_shot=False)
    ev = Evaluator(config=cfg, device=CPU, precision=resolve_precision("fp32", CPU), tag="test/unit", seed=cfg.seed,
                   split_loader=splits.get, num_workers=workers)
    evaluation = ev.evaluate(kind, model.eval(), splits["test"])
    return _plain({"metrics": evaluation.metrics, "predictions": evaluation.predictions,
                   "records": evaluation.records, "scoring": evaluation.protocol.scoring})


def _same(a: Any, b: Any, where: str = "") -> None:
    """Exact equality, except floats, which may differ by float32 rounding."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-6), where
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _single_process(workers: int) -> dict[str, Any]:
    return {task: _evaluate(task, workers) for task in CASES}


class _FailOnRank0(Metric):
    """A rank-0-only metric whose compute fails: every rank must get the error, none may hang."""

    name = "fail_test"
    outputs = ("x",)
    compute_on_all_ranks = False

    def compute_metrics(self, records: list[dict]) -> dict[str, float]:
        raise BenchError(f"boom with {len(records)} records")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        result: dict[str, Any] = _single_process(workers=0)
        try:
            score([_FailOnRank0()], [{"id": i} for i in range(5)])
            result["error"] = None
        except BenchError as err:
            result["error"] = str(err)
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_random_sampling_is_independent_of_workers_and_processes(tmp_path: Path, one_thread: None) -> None:
    no_workers = _single_process(workers=0)
    assert json.loads(json.dumps(_single_process(workers=2))) == json.loads(json.dumps(no_workers))

    torch.multiprocessing.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    expected = json.loads(json.dumps(no_workers))
    errors = ["boom with 5 records", "metric 'fail_test' failed on rank 0: BenchError: boom with 5 records"]
    for rank in range(2):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        for task in CASES:
            _same(got[task], expected[task], f"rank {rank}: {task}")
            assert got[task]["metrics"] == expected[task]["metrics"]
        assert got["error"] == errors[rank]

    # The check has teeth: random frames do change the predictions (retrieval scores here) vs uniform ones.
    uniform = _evaluate("msrvtt_retrieval", workers=0, sampling="uniform")
    assert uniform["records"] != no_workers["msrvtt_retrieval"]["records"]


def test_eval_clip_is_seeded_per_sample_and_view() -> None:
    cfg = load_task("msrvtt_retrieval", synthetic=True, overrides=RANDOM)
    root, _ = ensure_synthetic(cfg.dataset.adapter, cfg.synthetic.num_videos, cfg.synthetic.seed)
    sample = get_adapter(cfg.dataset.adapter)(root).load("test").samples[0]
    kind = get_kind(cfg.kind)(cfg, load_tokenizer())
    again = get_kind(cfg.kind)(cfg, load_tokenizer())  # another process/worker: same clip for the same view
    assert torch.equal(kind.eval_clip(sample, view=1), again.eval_clip(sample, view=1))
    assert any(not torch.equal(kind.eval_clip(sample, view=0), kind.eval_clip(sample, view=v)) for v in (1, 2))
