"""Two gloo processes with padded shards give exactly the single-process metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from allinone_bench.errors import BenchError
from allinone_bench.metrics import AccuracyMetric, Metric, RetrievalMetric

N = 7  # odd, so a DistributedSampler-style split over 2 ranks pads one sample


def _records() -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(0)
    sims = np.round(rng.random((N, N)), 1)  # ties included
    qa = [{"id": f"q{i}", "scores": rng.random(5).tolist(), "label": None if i == 3 else i % 5} for i in range(N)]
    ret = [{"id": f"t{i}", "scores": sims[i].tolist(), "target": i} for i in range(N)]
    return qa, ret


def _shard(records: list[dict], rank: int, world: int) -> list[dict]:
    """Interleaved shard padded to equal length by wrapping around, like torch's DistributedSampler."""
    per_rank = -(-len(records) // world)
    padded = records + records[: per_rank * world - len(records)]
    return padded[rank::world]


class _FailOnRank0(Metric):
    """Expensive-style metric (rank 0 only) whose compute fails: every rank must get the error."""

    name = "fail_test"
    outputs = ("x",)
    compute_on_all_ranks = False

    def compute_metrics(self, records: list[dict]) -> dict[str, float]:
        raise BenchError(f"boom with {len(records)} records")


class _Rank0Count(Metric):
    name = "rank0_count_test"
    outputs = ("count",)
    compute_on_all_ranks = False

    def compute_metrics(self, records: list[dict]) -> dict[str, float]:
        return {"count": len(records)}


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        qa, ret = _records()
        acc, retrieval, count = AccuracyMetric(), RetrievalMetric(), _Rank0Count()
        acc.process(_shard(qa, rank, world))
        retrieval.process(_shard(ret, rank, world))
        count.process(_shard(qa, rank, world))
        result = {"acc": acc.compute(), "retrieval": retrieval.compute(), "count": count.compute()}
        failing = _FailOnRank0()
        failing.process(_shard(qa, rank, world))
        try:
            failing.compute()
            result["error"] = None
        except BenchError as err:
            result["error"] = str(err)
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_match_single_process(tmp_path: Path) -> None:
    mp = pytest.importorskip("torch.multiprocessing")
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available():
        pytest.skip("torch.distributed unavailable")
    mp.spawn(_worker, args=(2, str(tmp_path / "pg_init"), str(tmp_path)), nprocs=2, join=True)

    qa, ret = _records()
    expected = {
        "acc": AccuracyMetric().compute(qa),
        "retrieval": RetrievalMetric().compute(ret),
        "count": {"count": N},
        "error": f"boom with {N} records",
    }
    for rank in range(2):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert got == json.loads(json.dumps(expected)), f"rank {rank}"
    # the padding really happened: concatenated shards hold one duplicate
    assert len(_shard(qa, 0, 2)) + len(_shard(qa, 1, 2)) == N + 1
