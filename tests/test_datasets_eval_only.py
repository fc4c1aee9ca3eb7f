"""An evaluation-only (zero-shot) run reads only the test split's files: a data root holding the test annotation
file and its videos, nothing else, is enough (issue 13); train/val files are never opened."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from allinone_bench.data.datasets import get_adapter
from allinone_bench.engine import RunOptions, run_task
from allinone_bench.engine.runner import model_arch_kwargs
from allinone_bench.model import build_model, save_pretrained
from allinone_bench.report.results import read_results
from allinone_bench.tasks import load_task

TINY_INPUT = {  # the synthetic set's tiny inputs, on real-data code paths (--data-root)
    "protocol.video.decode_size": None, "protocol.video.resize": 32, "protocol.video.crop": 32,
    "protocol.video.num_frames": 2, "protocol.text.max_len": 16, "eval.num_workers": 0, "eval.precision": "fp32",
    "eval.batch_size": 8,
}
# task, adapter, the one annotation file kept (relative to the dataset folder), where it goes
CASES = [
    ("msrvtt_retrieval", "msrvtt_ret", "MSRVTT_JSFUSION_test.csv", "MSRVTT_JSFUSION_test.csv"),
    ("lsmdc_mc", "lsmdc_mc", "meta_data/LSMDC16_multiple_choice_test_randomized.csv",
     "LSMDC16_multiple_choice_test_randomized.csv"),  # as downloaded, without meta_data/
]


@pytest.mark.parametrize(("task", "adapter", "source", "target"), CASES)
def test_zero_shot_needs_only_the_test_file(tmp_path: Path, task: str, adapter: str, source: str,
                                            target: str) -> None:
    full = tmp_path / "full"
    folder = get_adapter(adapter).synthesize(full, num_videos=9, seed=0)
    only = tmp_path / "only" / folder.name
    only.mkdir(parents=True)
    shutil.copy(folder / source, only / target)
    test = get_adapter(adapter)(full).load("test").samples
    for sample in test:
        copy = only / sample.video.path.relative_to(folder)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample.video.path, copy)

    cfg = load_task(task, synthetic=True)
    torch.manual_seed(0)
    ckpt = save_pretrained(build_model(cfg.model.variant, **model_arch_kwargs(cfg)), tmp_path / "ckpt")
    result = run_task(RunOptions(task=task, data_root=only.parent, checkpoint=str(ckpt), zero_shot=True,
                                 output_dir=tmp_path / "runs", count_flops=False,
                                 overrides={**TINY_INPUT, "options.scoring": "cross"} if adapter == "msrvtt_ret"
                                 else TINY_INPUT))
    data = read_results(result.results_path)
    assert data["zero_shot"] and data["n_samples"]["evaluated"] == len(test) and data["n_samples"]["skipped"] == 0
    assert list(data["data"]["annotation_sha256"]) == [f"{folder.name}/{target}"]  # the one file it read
    if adapter == "msrvtt_ret":
        assert data["data"]["options"]["caption_source"] == "jsfusion_csv"  # resolved, not "auto"
