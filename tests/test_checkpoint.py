"""Checkpoint I/O against the official layout (keys transcribed from the reference, not from our model)."""

from __future__ import annotations

import hashlib
import json
import pathlib
from pathlib import Path

import pytest
import torch
import typer
import yaml
from safetensors.torch import save_file
from typer.testing import CliRunner

from allinone_bench.cli import model_cmds
from allinone_bench.errors import CheckpointError
from allinone_bench.model import (
    build_from_checkpoint,
    build_model,
    infer_config,
    list_checkpoints,
    load_checkpoint,
    read_state_dict,
    resolve_checkpoint,
    save_pretrained,
    sha256_file,
)

from _model_official import ReadOnlyDict, official_keys, official_state_dict, write_lightning_ckpt
from _model_utils import tiny_inputs

SMALL = {"depth": 2, "image_size": 32, "vocab_size": 512}  # real widths/heads, small everything else


def _small_ckpt(tmp_path: Path, variant: str, name: str = "official.ckpt", **kw: object) -> tuple[Path, dict]:
    sd = official_state_dict(variant, depth=2, image_size=32, vocab=512, **kw)  # type: ignore[arg-type]
    return write_lightning_ckpt(tmp_path / name, sd), sd


def _assert_equal_tensors(model: torch.nn.Module, sd: dict[str, torch.Tensor]) -> None:
    ours = model.state_dict()
    for key, value in sd.items():
        if key == "text_embeddings.position_ids":
            continue
        target = key.replace("vtm_score.", "itm_score.")
        assert torch.equal(ours[target], value), key


# ---------------------------------------------------------------- official layout round trips
@pytest.mark.parametrize("variant", ["ti", "s", "b"])
def test_official_lightning_ckpt_loads_every_tensor(tmp_path: Path, variant: str) -> None:
    path, sd = _small_ckpt(tmp_path, variant)
    model = build_model(variant, **SMALL)
    report = load_checkpoint(model, path)
    assert report.ok and not report.missing and not report.unexpected and not report.shape_mismatches
    assert report.defaulted == ["transformer.temporal_embed"]
    assert report.ignored == ["text_embeddings.position_ids"]
    assert sorted(report.loaded) == sorted(set(official_keys(variant, depth=2)) - {"text_embeddings.position_ids"})
    assert report.initialised == [] and report.renamed == {}
    assert any("temporal_embed absent" in n for n in report.notes)
    assert torch.count_nonzero(model.transformer.temporal_embed) == 0
    _assert_equal_tensors(model, sd)


def test_full_size_ti_official_ckpt(tmp_path: Path) -> None:
    sd = official_state_dict("ti")
    path = write_lightning_ckpt(tmp_path / "all-in-one-ti.ckpt", sd)
    model, report = build_from_checkpoint(path)
    assert report.ok and len(report.loaded) == len(sd) - 1
    assert (model.config.variant, model.config.depth, model.config.image_size) == ("ti", 12, 224)
    _assert_equal_tensors(model, sd)


def test_baseplus_vtm_score_is_renamed(tmp_path: Path) -> None:
    path, sd = _small_ckpt(tmp_path, "b", itm_name="vtm_score")
    assert "vtm_score.fc.weight" in sd and "itm_score.fc.weight" not in sd
    model = build_model("b", **SMALL)
    report = load_checkpoint(model, path)
    assert report.ok
    assert report.renamed == {"vtm_score.fc.weight": "itm_score.fc.weight", "vtm_score.fc.bias": "itm_score.fc.bias"}
    assert torch.equal(model.itm_score.fc.weight, sd["vtm_score.fc.weight"])
    cls = torch.randn(2, 768)
    with torch.no_grad():
        expected = cls @ sd["vtm_score.fc.weight"][1] + sd["vtm_score.fc.bias"][1]
        torch.testing.assert_close(model.rank_score(cls), expected)


@pytest.mark.parametrize("prefix", ["module.", "model.", "module.model."])
def test_wrapper_prefix_is_stripped(tmp_path: Path, prefix: str) -> None:
    sd = official_state_dict("ti", depth=2, image_size=32, vocab=512)
    path = tmp_path / "plain.pt"
    torch.save({prefix + k: v for k, v in sd.items()}, path)
    model = build_model("ti", **SMALL)
    report = load_checkpoint(model, path)
    assert report.ok and len(report.renamed) == len(sd)
    _assert_equal_tensors(model, sd)


