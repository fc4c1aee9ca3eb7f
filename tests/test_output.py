"""Clean output: no library warning on a synthetic run, counts as integers, metrics with units, the paper's
model names, and warnings the user must act on printed once and recorded in results.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from allinone_bench.cli import run_cmds
from allinone_bench.engine import evaluator
from allinone_bench.engine.notices import LIBRARY_PREFIX, Notices
from allinone_bench.engine.runner import RANDOM_INIT_WARNING, SYNTHETIC_NOTE
from allinone_bench.report.display import format_metric, metric_unit, metric_with_unit, paper_model_name

REPO = Path(__file__).resolve().parents[1]


def test_paper_model_names() -> None:
    assert [paper_model_name(v) for v in ("ti", "s", "b", "TI")] == [
        "All-in-one-Ti", "All-in-one-S", "All-in-one-B", "All-in-one-Ti"]
    assert paper_model_name("b", "all-in-one-baseplus") == "All-in-one-B+"
    assert paper_model_name("b", "/ckpt/all-in-one-baseplus-8sets.ckpt") == "All-in-one-B+"
    assert paper_model_name("b", "all-in-one-base") == "All-in-one-B"


def test_counts_are_integers_and_metrics_carry_units() -> None:
    assert format_metric("n_texts", 1037.0) == "1037" and metric_unit("n_texts") == "count"
    assert format_metric("n", 48.0) == "48" and format_metric("n_correct", 12.5) == "12.50"
    assert [metric_unit(m) for m in ("t2v_R@1", "v2t_MdR", "acc", "mc_acc", "top5", "cider", "probe_top1")] == [
        "%", "rank", "%", "%", "%", "x100", "%"]
    assert metric_with_unit("acc", 29.1667) == "29.17%" and metric_with_unit("t2v_MnR", 4.0) == "4.00 rank"
    assert metric_with_unit("n", 48.0) == "48" and format_metric("acc", float("nan")) == "n/a"
    assert format_metric("probe_C", 0.001) == "0.001" and metric_unit("probe_C") == ""


def test_notices_print_once_and_route_library_warnings() -> None:
    console = Console(file=__import__("io").StringIO(), width=80)
    notices = Notices(console)
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # every occurrence reaches the hook: repeats are dropped there
        warnings.filterwarnings("ignore", category=ResourceWarning)
        with notices.capture():
            for _ in range(3):
                notices.note("act on this")
                warnings.warn("a library complaint", UserWarning, stacklevel=1)
            warnings.warn("filtered out", ResourceWarning, stacklevel=1)  # the active filters still apply
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert text.count("act on this") == 1 and text.count("a library complaint") == 1
    assert "filtered out" not in text
    assert notices.messages[0] == "act on this"
    assert notices.messages[1].startswith(LIBRARY_PREFIX) and "UserWarning" in notices.messages[1]


@pytest.mark.slow
def test_a_library_warning_in_a_run_prints_once_and_is_recorded(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A warning raised on every evaluation batch reaches the user once and lands in results.json."""
    real = evaluator.to_device

    def noisy(batch: object, device: object) -> object:
        warnings.warn("stand-in for a library warning", UserWarning, stacklevel=1)
        return real(batch, device)

    monkeypatch.setattr(evaluator, "to_device", noisy)
    app = typer.Typer()
    run_cmds.register(app)
    result = CliRunner().invoke(app, ["run", "msrvtt_retrieval", "--zero-shot", "--quiet", "--output-dir",
                                      str(tmp_path), "--run-id", "w", "--set", "eval.batch_size=4"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("stand-in for a library warning") == 1
    data = json.loads((tmp_path / "msrvtt_retrieval" / "w" / "results.json").read_text())
    assert sum("stand-in for a library warning" in w for w in data["warnings"]) == 1


@pytest.mark.slow
def test_synthetic_run_prints_no_library_warning(tmp_path: Path) -> None:
    """A default-style synthetic run (finetune, validation, test) as a fresh process with Python's default
    warning filters, as a user runs it: no UserWarning (or any other Warning) is printed, and results.json
    holds only the two notes a synthetic random-init run must carry."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env.update(PYTHONPATH=str(REPO), COLUMNS="200")
    cmd = [sys.executable, "-m", "allinone_bench.cli", "run", "msrvtt_retrieval", "--output-dir", str(tmp_path),
           "--run-id", "clean", "--set", "finetune.epochs=2", "--set", "finetune.eval_every=1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Warning" not in output, output
    data = json.loads((tmp_path / "msrvtt_retrieval" / "clean" / "results.json").read_text())
    assert sorted(data["warnings"]) == sorted([SYNTHETIC_NOTE, RANDOM_INIT_WARNING]), data["warnings"]
    assert output.count(SYNTHETIC_NOTE.split(";")[0]) == 1  # printed once
    # the table: the paper's model name, counts as integers, units
    assert "All-in-one-Ti (depth 2, patch 8)" in proc.stdout
    row = next(line for line in proc.stdout.splitlines() if "n_texts" in line)
    assert "16" in row and "16.00" not in row and "count" in row
    assert any("t2v_R@1" in line and "%" in line for line in proc.stdout.splitlines())
