"""DataLoader defaults (issue 10, item 3): ``num_workers: auto`` resolution, the shared loader keyword
arguments, and the data-wait share recorded per epoch in ``train_log.jsonl`` and in ``results.timing``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from allinone_bench.engine import RunOptions, run_task
from allinone_bench.engine.loader import (
    MAX_AUTO_WORKERS,
    WaitMeter,
    available_cpus,
    data_wait_timing,
    loader_kwargs,
    resolve_workers,
)
from allinone_bench.errors import ConfigError
from allinone_bench.report.results import read_results
from allinone_bench.tasks import load_task


def test_auto_workers_from_cpus_split_among_local_ranks_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_workers("auto", cpus=2, local_world=1) == 1  # one core kept for the training process
    assert resolve_workers("auto", cpus=1, local_world=1) == 0
    assert resolve_workers("auto", cpus=16, local_world=1) == MAX_AUTO_WORKERS == 8  # capped
    assert resolve_workers("auto", cpus=16, local_world=4) == 3  # 4 CPUs per local rank
    assert resolve_workers("auto", cpus=8, local_world=16) == 0  # more ranks than CPUs
    assert resolve_workers("auto", cpus=64, local_world=2, cap=12) == 12
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # torchrun's variable is read when not given
    assert resolve_workers("auto", cpus=10) == 4
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    assert resolve_workers("auto") == max(0, min(MAX_AUTO_WORKERS, available_cpus() - 1))


def test_explicit_workers_are_kept_and_bad_values_refused() -> None:
    assert resolve_workers(0) == 0
    assert resolve_workers(3, cpus=1) == 3  # an explicit count is the user's choice
    for bad in (-1, "many", True, 1.5):
        with pytest.raises(ConfigError, match="num_workers"):
            resolve_workers(bad)  # type: ignore[arg-type]


def test_config_default_is_auto_and_accepts_integers() -> None:
    cfg = load_task("msrvtt_retrieval")  # real-data settings: the _base.yaml default
    assert cfg.finetune.num_workers == "auto" and cfg.eval.num_workers == "auto"
    assert load_task("msrvtt_retrieval", overrides={"eval.num_workers": 2}).eval.num_workers == 2
    with pytest.raises(ConfigError, match="num_workers"):
        load_task("msrvtt_retrieval", overrides={"eval.num_workers": "lots"})


def test_loader_kwargs() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert loader_kwargs(0, cpu) == {"num_workers": 0, "pin_memory": False}  # torch refuses prefetch without workers
    assert loader_kwargs(2, cuda) == {"num_workers": 2, "pin_memory": True, "persistent_workers": True,
                                      "prefetch_factor": 4}
    assert loader_kwargs(2, cpu, persistent=False)["persistent_workers"] is False


def test_auto_loader_raises_no_worker_warning() -> None:
    """A loader built with the resolved ``auto`` count never trips torch's 'suggested max number of worker'
    warning, also when every CPU is in the affinity mask (where torch would warn for cpus + 1 workers)."""
    workers = resolve_workers(load_task("msrvtt_retrieval").eval.num_workers)
    data = TensorDataset(torch.arange(8.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any UserWarning fails the test
        loader = DataLoader(data, batch_size=4, **loader_kwargs(workers, torch.device("cpu"), persistent=False))
        assert sorted(float(x) for (batch,) in loader for x in batch) == [float(i) for i in range(8)]
    with pytest.warns(UserWarning, match="suggested max number of worker"):  # the check above can fail
        DataLoader(data, num_workers=available_cpus() + 1)


def test_wait_meter_counts_time_blocked_on_batches() -> None:
    import time

    def slow() -> object:
        for i in range(3):
            time.sleep(0.02)
            yield i

    meter = WaitMeter()
    got = []
    for item in meter.iterate(slow()):
        time.sleep(0.02)  # work the meter must not count
        got.append(item)
    assert got == [0, 1, 2]
    assert 0.055 <= meter.wait_s < 0.12
    totals = data_wait_timing([{"epoch": 1, "time_s": 2.0, "data_wait_s": 0.5}, {"epoch": 1.5, "val": {}},
                               {"epoch": 2, "time_s": 2.0, "data_wait_s": 0.3}], 0.25, 1.0)
    assert totals == {"finetune_data_wait_s": 0.8, "finetune_data_wait_share": 0.2,
                      "eval_data_wait_s": 0.25, "eval_data_wait_share": 0.25}
    assert data_wait_timing([], 0.0, 0.0)["finetune_data_wait_share"] is None


def test_data_wait_in_train_log_and_results(tmp_path: Path, one_thread: None) -> None:
    result = run_task(RunOptions(task="msrvtt_retrieval", output_dir=tmp_path, count_flops=False,
                                 overrides={"finetune.epochs": 1, "finetune.max_steps": 2}))
    log = [json.loads(line) for line in (result.run_dir / "train_log.jsonl").read_text().splitlines()]
    epochs = [e for e in log if "time_s" in e]
    assert epochs
    for entry in epochs:
        assert 0 <= entry["data_wait_s"] <= entry["time_s"]
        assert 0 <= entry["data_wait_share"] <= 1
    timing = read_results(result.results_path)["timing"]
    assert timing["finetune_data_wait_s"] == pytest.approx(sum(e["data_wait_s"] for e in epochs), abs=1e-3)
    assert 0 <= timing["finetune_data_wait_share"] <= 1
    assert 0 < timing["eval_data_wait_s"] <= timing["eval_s"]  # the first batch is never free
    assert 0 < timing["eval_data_wait_share"] <= 1
    assert timing["num_workers"] == {"finetune": 0, "eval": 0}  # the synthetic overrides pin 0 workers


def test_epoch_sampler_pairs_epoch_with_the_previous_random_order() -> None:
    """One process: the order RandomSampler drew before (so finetuning numbers did not move); several ranks:
    DistributedSampler's disjoint shares of each epoch's order."""
    from torch.utils.data import DistributedSampler, RandomSampler

    from allinone_bench.engine.loader import EpochSampler
    from allinone_bench.engine.seed import seed_for

    data = list(range(11))
    sampler = EpochSampler(data, seed=5)
    for epoch in (0, 3):
        sampler.set_epoch(epoch)
        before = RandomSampler(data, generator=torch.Generator().manual_seed(seed_for(5, "sampler", epoch)))
        assert list(sampler) == [(epoch, i) for i in before] and len(sampler) == 11
    shares = [EpochSampler(data, seed=5, world=2, rank=r) for r in (0, 1)]
    for s in shares:
        s.set_epoch(2)
    ref = DistributedSampler(data, num_replicas=2, rank=1, seed=seed_for(5, "sampler"))
    ref.set_epoch(2)
    assert [i for _, i in shares[1]] == list(ref) and {e for e, _ in shares[0]} == {2}
    assert {i for s in shares for _, i in s} == set(data) and len(shares[0]) == len(shares[1]) == 6  # padded


def _train_rows(workers: int) -> tuple[dict[tuple[int, int], list[torch.Tensor]], list[list[int]]]:
    """Every training example of epochs 0 and 1 through the trainer's one loader, by ``(epoch, index)``, and the
    worker pids seen after each epoch (random frames and captions, so examples differ between epochs)."""
    from dataclasses import replace

    from allinone_bench.data.datasets import get_adapter
    from allinone_bench.data.tokenizer import load_tokenizer
    from allinone_bench.engine.precision import resolve_precision
    from allinone_bench.engine.synthetic import ensure_synthetic
    from allinone_bench.engine.trainer import Trainer
    from allinone_bench.tasks import get_kind

    cfg = load_task("msrvtt_retrieval", synthetic=True, overrides={
        "finetune.num_workers": workers, "finetune.per_device_batch_size": 3, "dataset.cache_clips": False,
        "protocol.video.train_sampling": "rand"})
    root, _ = ensure_synthetic(cfg.dataset.adapter, cfg.synthetic.num_videos, cfg.synthetic.seed)
    split = get_adapter(cfg.dataset.adapter)(root).load(cfg.dataset.splits.name("train"))
    kind = get_kind(cfg.kind)(cfg, load_tokenizer())
    cpu = torch.device("cpu")
    trainer = Trainer(kind=kind, model=torch.nn.Module(), config=cfg, device=cpu, seed=0, run_dir=None,
                      precision=resolve_precision("fp32", cpu))
    loader, sampler = trainer._loader(kind.train_dataset(replace(split, samples=split.samples[:7]), seed=0))
    rows: dict[tuple[int, int], list[torch.Tensor]] = {}
    pids = []
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        flat = [[b[k][j] for k in ("video", "text_ids")] for b in loader for j in range(len(b["video"]))]
        rows.update({(epoch, i): r for i, r in zip(sampler.order(), flat, strict=True)})
        pids.append([w.pid for w in loader._iterator._workers] if workers else [])  # type: ignore[union-attr]
    return rows, pids


def test_persistent_workers_see_each_epoch(one_thread: None) -> None:
    """One loader for the whole run, workers kept across epochs: they still draw each epoch's examples (the epoch
    travels with the index), the same as without workers."""
    plain, _ = _train_rows(0)
    rows, pids = _train_rows(2)
    assert len(pids[0]) == 2 and pids[0] == pids[1]  # the same two worker processes served both epochs
    assert rows.keys() == plain.keys() and len(rows) == 14
    for key, row in rows.items():
        assert all(torch.equal(a, b) for a, b in zip(row, plain[key], strict=True)), key
    changed = [i for i in range(7) if not torch.equal(rows[(0, i)][0], rows[(1, i)][0])]
    assert len(changed) >= 5  # random frames: an example of epoch 1 is not epoch 0's
