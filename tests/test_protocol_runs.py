"""End-to-end protocol behaviour on synthetic data (CPU): the official preset in one flag and its record in
results.json, evaluation-only tasks, run-id reuse, and FLOPs recorded by a real run (issue 8 items 3 and 5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from allinone_bench.engine import RunOptions, run_task
from allinone_bench.errors import ConfigError
from allinone_bench.report.results import read_results
from allinone_bench.tasks import load_task
from allinone_bench.tasks.config import flatten, load_task_config
from allinone_bench.tasks.departures import DEPARTURES, departure_record
from allinone_bench.tasks.registry import list_tasks

README = Path(__file__).resolve().parents[1] / "README.md"


# ------------------------------------------------------------------ the preset
@pytest.mark.parametrize("synthetic", [False, True])
def test_official_preset_loads_for_every_task_and_records_its_changes(synthetic: bool) -> None:
    for name in list_tasks():
        plain = load_task(name, synthetic=synthetic)
        cfg = load_task(name, synthetic=synthetic, overrides={"protocol.official": True})
        assert not plain.protocol.official and plain.protocol.official_changes == {}
        assert cfg.protocol.official and cfg.protocol.official_changes, name
        ran, before = flatten(cfg.to_dict()), flatten(plain.to_dict())
        for key, (old, new) in cfg.protocol.official_changes.items():
            assert ran[key] == new and before.get(key) == old and old != new, (name, key)
        assert ran["finetune.precision"] == "auto_fp16" and ran["protocol.patch_permutation"] == "seeded"


def test_official_preset_values_per_task() -> None:
    anet = load_task("activitynet_retrieval", overrides={"protocol.official": True})
    assert anet.protocol.text.max_len == 40 and anet.options.views == 3 and anet.options.vtc_reduction == "sum"
    assert anet.options.vtm_loss == "false_text_rank" and anet.options.text_pass == "per_frame"
    didemo = load_task("didemo_retrieval", overrides={"protocol.official": True})
    assert didemo.dataset.splits.test == "val" and didemo.uses_test_for_selection
    lsmdc = load_task("lsmdc_mc", overrides={"protocol.official": True})
    assert lsmdc.options.rank_head_init == "random" and lsmdc.finetune.val_check_interval == 0.5
    assert lsmdc.dataset.options["val_source"] == "test"
    probe = load_task("k400_probe", overrides={"protocol.official": True})
    assert probe.options.probe == "official" and probe.finetune.head_lr_mult == 1.0
    assert probe.options.prompt == "A persion is doing [MASK]"


def test_a_later_set_wins_over_the_preset() -> None:
    cfg = load_task("msrvtt_retrieval", overrides={"protocol.official": True, "options.views": 2})
    # the user's value runs, and the preset is not credited with it
    assert cfg.options.views == 2 and "options.views" not in cfg.protocol.official_changes
    assert cfg.protocol.official_changes["options.vtc_reduction"] == ["mean", "sum"]


def test_a_bad_preset_key_is_refused_naming_it(tmp_path: Path) -> None:
    base = Path(__file__).resolve().parents[1] / "tasks" / "_retrieval.yaml"
    task = tmp_path / "my_task.yaml"
    task.write_text(f"version: 1\ninclude: {base}\ndataset: {{adapter: didemo}}\n"
                    "official:\n  options: {viewz: 3}\n")
    load_task_config(task)  # valid while the preset is off
    with pytest.raises(ConfigError, match="viewz"):
        load_task_config(task, overrides={"protocol.official": True})


def test_readme_departure_table_lists_every_departure_with_its_options() -> None:
    text = README.read_text()
    table = text.split("## Where we depart from the official code, and why", 1)[1].split("\n## ", 1)[0]
    for dep in DEPARTURES:
        row = next((line for line in table.splitlines() if f"`{dep.name}`" in line), None)
        assert row is not None, f"README departure table lacks {dep.name}"
        for key in dep.keys:
            assert f"`{key}" in row, f"README row {dep.name} lacks option {key}"
        if not dep.keys:
            assert "not reproduced" in row
    assert "protocol.official=true" in table


def test_departure_record_names_values_that_ran_and_official_values() -> None:
    rec = departure_record(load_task("lsmdc_mc"))
    assert rec["mc_head_init"]["options"] == {"options.rank_head_init": "pretrained_vtm"}
    assert rec["mc_head_init"]["official"] == {"options.rank_head_init": "random"}
    assert rec["mc_validation"]["official"] == {"finetune.val_check_interval": 0.5}
    assert "vtm_loss" not in rec and not rec["unreadable_videos"]["reproducible"]


# ------------------------------------------------------------------ runs
def _run(tmp_path: Path, task: str, **kw: object) -> dict:
    result = run_task(RunOptions(task=task, output_dir=tmp_path, **kw))  # type: ignore[arg-type]
    return read_results(result.results_path)


def test_evaluation_only_task_evaluates_zero_shot_and_records_flops(tmp_path: Path) -> None:
    data = _run(tmp_path, "msrvtt_mc", run_id="eval-only")  # no --zero-shot needed
    assert data["zero_shot"] is True and data["finetune"]["finetuned"] is False
    assert any("evaluation only" in w for w in data["warnings"])
    assert 0.0 <= data["metrics"]["mc_acc"] <= 100.0 and data["n_samples"]["evaluated"] > 0
    flops = data["flops"]  # a real run counts FLOPs of the model that ran
    assert flops is not None and flops["macs"] > 0 and flops["flops"] == 2 * flops["macs"]
    assert flops["input_shape"]["video"][1] == 3 and not any("flops not computed" in w for w in data["warnings"])
    assert data["protocol"]["precision"] == {"eval": "fp32"} and data["protocol"]["official"] is False


def test_reusing_a_run_id_with_another_config_is_an_error_naming_the_keys(tmp_path: Path) -> None:
    _run(tmp_path, "msrvtt_mc", run_id="r1", count_flops=False)
    again = _run(tmp_path, "msrvtt_mc", run_id="r1", count_flops=False,  # same config: resumes
                 overrides={"eval.num_workers": 0})
    assert again["run_id"] == "r1"
    with pytest.raises(ConfigError, match=re.escape("differs in: options.score")):
        _run(tmp_path, "msrvtt_mc", run_id="r1", count_flops=False, overrides={"options.score": "vtm_prob"})
    with pytest.raises(ConfigError, match="--zero-shot"):
        _run(tmp_path, "msrvtt_mc", run_id="r1", count_flops=False, zero_shot=True)


@pytest.mark.slow
def test_official_preset_runs_and_is_recorded_in_results(tmp_path: Path, one_thread: None) -> None:
    data = _run(tmp_path, "lsmdc_mc", count_flops=False,
                overrides={"protocol.official": True, "finetune.epochs": 1})
    proto = data["protocol"]
    assert proto["official"] is True and data["protocol"]["patch_permutation"] == "seeded"
    assert proto["official_changes"]["options.rank_head_init"] == ["pretrained_vtm", "random"]
    assert proto["departures"]["mc_validation"]["options"] == {"finetune.val_check_interval": 0.5}
    assert proto["precision"] == {"eval": "fp32", "finetune": "fp32"}  # auto_fp16 on CPU
    # validated every half epoch: at the first optimizer step at or after the mark, then at the epoch's end
    first, last = (h["epoch"] for h in data["finetune"]["history"])
    assert 0.5 <= first < 1 and last == 1
    assert data["selection_split"]["uses_test"]  # the official LSMDC val split reads the test file


@pytest.mark.slow
def test_official_retrieval_losses_run_end_to_end(tmp_path: Path, one_thread: None) -> None:
    data = _run(tmp_path, "didemo_retrieval", count_flops=False,
                overrides={"protocol.official": True, "options.vtm_weight": 1.0, "finetune.epochs": 1,
                           "options.vtm_false_texts": 3})
    proto = data["protocol"]
    assert proto["extra"]["views"] == 3 and proto["sampling"] == "rand"
    assert proto["departures"]["vtm_loss"]["options"] == {"options.vtm_loss": "false_text_rank",
                                                          "options.vtm_false_texts": 3}
    assert proto["departures"]["evaluation_split"]["options"]["dataset.splits.test"] == "val"
    assert data["data"]["split"] == "val" and data["selection_split"]["uses_test"]
    assert data["finetune"]["history"][0]["train_loss"] > 0  # VTC (sum) + the false-text VTM loss, finite


def test_count_flops_records_why_a_counter_failed_and_lets_bugs_through(monkeypatch: pytest.MonkeyPatch) -> None:
    import allinone_bench.profile.flops as flops_module
    from allinone_bench.engine.runner import _count_flops

    cfg = load_task("msrvtt_mc", synthetic=True)
    info, why = _count_flops(cfg)
    assert info is not None and info.macs and why is None

    def cannot_trace(*args: object, **kwargs: object) -> None:
        raise RuntimeError("could not count FLOPs of 'ti' on ['meta', 'cpu']") from NotImplementedError("meta op")

    monkeypatch.setattr(flops_module, "profile_variant", cannot_trace)
    info, why = _count_flops(cfg)
    assert info is None and why is not None
    assert "RuntimeError: could not count FLOPs" in why and "NotImplementedError: meta op" in why

    def bug(*args: object, **kwargs: object) -> None:
        raise TypeError("unexpected keyword")

    monkeypatch.setattr(flops_module, "profile_variant", bug)
    with pytest.raises(TypeError):
        _count_flops(cfg)