def test_safetensors_state_dict(tmp_path: Path) -> None:
    sd = official_state_dict("s", depth=2, image_size=32, vocab=512)
    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    model = build_model("s", **SMALL)
    assert load_checkpoint(model, path).ok
    _assert_equal_tensors(model, sd)


# ---------------------------------------------------------------- config inference
@pytest.mark.parametrize(("variant", "width", "heads", "distilled"),
                         [("ti", 192, 3, False), ("s", 384, 6, True), ("b", 768, 12, False)])
def test_infer_config(variant: str, width: int, heads: int, distilled: bool) -> None:
    sd = official_state_dict(variant, depth=3, image_size=48, vocab=512, max_text_len=80, temporal_frames=8)
    cfg = infer_config(sd)
    assert (cfg.variant, cfg.hidden_size, cfg.num_heads, cfg.distilled) == (variant, width, heads, distilled)
    assert (cfg.depth, cfg.image_size, cfg.max_text_len, cfg.num_frames, cfg.vocab_size) == (3, 48, 80, 8, 512)
    assert cfg.qa_labels is None and not cfg.mc_head and not cfg.contrastive
    no_dist = {k: v for k, v in sd.items() if k != "transformer.dist_token"}
    assert infer_config(no_dist).distilled == distilled  # also from pos_embed rows (2 + grid^2)
    assert infer_config({k: v for k, v in sd.items() if "temporal" not in k}).num_frames == 3  # default


def test_infer_config_finds_task_heads() -> None:
    model = build_model("ti", qa_labels=13, mc_head=True, contrastive=True, **SMALL)
    cfg = infer_config(model.state_dict())
    assert (cfg.qa_labels, cfg.mc_head, cfg.contrastive, cfg.contrastive_dim) == (13, True, True, 512)


def test_infer_config_rejects_foreign_state_dict() -> None:
    with pytest.raises(CheckpointError, match="not an All-in-One checkpoint"):
        infer_config({"encoder.layer.0.weight": torch.zeros(2, 2)})


# ---------------------------------------------------------------- refusals and partial loads
def test_wrong_variant_is_refused_with_key_names(tmp_path: Path) -> None:
    path, _ = _small_ckpt(tmp_path, "s")
    model = build_model("ti", **SMALL)
    before = model.transformer.cls_token.detach().clone()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(model, path)
    message = str(err.value)
    assert "transformer.dist_token" in message and "shape mismatch" in message
    assert "text_embeddings.word_embeddings.weight checkpoint [512, 384] vs model [512, 192]" in message
    assert "looks like variant 's'" in message and "strict=False" in message
    assert torch.equal(model.transformer.cls_token, before)  # nothing was copied


def test_foreign_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "foreign.pt"
    torch.save({"encoder.weight": torch.zeros(3, 3), "encoder.bias": torch.zeros(3)}, path)
    model = build_model("ti", **SMALL)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(model, path)
    message = str(err.value)
    assert "2 unexpected key(s): encoder.weight, encoder.bias" in message
    assert "missing key(s): text_embeddings.word_embeddings.weight" in message and "more)" in message
    assert "does not look like an All-in-One checkpoint" in message


def test_non_strict_loads_what_fits(tmp_path: Path) -> None:
    sd = official_state_dict("ti", depth=2, image_size=32, vocab=512)
    sd["transformer.pos_embed"] = torch.zeros(1, 10, 192)  # wrong grid (the model has 1 + 2x2 rows)
    del sd["pooler.dense.weight"]
    sd["extra.head.weight"] = torch.zeros(1)
    path = write_lightning_ckpt(tmp_path / "odd.ckpt", sd)
    model = build_model("ti", **SMALL)
    with pytest.raises(CheckpointError, match="transformer.pos_embed"):
        load_checkpoint(model, path)
    report = load_checkpoint(model, path, strict=False)
    assert not report.ok
    assert report.missing == ["pooler.dense.weight"] and report.unexpected == ["extra.head.weight"]
    assert report.shape_mismatches == [("transformer.pos_embed", (1, 10, 192), (1, 5, 192))]
    assert torch.equal(model.transformer.cls_token, sd["transformer.cls_token"])
    assert "skipped:" in report.summary() and "pooler.dense.weight" in report.summary()


