"""Studies: a 2x2 grid with 2 seeds on tiny synthetic runs, resume after a run is removed, the summary against a
hand computation from the runs' results.json, the table command on study outputs, and ``run --seeds``."""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

import pandas as pd
import pytest

from allinone_bench import cli
from allinone_bench.errors import ConfigError
from allinone_bench.study import StudySpec, load_study, parse_grid, plan_runs, run_study, write_summary

# Zero-shot caption choice with a random-init tiny model: seconds per run; seeds change the init, so they differ.
TASK = "ego4d_mc"
FIXED = {"synthetic.num_videos": 8}


def _spec(tmp_path: Path) -> StudySpec:
    return StudySpec(task=TASK, grid={"protocol.rolling": ["roll", "none"], "protocol.video.num_frames": [2, 3]},
                     seeds=[0, 1], set=FIXED, zero_shot=True, output_dir=tmp_path / "study",
                     report=["timing.total_s", "flops.attention_gmacs"])


def test_plan_is_the_cross_product_with_stable_run_ids(tmp_path: Path) -> None:
    plan = plan_runs(_spec(tmp_path))
    assert len(plan) == 8 and [r.index for r in plan] == list(range(8))
    assert plan[0].cell == (("protocol.rolling", "roll"), ("protocol.video.num_frames", 2)) and plan[0].seed == 0
    assert plan[0].run_id == "rolling-roll_num_frames-2_seed0" and len({r.run_id for r in plan}) == 8
    cmd = plan[3].command(_spec(tmp_path))
    assert cmd.startswith(f"allinone-bench run {TASK} --output-dir ") and "--zero-shot" in cmd
    assert "--set protocol.video.num_frames=3" in cmd and "--seed 1" in cmd and "--set synthetic.num_videos=8" in cmd


def test_grid_and_study_file_errors_name_the_problem(tmp_path: Path) -> None:
    assert parse_grid(["finetune.lr=1e-3,3e-4", "protocol.rolling=roll"]) == {
        "finetune.lr": [1e-3, 3e-4], "protocol.rolling": ["roll"]}
    with pytest.raises(ConfigError, match="key=v1,v2"):
        parse_grid(["protocol.rolling"])
    bad = tmp_path / "s.yaml"
    bad.write_text("task: tgif_action\ngrid: {protocol.rolling: []}\n")
    with pytest.raises(ConfigError, match=r"s.yaml: study field grid: .*no values"):
        load_study(bad)
    bad.write_text("task: tgif_action\nseedz: [1]\n")
    with pytest.raises(ConfigError, match="seedz"):
        load_study(bad)


def test_study_runs_resumes_and_summarises(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    first = run_study(spec, log=lambda m: None)
    assert len(first.ran) == 8 and not first.skipped and not first.failed
    victim = plan_runs(spec)[5]
    shutil.rmtree(victim.results_path(spec).parent)
    second = run_study(spec, log=lambda m: None)
    assert [r.run_id for r in second.ran] == [victim.run_id] and len(second.skipped) == 7

    csv_path, md_path, md = write_summary(spec)
    summary = pd.read_csv(csv_path)
    assert len(summary) == 4 and (summary["seeds"] == 2).all()
    for run_cell in {r.cell for r in plan_runs(spec)}:
        results = [json.loads(r.results_path(spec).read_text()) for r in plan_runs(spec) if r.cell == run_cell]
        accs = [res["metrics"]["mc_acc"] for res in results]
        times = [res["timing"]["total_s"] for res in results]
        (row,) = summary[(summary["protocol.rolling"] == run_cell[0][1])
                         & (summary["protocol.video.num_frames"] == run_cell[1][1])].to_dict("records")
        assert row["mc_acc_mean"] == pytest.approx(statistics.mean(accs))
        assert row["mc_acc_std"] == pytest.approx(statistics.stdev(accs))
        assert row["timing.total_s_mean"] == pytest.approx(statistics.mean(times))
        assert row["flops.attention_gmacs_mean"] > 0
    assert "mc_acc" in md and "±" in md and md_path.is_file()


def test_table_and_run_seeds_read_study_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "runs"
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", TASK, "--zero-shot", "--seeds", "0,1", "--output-dir", str(out),
                  "--set", "synthetic.num_videos=8"])
    assert exc.value.code in (0, None)
    summary = pd.read_csv(out / TASK / "summary.csv")
    accs = [json.loads((out / TASK / f"seed{s}" / "results.json").read_text())["metrics"]["mc_acc"] for s in (0, 1)]
    assert summary["seeds"].tolist() == [2] and summary["mc_acc_mean"][0] == pytest.approx(statistics.mean(accs))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.main(["table", "4", "--runs", str(out)])
    assert exc.value.code in (0, None)
    text = capsys.readouterr().out
    assert "mean ± std over 2 seeds" in text
