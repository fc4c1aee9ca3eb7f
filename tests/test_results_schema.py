"""The results.json schema (report/schema.py): one model for writer and reader, strict keys with dotted errors,
NaN stored as null, and the documented migration of version-1 files (the round trip through the engine and
``table`` is in test_report.py)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from allinone_bench.errors import BenchError
from allinone_bench.report.results import load_results, read_results, write_predictions, write_results
from allinone_bench.report.schema import (
    SCHEMA_VERSION,
    DataInfo,
    FlopsInfo,
    ModelInfo,
    ProtocolInfo,
    Results,
    SampleCounts,
    SelectionInfo,
    Timing,
    Versions,
    migrate,
)
from allinone_bench.report.store import load_run


def make_results(**update: Any) -> Results:
    """A complete Results built through the models the engine uses."""
    fields: dict[str, Any] = dict(
        task="msrvtt_qa", task_version=1, kind="open_qa", run_id="r1",
        metrics={"acc": 21.25, "acc_in_vocab": 25.0},
        n_samples=SampleCounts(total=24, evaluated=24),
        protocol=ProtocolInfo(frames=3, sampling="uniform", text_mode="single", scoring=None, rolling="roll",
                              patch_permutation="off"),
        model=ModelInfo(variant="ti", checkpoint=None, sha256=None, params=1000),
        flops=FlopsInfo(value=2.0e9, unit="MACs", counter="c", input_shape={"video": [1, 3, 3, 32, 32]}),
        seed=0, world_size=1, versions=Versions(package="0.1.0", torch="2", python="3.11", git_commit=None),
        timing=Timing(started="2025-03-01T10:00:00+00:00", finished="2025-03-01T10:05:00+00:00", total_s=300.0),
        predictions="predictions.jsonl",
        selection_split=SelectionInfo(split=None, split_name=None, metric=None, best_epoch=None, best_value=None),
        data=DataInfo(root="synthetic", adapter="msrvtt_qa", split="test", synthetic=True),
        zero_shot=True,
    )
    fields.update(update)
    return Results(**fields)


def _write_raw(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "t" / "r" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_write_then_read_is_the_same_model(tmp_path: Path) -> None:
    results = make_results(warnings=["synthetic data"], n_samples=SampleCounts(total=24, evaluated=10, limit=10))
    path = write_results(tmp_path / "results.json", results)
    assert load_results(path) == results
    assert load_run(tmp_path).results == results  # a run directory works too
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION
    assert read_results(path)["n_samples"]["limit"] == 10


def test_nan_metric_is_stored_as_null_and_not_reported(tmp_path: Path) -> None:
    path = write_results(tmp_path / "results.json", make_results(metrics={"acc": float("nan"), "acc_in_vocab": 3.0}))
    assert json.loads(path.read_text())["metrics"] == {"acc": None, "acc_in_vocab": 3.0}
    assert load_run(path).metrics == {"acc_in_vocab": 3.0}


def test_free_form_blocks_become_plain_json(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    protocol = ProtocolInfo(frames=3, sampling="uniform", text_mode="single", scoring="dual", rolling="roll",
                            patch_permutation="off", extra={"k": np.int64(5), "v": np.arange(2), "x": math.inf})
    assert protocol.extra == {"k": 5, "v": [0, 1], "x": None}
    write_predictions(tmp_path / "p.jsonl", [{"id": 1, "score": np.float32(0.5), "nan": float("nan")}])
    assert json.loads((tmp_path / "p.jsonl").read_text()) == {"id": 1, "score": 0.5, "nan": None}


def test_version_1_files_migrate() -> None:
    current = make_results().model_dump(mode="json")
    v1 = {k: v for k, v in current.items() if k != "schema_version"}
    v1["n_samples"] = {k: v for k, v in v1["n_samples"].items() if k != "limit"}
    for old in (v1, {**v1, "schema_version": 1}):  # no version key = the first landing's format (version 1)
        migrated = migrate(old)
        assert migrated["schema_version"] == SCHEMA_VERSION and migrated["n_samples"]["limit"] is None
        assert Results.model_validate(migrated) == make_results()
    assert "schema_version" not in v1  # the input is not modified


def test_newer_or_bad_versions_are_refused(tmp_path: Path) -> None:
    data = make_results().model_dump(mode="json")
    with pytest.raises(BenchError, match=f"schema_version {SCHEMA_VERSION + 1} is newer"):
        load_results(_write_raw(tmp_path, {**data, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(BenchError, match="schema_version must be a positive integer"):
        load_results(_write_raw(tmp_path, {**data, "schema_version": "2"}))


def _broken(change: Any) -> dict[str, Any]:
    data = make_results().model_dump(mode="json")
    change(data)
    return data


@pytest.mark.parametrize(("data", "match"), [
    ("{not json", "invalid JSON at line 1"),
    ("[1, 2]", "top level must be an object"),
    (_broken(lambda d: d.pop("task")), "task: Field required"),
    (_broken(lambda d: d["metrics"].update(acc="high")), "metrics.acc: Input should be a valid number"),
    (_broken(lambda d: d.update(metrics={})), "metrics: Dictionary should have at least 1 item"),
    (_broken(lambda d: d["protocol"].pop("frames")), "protocol.frames: Field required"),
    (_broken(lambda d: d.update(seed=1.5)), "seed: Input should be a valid integer"),
    (_broken(lambda d: d["model"].update(paramz=3)), "model.paramz: Extra inputs are not permitted"),
    (_broken(lambda d: d["flops"].pop("unit")), "flops.unit: Field required"),
])
def test_malformed_files_name_the_file_and_the_dotted_key(tmp_path: Path, data: Any, match: str) -> None:
    path = _write_raw(tmp_path, data)
    with pytest.raises(BenchError, match=re.escape(match)) as err:
        load_results(path)
    assert str(path) in str(err.value) and len(str(err.value).splitlines()) == 1


@pytest.mark.parametrize(("value", "unit", "gmacs"), [
    (2.0e9, "MACs", 2.0), (2.0, "GMACs", 2.0), (4.0e9, "FLOPs", 2.0), (4.0, "GFLOPs", 2.0), (3.0, "TMACs", 3000.0),
    (1.0, "ops", None), (None, "MACs", None)])
def test_flops_units_convert_to_gmacs(value: float | None, unit: str, gmacs: float | None) -> None:
    flops = FlopsInfo(value=value, unit=unit, counter="c", input_shape={})
    assert flops.gmacs == (None if gmacs is None else pytest.approx(gmacs))


def test_assignment_is_validated() -> None:
    results = make_results()
    with pytest.raises(ValueError, match="seed"):
        results.seed = "zero"  # type: ignore[assignment]


V1_FILE = Path(__file__).parent / "data" / "results_v1_msrvtt_mc.json"


def test_a_file_written_by_the_first_landing_reads_and_fills_a_table(tmp_path: Path) -> None:
    """``results_v1_msrvtt_mc.json`` was written by the engine at commit 252fa06 (schema version 1), from
    ``run_task(RunOptions(task="msrvtt_mc", zero_shot=True, seed=0, run_id="v1-run"))`` on synthetic data."""
    from allinone_bench.report.leaderboard import get_leaderboard
    from allinone_bench.report.tables import build_table

    raw = json.loads(V1_FILE.read_text())
    assert raw["schema_version"] == 1 and "limit" not in raw["n_samples"]
    run_dir = tmp_path / "msrvtt_mc" / "v1-run"
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(V1_FILE.read_text())
    run = load_run(run_dir)
    assert run.results.schema_version == SCHEMA_VERSION and run.results.n_samples.limit is None
    assert run.metrics["mc_acc"] == pytest.approx(raw["metrics"]["mc_acc"])
    (row,) = build_table(get_leaderboard("3"), [run]).ours_rows
    assert row.values["msrvtt"] == pytest.approx(raw["metrics"]["mc_acc"])
    rewritten = write_results(tmp_path / "again.json", run.results)  # saved again as the current version
    assert load_results(rewritten) == run.results