def test_max_text_len_mismatch(tmp_path: Path) -> None:
    path, sd = _small_ckpt(tmp_path, "ti")  # 40 text positions
    model = build_model("ti", max_text_len=80, **SMALL)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(model, path)
    assert "text_embeddings.position_embeddings.weight" in str(err.value)
    assert "max_text_len=40" in str(err.value) and "resize_text_positions" in str(err.value)
    report = load_checkpoint(model, path, resize_text_positions=True)
    assert report.ok and report.resized == ["text_embeddings.position_embeddings.weight"]
    pos = model.text_embeddings.position_embeddings.weight
    assert torch.equal(pos[:40], sd["text_embeddings.position_embeddings.weight"])
    shorter = build_model("ti", max_text_len=20, **SMALL)
    load_checkpoint(shorter, path, resize_text_positions=True)
    assert torch.equal(shorter.text_embeddings.position_embeddings.weight,
                       sd["text_embeddings.position_embeddings.weight"][:20])


def test_temporal_embed_is_inflated_like_the_official_loader(tmp_path: Path) -> None:
    path, sd = _small_ckpt(tmp_path, "ti", temporal_frames=3)
    eight = build_model("ti", num_frames=8, **SMALL)
    report = load_checkpoint(eight, path)
    assert report.ok and report.resized == ["transformer.temporal_embed"] and not report.defaulted
    te = eight.transformer.temporal_embed
    assert torch.equal(te[:, :3], sd["transformer.temporal_embed"]) and torch.count_nonzero(te[:, 3:]) == 0
    two = build_model("ti", num_frames=2, **SMALL)
    load_checkpoint(two, path)
    assert torch.equal(two.transformer.temporal_embed, sd["transformer.temporal_embed"][:, :2])


def test_task_heads_are_initialised_not_failures(tmp_path: Path) -> None:
    path, _ = _small_ckpt(tmp_path, "ti")
    model = build_model("ti", qa_labels=9, mc_head=True, contrastive=True, **SMALL)
    report = load_checkpoint(model, path)
    assert report.ok
    heads = {k.split(".")[0] for k in report.initialised}
    assert heads == {"vqa_classifier", "mc_vqa_classifier", "txt_proj", "vid_proj"}


def test_finetuned_head_needs_matching_model(tmp_path: Path) -> None:
    donor = build_model("ti", qa_labels=9, **SMALL)
    path = tmp_path / "ft.pt"
    torch.save({"state_dict": donor.state_dict()}, path)
    with pytest.raises(CheckpointError, match="qa_labels=9"):
        load_checkpoint(build_model("ti", **SMALL), path)
    model, report = build_from_checkpoint(path)
    assert report.ok and model.config.qa_labels == 9
    assert torch.equal(model.vqa_classifier[4].weight, donor.vqa_classifier[4].weight)


def test_save_pretrained_dir_is_a_checkpoint(tmp_path: Path) -> None:
    donor = build_model("s", qa_labels=4, **SMALL)
    save_pretrained(donor, tmp_path / "saved")
    model = build_model("s", qa_labels=4, **SMALL)
    assert load_checkpoint(model, tmp_path / "saved").ok
    _assert_equal_tensors(model, donor.state_dict())
    rebuilt, report = build_from_checkpoint(str(tmp_path / "saved"), rolling="none")
    assert report.ok and rebuilt.config == donor.config.replace(rolling="none")


def test_loaded_model_runs(tmp_path: Path) -> None:
    sd = official_state_dict("s", depth=2, image_size=64, vocab=512, max_text_len=12)
    path = write_lightning_ckpt(tmp_path / "s.ckpt", sd)
    model, report = build_from_checkpoint(path, num_frames=3)
    assert report.ok and model.config.distilled
    video, ids, mask = tiny_inputs()
    with torch.no_grad():
        out = model.eval()(video, ids, mask)
    assert out.video_feats.shape == (2, 18, 384) and torch.isfinite(out.cls_feats).all()


