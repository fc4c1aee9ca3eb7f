"""``data check``: passes on a synthetic set; on a damaged copy reports every problem and exits non-zero."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from allinone_bench.cli.data_cmds import register, resolve_target
from allinone_bench.data.check import check_dataset
from allinone_bench.data.datasets import get_adapter
from allinone_bench.errors import ConfigError


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("check")
    for name in ("msrvtt_qa", "tgif_frameqa"):
        get_adapter(name).synthesize(root, num_videos=12, seed=0)
    return root


@pytest.fixture()
def damaged(synth_root: Path, tmp_path: Path) -> dict[str, Path | str]:
    """A copy of the MSRVTT-QA set (the bundle's form only) with one deleted video, one truncated video, one
    broken test line."""
    root = tmp_path / "data"
    shutil.copytree(synth_root / "msrvtt", root / "msrvtt")
    shutil.rmtree(root / "msrvtt/MSRVTT-QA")  # the synthetic set also holds the original release files
    train = get_adapter("msrvtt_qa")(root).load("train")
    val = get_adapter("msrvtt_qa")(root).load("val")
    deleted = train.samples[0].video.path
    deleted.unlink()
    truncated = val.samples[0].video.path
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    test_file = root / "msrvtt/meta_data/msrvtt_qa_test.jsonl"
    lines = test_file.read_text().splitlines()
    lines[2] = lines[2][:-5]
    test_file.write_text("\n".join(lines) + "\n")
    return {"root": root, "deleted": str(deleted), "truncated": str(truncated), "test_file": str(test_file)}


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.mark.parametrize("name", ["msrvtt_qa", "tgif_frameqa"])
def test_check_passes_on_synthetic(synth_root: Path, name: str) -> None:
    report = check_dataset(name, synth_root, decode="all")
    assert report.ok, report.issues()
    assert report.issues() == [] and "OK" in report.summary()
    for split in report.splits:
        assert split.samples > 0 and split.decoded == split.videos > 0


def test_decode_modes(synth_root: Path) -> None:
    none = check_dataset("msrvtt_qa", synth_root, decode="none")
    assert none.ok and all(s.decoded == 0 for s in none.splits)
    sampled = check_dataset("msrvtt_qa", synth_root, splits=["train"], decode="sample", sample_size=2)
    assert [s.split for s in sampled.splits] == ["train"] and sampled.splits[0].decoded == 2
    with pytest.raises(ConfigError, match="no split 'dev'"):
        check_dataset("msrvtt_qa", synth_root, splits=["dev"])
    with pytest.raises(ConfigError, match="unknown option"):
        check_dataset("msrvtt_qa", synth_root, options={"nope": 1})


def test_check_reports_every_problem(damaged: dict[str, Path | str]) -> None:
    report = check_dataset("msrvtt_qa", damaged["root"], decode="all")
    assert not report.ok
    by_split = {s.split: s for s in report.splits}
    assert by_split["train"].missing == [damaged["deleted"]]
    assert [p for p, _ in by_split["val"].undecodable] == [damaged["truncated"]]
    assert by_split["val"].undecodable[0][1]  # a reason is given
    error = by_split["test"].annotation_error
    assert error is not None and f"{damaged['test_file']}:3" in error
    summary = report.summary()
    assert "FAILED" in summary and "1 annotation errors" in summary
    assert "1 missing videos" in summary and "1 undecodable videos" in summary
    assert len(report.issues()) == 3


def test_cli_check_ok_and_failing(synth_root: Path, damaged: dict[str, Path | str]) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli(), ["data", "check", "msrvtt_qa", "--data-root", str(synth_root), "--all"])
    assert ok.exit_code == 0, ok.output
    assert "msrvtt_qa: OK" in ok.output
    # the msrvtt_qa task maps its val role to the test file, so name the adapter's val split explicitly
    args = ["data", "check", "msrvtt_qa", "--data-root", str(damaged["root"]), "--all"]
    bad = runner.invoke(cli(), [*args, "--split", "train", "--split", "val", "--split", "test"])
    assert bad.exit_code == 1
    flat = " ".join(bad.output.split())  # rich wraps long paths
    for needle in ("missing video", "undecodable video", "annotation error", "FAILED", "Expected layout"):
        assert needle in flat, needle
    assert Path(damaged["deleted"]).name in flat and Path(damaged["truncated"]).name in flat


def test_cli_synth_then_check_by_adapter_name(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "synth"
    made = runner.invoke(cli(), ["synth", "lsmdc_mc", "--out", str(out), "--num-videos", "6"])
    assert made.exit_code == 0, made.output
    assert (out / "lsmdc/meta_data/LSMDC16_multiple_choice_train.csv").is_file()
    checked = runner.invoke(cli(), ["data", "check", "lsmdc_mc", "--data-root", str(out), "-o", "nope=1"])
    assert isinstance(checked.exception, ConfigError)  # the app's main() turns it into a one-line error


def test_resolve_target() -> None:
    target = resolve_target("msrvtt_ret", {"cut": "miech"})
    assert target.adapter == "msrvtt_ret" and target.options["cut"] == "miech"
    with pytest.raises(ConfigError, match="neither a task"):
        resolve_target("definitely_not_a_task")


def test_check_one_split_needs_only_its_files(tmp_path: Path) -> None:
    """A zero-shot 1k-A evaluation needs only JSFusion's test csv and the videos: `--split test` passes on such
    a root; checking every split of the task names the missing training files and prints the layout."""
    full = tmp_path / "full"
    get_adapter("msrvtt_ret").synthesize(full, num_videos=6, seed=0)
    only = tmp_path / "only/msrvtt"
    only.mkdir(parents=True)
    shutil.copy(full / "msrvtt/MSRVTT_JSFUSION_test.csv", only)
    for sample in get_adapter("msrvtt_ret")(full).load("test").samples:
        target = only / sample.video.path.relative_to(full / "msrvtt")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample.video.path, target)
    runner = CliRunner()
    args = ["data", "check", "msrvtt_retrieval", "--data-root", str(only.parent), "--all"]
    one = runner.invoke(cli(), [*args, "--split", "test"])
    assert one.exit_code == 0, one.output
    assert "msrvtt_ret: OK (1 splits" in " ".join(one.output.split())
    assert "caption_source=jsfusion_csv" in one.output  # the source auto resolved to
    every = runner.invoke(cli(), args)
    flat = " ".join(every.output.split())
    assert every.exit_code == 1 and "[train] annotation error" in flat and "train_list_jsfusion.txt" in flat
    assert "Expected layout" in flat and "DATA_ROOT/msrvtt/" in flat


def _hevc_clip(path: Path) -> Path:
    import av

    from allinone_bench.bench.data import write_clip

    if "libx265" not in av.codecs_available:
        pytest.skip("this PyAV build has no libx265 encoder")
    return write_clip(path, codec="libx265", gop=30, seconds=2, fps=30, h=96, w=128,
                      options={"x265-params": "log-level=error"})


def test_check_finds_frames_decord_misreads(synth_root: Path, tmp_path: Path) -> None:
    """decord seeks HEVC with B-frames to other frames than those asked for, without an error; the check compares
    its frames with PyAV's, which agree with a decode from the start without seeking (the ground truth)."""
    import numpy as np

    from allinone_bench.bench.parity import sequential_frames
    from allinone_bench.data.video import read_frames

    clip = _hevc_clip(tmp_path / "hevc.mp4")
    indices = [0, 15, 30, 45, 59]
    truth = sequential_frames(clip, np.array(indices))
    assert np.array_equal(read_frames(clip, indices, backend="pyav"), truth)
    assert not np.array_equal(read_frames(clip, indices, backend="decord"), truth)  # the defect

    root = tmp_path / "data"
    shutil.copytree(synth_root / "msrvtt", root / "msrvtt")
    victim = get_adapter("msrvtt_qa")(root).load("train").samples[0].video.path
    shutil.copyfile(clip, victim)
    report = check_dataset("msrvtt_qa", root, splits=["train"], decode="all")
    (split,) = report.splits
    assert [p for p, _ in split.misread] == [str(victim)] and not split.undecodable
    assert "backend=pyav" in split.misread[0][1] and "1 videos decord misreads" in report.summary()
    assert check_dataset("msrvtt_qa", root, splits=["train"], decode="all", backend="pyav").ok

    runner = CliRunner()
    args = ["data", "check", "msrvtt_qa", "--data-root", str(root), "--all", "--split", "train"]
    bad = runner.invoke(cli(), args)
    assert bad.exit_code == 1 and "misread video" in " ".join(bad.output.split())
    assert runner.invoke(cli(), [*args, "--backend", "pyav"]).exit_code == 0
    assert isinstance(runner.invoke(cli(), [*args, "--backend", "nope"]).exception, ConfigError)
