"""The README's Python API example runs as written, and the scripting interfaces (``run --json``,
``results --format json|csv``, ``run --log tensorboard``) give what they promise."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from allinone_bench.cli import app
from allinone_bench.engine.loggers import scalars
from allinone_bench.report.results import read_results

README = Path(__file__).resolve().parents[1] / "README.md"
QUICK = ["--set", "finetune.epochs=1", "--set", "finetune.max_steps=1"]


def readme_api_example() -> str:
    """The first ```python block of the README's "Scripting" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Scripting: JSON output, exit codes, Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "README: no python example in the Scripting section"
    return blocks[0]


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_thread: None) -> None:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(readme_api_example(), f"{README}:python-api", "exec"), {"__name__": "readme_example"})
    printed = out.getvalue()
    results_file = next(tmp_path.glob("runs/msrvtt_retrieval/*/results.json"))
    metrics = read_results(results_file)["metrics"]
    assert printed.splitlines()[0] == "retrieval msrvtt_ret"
    assert printed.splitlines()[1].startswith(str(metrics["t2v_R@1"]))
    assert "all tensors loaded: True" in printed


@pytest.mark.slow
def test_run_json_prints_the_results_object(tmp_path: Path, one_thread: None) -> None:
    result = CliRunner().invoke(app, ["run", "msrvtt_retrieval", "--output-dir", str(tmp_path / "runs"), "--json",
                                      *QUICK])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)  # nothing but the JSON object on stdout
    on_disk = read_results(next(tmp_path.glob("runs/msrvtt_retrieval/*/results.json")))
    assert printed == on_disk and printed["metrics"] == on_disk["metrics"]

    listed = CliRunner().invoke(app, ["results", "--runs", str(tmp_path / "runs"), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert len(rows) == 1 and rows[0]["metrics"] == {k: v for k, v in on_disk["metrics"].items() if v is not None}
    assert rows[0]["run_id"] == on_disk["run_id"] and rows[0]["synthetic"]

    table = CliRunner().invoke(app, ["results", "--runs", str(tmp_path / "runs"), "--format", "csv", "--grouped"])
    assert table.exit_code == 0, table.output
    (row,) = list(csv.DictReader(io.StringIO(table.stdout)))
    assert float(row["metrics.t2v_R@1.mean"]) == pytest.approx(on_disk["metrics"]["t2v_R@1"])
    assert row["run_ids"] == on_disk["run_id"] and row["metrics.t2v_R@1.n"] == "1"

    bad = CliRunner().invoke(app, ["results", "--runs", str(tmp_path / "runs"), "--format", "xml"])
    assert bad.exit_code != 0 and isinstance(bad.exception, Exception)


def test_scalars_follow_the_train_log_entry() -> None:
    entry = {"epoch": 2, "step": 8, "train_loss": 1.5, "lr": 1e-4, "time_s": 3.0, "data_wait_share": 0.25,
             "val": {"t2v_R@1": 12.5, "n_texts": 16}, "selection": 20.0, "note": "text", "flag": True,
             "nan_metric": float("nan")}
    assert scalars(entry) == {"train/loss": 1.5, "train/lr": 1e-4, "train/time_s": 3.0, "train/data_wait_share": 0.25,
                              "val/t2v_R@1": 12.5, "val/n_texts": 16.0, "val/selection": 20.0}


@pytest.mark.slow
def test_run_log_tensorboard_mirrors_train_log(tmp_path: Path, one_thread: None) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    two_epochs = ["--set", "finetune.epochs=2", "--set", "finetune.max_steps=4"]
    result = CliRunner().invoke(app, ["run", "msrvtt_retrieval", "--output-dir", str(tmp_path), "--log",
                                      "tensorboard", *two_epochs])
    assert result.exit_code == 0, result.output
    run_dir = next(tmp_path.glob("msrvtt_retrieval/*/"))
    entries = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert len(entries) == 2
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    assert {"train/loss", "train/lr", "val/selection"} <= set(events.Tags()["scalars"])
    expected: dict[str, list[tuple[int, float]]] = {}
    for entry in entries:  # the event file holds exactly what train_log.jsonl holds
        for tag, value in scalars(entry).items():
            expected.setdefault(tag, []).append((entry["step"], value))
    assert set(expected) == set(events.Tags()["scalars"])
    for tag, points in expected.items():
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        assert [s for s, _ in got] == [s for s, _ in points], tag
        assert [v for _, v in got] == pytest.approx([v for _, v in points], rel=1e-6), tag


def test_exit_codes_are_documented_in_help_and_readme() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Exit codes: 0 success; 1 a run, download or check failed; 2 bad input" in result.stdout
    run_help = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert "Exit code: 0 success, 1 the run failed, 2 bad input" in run_help.stdout
    readme = README.read_text(encoding="utf-8")
    assert all(row in readme for row in ("| 0 | success |", "| 1 | a run, download or check failed", "| 2 | bad input"))
