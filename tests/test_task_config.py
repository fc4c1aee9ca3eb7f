"""Task registry and YAML validation: every task loads, typos fail loudly naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from allinone_bench.errors import ConfigError
from allinone_bench.tasks import list_tasks, load_task
from allinone_bench.tasks.config import load_task_config, parse_set_args, validate

REQUIRED_TASKS = {
    "msrvtt_retrieval": "retrieval", "didemo_retrieval": "retrieval", "activitynet_retrieval": "retrieval",
    "msrvtt_qa": "open_qa", "msvd_qa": "open_qa", "tgif_frameqa": "open_qa",
    "tgif_action": "mc_qa", "tgif_transition": "mc_qa", "msrvtt_mc": "multiple_choice",
    "lsmdc_mc": "multiple_choice", "youcook2_caption": "captioning", "tvc_caption": "captioning",
    "k400_probe": "linear_probe", "hmdb51_probe": "linear_probe", "ucf101_probe": "linear_probe",
}
MY_TASKS = [t for t, k in REQUIRED_TASKS.items() if k in ("retrieval", "open_qa")]


def _kind_available(kind: str) -> bool:
    from allinone_bench.tasks.base import get_kind

    try:
        get_kind(kind)
    except ConfigError:
        return False
    return True


def test_all_required_tasks_are_registered() -> None:
    assert set(REQUIRED_TASKS) <= set(list_tasks())


@pytest.mark.parametrize("name", sorted(REQUIRED_TASKS))
def test_every_task_validates_plain_and_synthetic(name: str) -> None:
    kind = REQUIRED_TASKS[name]
    if not _kind_available(kind):
        pytest.skip(f"kind {kind} not installed")
    cfg = load_task(name)
    syn = load_task(name, synthetic=True)
    assert cfg.kind == kind and cfg.version >= 1 and cfg.metrics
    assert syn.is_synthetic and not cfg.is_synthetic
    # The synthetic run is CPU-sized; the plain one follows the official protocol.
    assert syn.model.variant == "ti" and syn.protocol.video.crop <= 64
    assert cfg.protocol.video.crop == 224 and cfg.model.variant == "b"
    # Selecting on the test split is only allowed with a stated official protocol.
    if cfg.uses_test_for_selection and cfg.dataset.splits.train is not None:
        assert cfg.selection.official_protocol_note


@pytest.mark.parametrize("name", MY_TASKS)
def test_resolved_config_round_trips(name: str) -> None:
    cfg = load_task(name, synthetic=True)
    again = validate(yaml.safe_load(yaml.safe_dump(cfg.to_dict())), where="round-trip:", name=name)
    assert again.to_dict() == cfg.to_dict()


def test_official_defaults_follow_reference() -> None:
    qa = load_task("msrvtt_qa")
    ft = qa.finetune
    assert (ft.lr, ft.head_lr_mult, ft.batch_size, ft.epochs) == (1e-4, 10.0, 512, 20)
    assert qa.finetune.betas == (0.9, 0.98) and qa.finetune.weight_decay == 0.01 and qa.finetune.warmup == 0.1
    assert qa.options.num_labels == 1501
    didemo = load_task("didemo_retrieval")
    assert didemo.protocol.text.mode == "paragraph" and didemo.protocol.text.max_len == 80
    assert didemo.finetune.lr == 6e-4 and didemo.options.temperature == 0.05
    ret = load_task("msrvtt_retrieval")
    assert ret.selection.split == "val" and not ret.uses_test_for_selection
    assert ret.options.scoring == "dual" and ret.options.views == 1


def _write(tmp: Path, name: str, data: dict) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _minimal(**extra: object) -> dict:
    data: dict = {
        "version": 1, "kind": "open_qa", "metrics": ["acc"],
        "dataset": {"adapter": "msrvtt_qa"}, "selection": {"metric": "acc"},
    }
    data.update(extra)
    return data


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "typo", _minimal(finetune={"lrr": 1.0}))
    with pytest.raises(ConfigError, match=r"typo\.yaml: finetune\.lrr: unknown key \(valid keys here: epochs"):
        load_task_config(path)
    path = _write(tmp_path, "typo2", _minimal(colour="red"))
    with pytest.raises(ConfigError, match=r"typo2\.yaml: colour: unknown key"):
        load_task_config(path)
    path = _write(tmp_path, "typo3", _minimal(options={"num_label": 3}))
    with pytest.raises(ConfigError, match=r"options\.num_label: unknown key \(valid keys here: num_labels"):
        load_task_config(path)


def test_wrong_types_and_missing_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"finetune\.epochs: expected an integer, got 'ten'"):
        load_task_config(_write(tmp_path, "a", _minimal(finetune={"epochs": "ten"})))
    with pytest.raises(ConfigError, match=r"protocol\.video\.sampling: expected one of 'uniform' \| 'rand'"):
        load_task_config(_write(tmp_path, "b", _minimal(protocol={"video": {"sampling": "random"}})))
    data = _minimal()
    del data["version"]
    with pytest.raises(ConfigError, match="version: required"):
        load_task_config(_write(tmp_path, "c", data))
    with pytest.raises(ConfigError, match="unknown task kind 'nope'"):
        load_task_config(_write(tmp_path, "d", _minimal(kind="nope")))
    with pytest.raises(ConfigError, match="unknown metric 'accuracy_typo'"):
        load_task_config(_write(tmp_path, "e", _minimal(metrics=["accuracy_typo"])))


def test_selection_on_test_needs_official_note(tmp_path: Path) -> None:
    data = _minimal(dataset={"adapter": "msrvtt_qa", "splits": {"train": "train", "val": "test", "test": "test"}})
    with pytest.raises(ConfigError, match="selects on the test split"):
        load_task_config(_write(tmp_path, "sel", data))
    data["selection"]["official_protocol_note"] = "the official code does it"
    cfg = load_task_config(_write(tmp_path, "sel", data))
    assert cfg.uses_test_for_selection


def test_include_merges_and_detects_cycles(tmp_path: Path) -> None:
    (tmp_path / "_base.yaml").write_text(yaml.safe_dump({"seed": 7, "finetune": {"lr": 0.5, "epochs": 3}}))
    path = _write(tmp_path, "child", {**_minimal(), "include": "_base.yaml", "finetune": {"epochs": 9}})
    cfg = load_task_config(path)
    assert (cfg.seed, cfg.finetune.lr, cfg.finetune.epochs) == (7, 0.5, 9)
    (tmp_path / "_x.yaml").write_text("include: _y.yaml\n")
    (tmp_path / "_y.yaml").write_text("include: _x.yaml\n")
    with pytest.raises(ConfigError, match="include cycle"):
        load_task_config(_write(tmp_path, "cyc", {**_minimal(), "include": "_x.yaml"}))


def test_set_overrides_are_type_checked() -> None:
    cfg = load_task("msrvtt_retrieval", overrides=parse_set_args(
        ["finetune.lr=3e-5", "options.scoring=dual+rerank", "options.rerank_k=4", "protocol.video.num_frames=8",
         "finetune.betas=[0.9, 0.999]", "model.depth=null", "dataset.options.cut=miech"]))
    assert cfg.finetune.lr == 3e-5 and cfg.options.scoring == "dual+rerank" and cfg.options.rerank_k == 4
    assert cfg.protocol.video.num_frames == 8 and cfg.finetune.betas == (0.9, 0.999)
    assert cfg.dataset.options == {"cut": "miech"}
    with pytest.raises(ConfigError, match=r"unknown key 'lrr' under finetune \(valid keys: epochs, max_steps, lr"):
        load_task("msrvtt_retrieval", overrides=parse_set_args(["finetune.lrr=1"]))
    with pytest.raises(ConfigError, match=r"unknown key 'scorer' under options \(valid keys: scoring"):
        load_task("msrvtt_retrieval", overrides=parse_set_args(["options.scorer=cross"]))
    with pytest.raises(ConfigError, match=r"options\.scoring: expected one of 'dual' \| 'cross' \| 'dual\+rerank'"):
        load_task("msrvtt_retrieval", overrides=parse_set_args(["options.scoring=fast"]))
    with pytest.raises(ConfigError, match=r"finetune\.epochs: expected an integer"):
        load_task("msrvtt_retrieval", overrides=parse_set_args(["finetune.epochs=2.5"]))
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_set_args(["finetune.lr"])
    with pytest.raises(ConfigError, match="is a value, not a section"):
        load_task("msrvtt_retrieval", overrides=parse_set_args(["seed.x=1"]))


def test_synthetic_overrides_then_set() -> None:
    cfg = load_task("msrvtt_qa", synthetic=True, overrides={"finetune.epochs": 1})
    assert cfg.finetune.epochs == 1 and cfg.model.depth == 2 and cfg.dataset.cache_clips
    assert cfg.options.num_labels is None  # synthetic: vocabulary-sized head


def test_cache_clips_requires_uniform_sampling() -> None:
    with pytest.raises(ConfigError, match="cache_clips: needs deterministic frames"):
        load_task("msrvtt_qa", synthetic=True, overrides={"protocol.video.train_sampling": "rand"})


def test_unknown_task_suggests_names() -> None:
    with pytest.raises(ConfigError, match="did you mean msrvtt_qa"):
        load_task("msrvt_qa")


def test_tasks_command_lists_kind_dataset_metrics() -> None:
    import typer
    from typer.testing import CliRunner

    from allinone_bench.cli.run_cmds import register

    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["tasks", "--kind", "retrieval"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in ("msrvtt_retrieval", "didemo_retrieval", "activitynet_retrieval", "msrvtt_ret", "t2v_R@1"):
        assert name in result.output
    assert "msrvtt_qa " not in result.output


def test_task_config_merges_its_include_chain() -> None:
    cfg = load_task("tgif_frameqa")
    # from the task file, from _open_qa.yaml, and from _base.yaml: each layer must have been read
    assert (cfg.dataset.adapter, cfg.options.num_labels) == ("tgif_frameqa", 1541)
    assert (cfg.kind, cfg.finetune.head_lr_mult, cfg.metrics) == ("open_qa", 10.0, ["acc", "acc_in_vocab"])
    assert (cfg.finetune.betas, cfg.protocol.video.resize, cfg.protocol.official) == ((0.9, 0.98), 268, False)