# ---------------------------------------------------------------- safe reading
class _Touch:
    """Unpickling this would create a file, if the loader ran code from the checkpoint."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (pathlib.Path.touch, (self.target,))


def test_lightning_objects_load_without_running_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    sd = official_state_dict("ti", depth=2, image_size=32, vocab=512)
    hparams = {"config": ReadOnlyDict(vit="vit_deit_tiny_patch16_224", num_frames=3), "side_effect": _Touch(marker)}
    path = write_lightning_ckpt(tmp_path / "lightning.ckpt", sd, hparams=hparams)
    with pytest.raises(Exception):  # noqa: B017 - PyTorch's own safe loader refuses this file
        torch.load(path, weights_only=True)
    state, notes = read_state_dict(path)
    assert not marker.exists()
    assert any("restricted unpickler" in n for n in notes)
    model = build_model("ti", **SMALL)
    report = load_checkpoint(model, path)
    assert report.ok and not marker.exists()
    assert any("restricted unpickler" in n for n in report.notes)
    _assert_equal_tensors(model, sd)


def test_unreadable_file_is_a_checkpoint_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.ckpt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="broken.ckpt"):
        load_checkpoint(build_model("ti", **SMALL), bad)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(build_model("ti", **SMALL), tmp_path / "absent.ckpt")


# ---------------------------------------------------------------- released-checkpoint registry
def test_checkpoints_yaml_lists_the_releases() -> None:
    entries = {e.name: e for e in list_checkpoints()}
    assert set(entries) == {"all-in-one-ti", "all-in-one-s", "all-in-one-base", "all-in-one-baseplus",
                            "all-in-one-baseplus-8sets"}
    assert entries["all-in-one-base"].file == "all-in-one-base.ckpt"
    assert entries["all-in-one-baseplus"].file == "all-in-one-baseplus.ckpt"
    assert [entries[n].variant for n in ("all-in-one-ti", "all-in-one-s", "all-in-one-base")] == ["ti", "s", "b"]
    assert all(e.url.startswith("https://drive.google.com/") for e in entries.values())


def test_name_not_on_disk_says_where_to_put_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLINONE_BENCH_CKPT_DIR", str(tmp_path / "ckpts"))
    with pytest.raises(CheckpointError) as err:
        resolve_checkpoint("all-in-one-base")
    message = str(err.value)
    assert str(tmp_path / "ckpts" / "all-in-one-base.ckpt") in message
    assert "https://drive.google.com/file/d/1z3g891ND6CGCUkVzCXr2647wVG-15uUS" in message
    with pytest.raises(CheckpointError, match="all-in-one-ti"):
        resolve_checkpoint("all-in-one-xl")
    with pytest.raises(CheckpointError, match="is not on disk"):  # the released file name means the release
        resolve_checkpoint("all-in-one-baseplus.ckpt")
    with pytest.raises(CheckpointError, match="file not found"):
        resolve_checkpoint(str(tmp_path / "all-in-one-base.ckpt"))


def _registry(tmp_path: Path, sha: str | None) -> Path:
    path = tmp_path / "checkpoints.yaml"
    path.write_text(yaml.safe_dump({"checkpoints": [{
        "name": "tiny-test", "variant": "ti", "url": "https://example.invalid/tiny", "file": "tiny-test.ckpt",
        "sha256": sha, "params": "1M", "pretraining_data": ["synthetic"]}]}))
    return path


def test_name_resolves_from_cache_and_sha256_is_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "ckpts"
    cache.mkdir()
    path, sd = _small_ckpt(cache, "ti", name="tiny-test.ckpt")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha256_file(path) == digest
    monkeypatch.setenv("ALLINONE_BENCH_CKPT_DIR", str(cache))
    monkeypatch.setenv("ALLINONE_BENCH_CHECKPOINTS_FILE", str(_registry(tmp_path, digest)))
    model = build_model("ti", **SMALL)
    report = load_checkpoint(model, "tiny-test")
    assert report.ok and report.sha256 == digest and "sha256 matches checkpoints.yaml" in report.notes
    _assert_equal_tensors(model, sd)
    monkeypatch.setenv("ALLINONE_BENCH_CHECKPOINTS_FILE", str(_registry(tmp_path, "0" * 64)))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(model, "tiny-test")
    assert load_checkpoint(model, "tiny-test", verify_sha256=False).ok


def test_checkpoints_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "ckpts"
    cache.mkdir()
    monkeypatch.setenv("ALLINONE_BENCH_CKPT_DIR", str(cache))
    (cache / "all-in-one-ti.ckpt").write_bytes(b"x")
    app = typer.Typer()
    model_cmds.register(app)
    app.command("noop")(lambda: None)  # a second command keeps typer in multi-command mode
    runner = CliRunner()
    result = runner.invoke(app, ["checkpoints", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["all-in-one-ti"]["present"] and not rows["all-in-one-base"]["present"]
    assert rows["all-in-one-base"]["sha256"] == "not recorded"
    table = runner.invoke(app, ["checkpoints"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "all-in-one-baseplus-8sets" in table.output and "not on disk" in table.output
    _small_ckpt(tmp_path, "ti", name="inspect.ckpt")
    info = runner.invoke(app, ["checkpoints", "--inspect", str(tmp_path / "inspect.ckpt"), "--json"])
    assert info.exit_code == 0, info.output
    payload = json.loads(info.output)
    assert payload["config"]["variant"] == "ti" and payload["report"]["ok"]
