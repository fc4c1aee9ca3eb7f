"""Engine pieces: optimizer groups and schedule, the sharded/cached evaluation map (1 and 2 processes),
atomic results files, and resume after an interruption giving the same final state."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from allinone_bench.engine import RunOptions, run_task
from allinone_bench.engine.cache import ChunkCache
from allinone_bench.engine.dist import shard_indices
from allinone_bench.engine.evaluator import Evaluator
from allinone_bench.engine.optim import build_optimizer, build_scheduler, param_groups, plan_schedule
from allinone_bench.engine.precision import resolve_precision
from allinone_bench.engine.rundir import atomic_write_text
from allinone_bench.engine.trainer import selection_value
from allinone_bench.errors import BenchError, ConfigError
from allinone_bench.report.results import read_results
from allinone_bench.tasks import load_task


# ------------------------------------------------------------------------------------------ optimisation
class _Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)
        self.vqa_classifier = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))


def test_param_groups_follow_official_recipe() -> None:
    cfg = load_task("msrvtt_qa").finetune
    groups = {g["group_name"]: g for g in param_groups(_Toy(), cfg)}
    assert set(groups) == {"backbone/decay", "backbone/no_decay", "head/decay", "head/no_decay"}
    assert groups["backbone/decay"]["weight_decay"] == 0.01 and groups["backbone/decay"]["lr"] == 1e-4
    assert groups["backbone/no_decay"]["weight_decay"] == 0.0
    assert groups["head/decay"]["lr"] == pytest.approx(1e-3)  # lr x 10 for the QA head
    # decay applies to weight matrices only; biases and LayerNorm parameters are exempt
    assert [p.dim() for p in groups["backbone/decay"]["params"]] == [2]
    assert len(groups["backbone/no_decay"]["params"]) == 3  # linear bias + LN weight + LN bias


def test_warmup_then_linear_decay_and_accumulation() -> None:
    cfg = load_task("msrvtt_qa", overrides={"finetune.epochs": 2, "finetune.batch_size": 64,
                                             "finetune.per_device_batch_size": 8}).finetune
    schedule = plan_schedule(num_batches=40, world_size=2, cfg=cfg)
    assert schedule.accumulation == 4 and schedule.steps_per_epoch == 10 and schedule.total_steps == 20
    assert schedule.warmup_steps == 2
    opt = build_optimizer(_Toy(), cfg)
    sched = build_scheduler(opt, schedule, cfg)
    lrs = []
    for _ in range(schedule.total_steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == 0.0 and lrs[1] == pytest.approx(0.5e-4) and lrs[2] == pytest.approx(1e-4)
    assert all(a > b for a, b in zip(lrs[2:], lrs[3:], strict=False))  # strictly decreasing after warmup
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0)


def test_selection_value_sums_and_names_missing() -> None:
    assert selection_value({"t2v_R@1": 10.0, "v2t_R@1": 5.0}, "t2v_R@1+v2t_R@1") == 15.0
    with pytest.raises(BenchError, match="'acc' is not among"):
        selection_value({"t2v_R@1": 1.0}, "acc")


def test_precision_resolution_on_cpu() -> None:
    cpu = torch.device("cpu")
    from allinone_bench.engine.precision import cpu_native_bf16

    assert resolve_precision("auto", cpu).name == ("bf16" if cpu_native_bf16()[0] else "fp32")
    assert resolve_precision("bf16", cpu).dtype is torch.bfloat16
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        resolve_precision("fp16", cpu)


# ------------------------------------------------------------------------------------------ evaluation map
def _evaluator(cache_root: Path | None, fingerprint: str = "f1") -> Evaluator:
    cfg = load_task("msrvtt_qa", synthetic=True)
    return Evaluator(config=cfg, device=torch.device("cpu"), precision=resolve_precision("fp32", torch.device("cpu")),
                     tag="test/unit", seed=0, cache_root=cache_root, fingerprint=fingerprint, num_workers=0,
                     cache_flush_s=0.0)


def test_shards_are_disjoint_and_cover_without_padding() -> None:
    for n in (0, 1, 7, 10):
        shards = [shard_indices(n, r, 3) for r in range(3)]
        flat = sorted(i for s in shards for i in s)
        assert flat == list(range(n))


def test_map_caches_by_key_and_resumes_after_interruption(tmp_path: Path) -> None:
    items = list(range(23))
    calls: list[int] = []

    class Boom(Exception):
        pass

    def forward(batch: dict) -> list:
        xs = batch["x"].tolist()
        if len(calls) >= 10:
            raise Boom
        calls.extend(xs)
        return [{"sq": x * x} for x in xs]

    ev = _evaluator(tmp_path)
    kwargs = dict(key=str, prepare=lambda i: {"x": torch.tensor(i)}, batch_size=5)
    # Interrupted after two batches: the finished keys are already on disk (flushed every batch here).
    with pytest.raises(Boom):
        ev.map("sq", items, forward=forward, **kwargs)
    assert len(calls) == 10
    done = ChunkCache(tmp_path / "test/unit/sq").load()
    assert sorted(int(k) for k in done) == sorted(calls)
    rest: list[int] = []
    out = _evaluator(tmp_path).map(
        "sq", items, forward=lambda b: rest.extend(b["x"].tolist()) or [{"sq": x * x} for x in b["x"].tolist()],
        **kwargs)
    assert sorted(rest) == sorted(set(items) - set(calls))  # only the unfinished items are recomputed
    assert out == {str(i): {"sq": i * i} for i in items}
    # A different configuration fingerprint discards the cache.
    seen: list[int] = []
    _evaluator(tmp_path, fingerprint="other").map(
        "sq", items, forward=lambda b: seen.extend(b["x"].tolist()) or [0] * len(b["x"]), **kwargs)
    assert sorted(seen) == items


def test_map_rejects_duplicate_keys_and_wrong_lengths() -> None:
    ev = _evaluator(None)
    with pytest.raises(BenchError, match="occurs more than once"):
        ev.map("d", [1, 1], key=str, prepare=lambda i: {"x": torch.tensor(i)}, forward=lambda b: [0, 0])
    with pytest.raises(BenchError, match="returned 1 results for a batch of 2"):
        ev.map("w", [1, 2], key=str, prepare=lambda i: {"x": torch.tensor(i)}, forward=lambda b: [0])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_rank_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        computed: list[int] = []

        def forward(batch: dict) -> list:
            xs = batch["x"].tolist()
            computed.extend(xs)
            return [x * 10 for x in xs]

        if rank == 0:  # a slow rank 0 reads the cache after rank 1 has written its shard: the shards must agree
            load = ChunkCache.load
            ChunkCache.load = lambda self: (time.sleep(1.0), load(self))[1]  # type: ignore[method-assign]
        ev = _evaluator(Path(out_dir) / "cache")
        result = ev.map("times10", list(range(11)), key=str, prepare=lambda i: {"x": torch.tensor(i)},
                        forward=forward, batch_size=3)
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps({"computed": computed, "result": result}))
    finally:
        dist.destroy_process_group()


def test_map_shards_over_two_processes_without_duplicates(tmp_path: Path) -> None:
    torch.multiprocessing.spawn(_two_rank_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert not set(r0["computed"]) & set(r1["computed"])
    assert sorted(r0["computed"] + r1["computed"]) == list(range(11))
    assert r0["result"] == r1["result"] == {str(i): i * 10 for i in range(11)}
    # the cache written by two ranks is complete for a later run with one process
    assert len(ChunkCache(tmp_path / "cache/test/unit/times10").load()) == 11


# ------------------------------------------------------------------------------------------ results + resume
def test_atomic_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    atomic_write_text(target, "old")

    class Fail(Exception):
        pass

    from allinone_bench.engine.rundir import atomic_write

    def write(fh):  # noqa: ANN001
        fh.write(b"partial")
        raise Fail

    with pytest.raises(Fail):
        atomic_write(target, write)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["results.json"]


class _Interrupt(Exception):
    pass


def _stop_after_first_epoch(trainer, state) -> None:  # noqa: ANN001
    if state.epoch == 1:
        raise _Interrupt


@pytest.mark.slow
def test_resume_after_interruption_matches_uninterrupted_run(tmp_path: Path, one_thread: None) -> None:
    overrides = {"finetune.epochs": 3, "finetune.eval_every": 1, "synthetic.num_videos": 24,
                 "finetune.batch_size": 8, "finetune.per_device_batch_size": 4,  # 2 micro-batches per step
                 # examples and dropout masks that depend on the epoch, so a stale epoch or RNG would show
                 "protocol.video.train_sampling": "rand", "dataset.cache_clips": False, "model.drop_rate": 0.1}
    base = dict(task="msrvtt_qa", output_dir=tmp_path, overrides=overrides, count_flops=False)
    full = run_task(RunOptions(run_id="full", **base))

    # The interrupted run loads with 2 persistent workers, the full one with none: same examples, same losses.
    with pytest.raises(_Interrupt):
        run_task(RunOptions(run_id="cut", callbacks=[_stop_after_first_epoch],
                            **{**base, "overrides": {**overrides, "finetune.num_workers": 2}}))
    cut_dir = tmp_path / "msrvtt_qa" / "cut"
    assert (cut_dir / "state.pt").is_file() and not (cut_dir / "results.json").exists()
    resumed = run_task(RunOptions(task="", resume=cut_dir, count_flops=False))

    assert resumed.metrics == full.metrics
    hist_full = [(h["epoch"], h["train_loss"], h.get("selection")) for h in full.results.finetune["history"]]
    hist_res = [(h["epoch"], h["train_loss"], h.get("selection")) for h in resumed.results.finetune["history"]]
    assert hist_res == hist_full
    a = torch.load(tmp_path / "msrvtt_qa/full/state.pt", weights_only=False)
    b = torch.load(cut_dir / "state.pt", weights_only=False)
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["train_state"]["global_step"] == b["train_state"]["global_step"] > 0
    assert a["scheduler"] == b["scheduler"]
    data = read_results(cut_dir / "results.json")
    assert data["finetune"]["epochs_run"] == 3 and data["predictions"] == "predictions.jsonl"
