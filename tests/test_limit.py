"""`run --limit N`: a deterministic subset (first N by stable id, or a seeded sample) of every split, recorded in
results.json, said in the printed table, and left out of `table`/`plot` unless --include-limited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from allinone_bench.cli import report_cmds, run_cmds
from allinone_bench.data.types import DatasetSplit, RetrievalSample, VideoRef
from allinone_bench.engine.limit import limit_split, natural_key
from allinone_bench.errors import ConfigError


def _split(ids: list[str]) -> DatasetSplit:
    return DatasetSplit("toy", "test", [RetrievalSample(i, VideoRef(Path(f"{i}.mp4")), ("a caption",)) for i in ids],
                        annotation_files=[Path("toy.json")])


def _ids(split: DatasetSplit) -> list[str]:
    return [s.id for s in split.samples]


def test_first_n_by_natural_id_in_file_order() -> None:
    split = _split(["video10", "video2", "video7", "video1", "video30"])
    assert _ids(limit_split(split, 3)) == ["video2", "video7", "video1"]  # ids 1, 2, 7; file order kept
    assert natural_key("clip2") < natural_key("clip10")
    assert limit_split(split, 5) is split and limit_split(split, None) is split
    assert _ids(split) == ["video10", "video2", "video7", "video1", "video30"]  # the input is not modified


def test_seeded_sample_is_deterministic_and_independent_of_file_order() -> None:
    ids = [f"q{i}" for i in range(50)]
    a = _ids(limit_split(_split(ids), 5, seed=3))
    b = _ids(limit_split(_split(list(reversed(ids))), 5, seed=3))
    assert len(a) == 5 and sorted(a) == sorted(b)
    assert a == _ids(limit_split(_split(ids), 5, seed=3))
    assert sorted(a) != sorted(_ids(limit_split(_split(ids), 5, seed=4)))
    assert sorted(a, key=natural_key) != [f"q{i}" for i in range(5)]


def test_bad_limits_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="positive"):
        limit_split(_split(["a", "b"]), 0)
    with pytest.raises(ConfigError, match="--limit-seed needs --limit"):
        limit_split(_split(["a", "b"]), None, seed=1)


def _app() -> typer.Typer:
    app = typer.Typer()
    run_cmds.register(app)
    report_cmds.register(app)
    return app


def _run(tmp_path: Path, run_id: str, *extra: str) -> tuple[dict, list[str], str]:
    result = CliRunner().invoke(_app(), ["run", "msrvtt_retrieval", "--output-dir", str(tmp_path / "runs"),
                                         "--run-id", run_id, "--quiet", *extra], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "msrvtt_retrieval" / run_id
    results = json.loads((run_dir / "results.json").read_text())
    ids = [json.loads(line)["id"] for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    return results, ids, result.stdout


@pytest.mark.slow
def test_run_limit_evaluates_the_same_n_samples_and_table_leaves_it_out(tmp_path: Path) -> None:
    first, ids_a, out = _run(tmp_path, "a", "--zero-shot", "--limit", "5")
    again, ids_b, _ = _run(tmp_path, "b", "--zero-shot", "--limit", "5")
    assert first["n_samples"]["evaluated"] == 5 and first["n_samples"]["limit"] == 5
    assert first["n_samples"]["total"] > 5 and first["n_samples"]["limit_seed"] is None
    assert len(ids_a) == 5 and ids_a == ids_b
    assert ids_a == sorted(ids_a, key=natural_key)  # the synthetic test ids are in natural order in the file
    assert first["metrics"]["n_texts"] == 5 == first["metrics"]["n_videos"]
    assert "LIMITED to first 5 by id" in out and "--limit 5" in out
    assert any(w.startswith("--limit 5") for w in first["warnings"])
    rerun = CliRunner().invoke(_app(), ["run", "msrvtt_retrieval", "--output-dir", str(tmp_path / "runs"),
                                        "--run-id", "a", "--zero-shot", "--quiet"])  # same run id, no --limit
    assert isinstance(rerun.exception, ConfigError) and "--limit" in str(rerun.exception)

    seeded, ids_s, _ = _run(tmp_path, "s", "--zero-shot", "--limit", "5", "--limit-seed", "7")
    _, ids_s2, _ = _run(tmp_path, "s2", "--zero-shot", "--limit", "5", "--limit-seed", "7")
    assert len(ids_s) == 5 and ids_s == ids_s2 and seeded["n_samples"]["limit_seed"] == 7

    runs = str(tmp_path / "runs")
    table = CliRunner().invoke(_app(), ["table", "5a", "--runs", runs, "--format", "csv"])
    assert table.exit_code == 0, table.output
    assert "Ours:" not in table.stdout and "left out 4 run(s) made with --limit" in table.stderr
    shown = CliRunner().invoke(_app(), ["table", "5a", "--runs", runs, "--format", "csv", "--include-limited"])
    assert shown.exit_code == 0, shown.output
    assert "Ours:" in shown.stdout and "(--limit 5)" in shown.stdout
    listing = CliRunner().invoke(_app(), ["results", "--runs", runs], env={"COLUMNS": "250"})
    assert listing.exit_code == 0 and "--limit 5" in listing.stdout


@pytest.mark.slow
def test_run_limit_finetunes_on_the_subset(tmp_path: Path) -> None:
    results, ids, _ = _run(tmp_path, "ft", "--limit", "5", "--set", "finetune.epochs=1")
    assert results["finetune"]["finetuned"] and results["finetune"]["train_samples"] == 5
    assert results["n_samples"]["evaluated"] == 5 and len(ids) == 5


def test_limit_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["run", "msrvtt_retrieval", "--limit-seed", "3",
                                         "--output-dir", str(tmp_path)])
    assert result.exit_code != 0 and isinstance(result.exception, ConfigError)
    assert not (tmp_path / "msrvtt_retrieval").exists()
    resumed = CliRunner().invoke(_app(), ["run", "--resume", str(tmp_path), "--limit", "3"])
    assert isinstance(resumed.exception, ConfigError) and "--limit" in str(resumed.exception)
