"""Results store, table regeneration with our runs, renderers, Fig. 1c and the report CLI commands.

The runs are hand-written results.json files that follow DESIGN.md's results contract (not produced by the
engine), so these tests pin the reader to the contract rather than to one writer.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from allinone_bench.cli import report_cmds
from allinone_bench.errors import BenchError, ConfigError
from allinone_bench.report.leaderboard import all_leaderboards, get_leaderboard
from allinone_bench.report.plot import plot_flops_accuracy
from allinone_bench.report.store import FlopsInfo, group_by_seed, load_run, load_runs
from allinone_bench.report.tables import build_table, latex_escape, render

PARAMS = 5_612_345


def write_run(root: Path, task: str, metrics: dict[str, float], *, seed: int = 0, run_id: str | None = None,
              protocol: dict[str, Any] | None = None, flops: dict[str, Any] | None = None,
              params: int = PARAMS, **extra: Any) -> Path:
    """One results.json with every DESIGN.md field, at OUTPUT/TASK/RUN_ID/results.json."""
    run_dir = root / task / (run_id or f"run-s{seed}")
    run_dir.mkdir(parents=True)
    data = {
        "task": task,
        "task_version": 1,
        "metrics": metrics,
        "n_samples": {"total": 24, "evaluated": 24, "skipped": 0},
        "protocol": protocol or {"video": {"num_frames": 3, "sampling": "uniform"}, "text": {"mode": "single"},
                                 "rolling": "roll", "patch_permutation": "off", "permutation_seed": seed},
        "model": {"variant": "ti", "checkpoint": None, "sha256": None, "params": params},
        "flops": flops if flops is not None else {"value": 12_345_678, "unit": "MACs",
                                                  "counter": "torch.utils.flop_counter",
                                                  "input_shape": {"video": [1, 3, 3, 32, 32], "text": [1, 40]}},
        "seed": seed,
        "world_size": 1,
        "versions": {"package": "0.1.0", "torch": "2.14.1", "git_commit": "abc123"},
        "timing": {"started_at": "2025-03-01T10:00:00+00:00", "finished_at": "2025-03-01T10:05:00+00:00",
                   "eval_seconds": 12.5},
        "predictions": "predictions.jsonl",
        "zero_shot": False,
        "data": {"root": "synthetic", "adapter": task, "split": "test", "synthetic": True,
                 "synthetic_spec": {"num_videos": 24, "seed": seed}},
    }
    data.update(extra)
    path = run_dir / "results.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


RETRIEVAL_OLD = {"t2v_R@1": 12.5, "t2v_R@5": 40.0, "t2v_R@10": 60.0, "t2v_MdR": 8.0, "v2t_R@1": 11.0}
RETRIEVAL_NEW = {"t2v_r1": 10.0, "t2v_r5": 30.0, "t2v_r10": 45.5, "t2v_medr": 12.0, "v2t_r1": 9.0}
SYNTHETIC_METRICS: dict[str, dict[str, float]] = {
    "didemo_retrieval": RETRIEVAL_NEW,
    "activitynet_retrieval": RETRIEVAL_OLD,
    "msrvtt_qa": {"acc": 21.25, "acc_in_vocab": 25.0},
    "msvd_qa": {"acc": 30.0, "acc_in_vocab": 31.0},
    "tgif_frameqa": {"acc": 41.0, "acc_in_vocab": 44.0},
    "tgif_action": {"acc": 55.0},
    "tgif_transition": {"acc": 60.0},
    "msrvtt_mc": {"acc": 70.0},
    "lsmdc_mc": {"mc_acc": 35.0},
    "youcook2_caption": {"bleu4": 1.5, "meteor": 4.25, "rouge_l": 9.0, "cider": 12.0},
    "tvc_caption": {"BLEU-4": 0.5, "METEOR": 2.0, "ROUGE-L": 5.0, "CIDEr": 3.0},
    "k400_probe": {"top1": 20.0, "top5": 50.0},
    "hmdb51_probe": {"top1": 25.0, "top5": 55.0},
    "ucf101_probe": {"top1": 30.0, "top5": 60.0},
    "tvqa_mc": {"mc_acc": 40.0},
    "ego4d_mc": {"mc_acc": 22.0},
    "ego4d_mc_finetune": {"mc_acc": 45.0},
}


@pytest.fixture()
def runs_dir(tmp_path: Path) -> Path:
    """One synthetic run for every task, and two seeds of msrvtt_retrieval."""
    root = tmp_path / "runs"
    for task, metrics in SYNTHETIC_METRICS.items():
        write_run(root, task, metrics, params=PARAMS + (1000 if task == "tgif_frameqa" else 0))
    write_run(root, "msrvtt_retrieval", RETRIEVAL_OLD, seed=0)
    write_run(root, "msrvtt_retrieval", {**RETRIEVAL_OLD, "t2v_R@1": 16.5}, seed=1)
    return root


# ------------------------------------------------------------------------------------------------ store


def test_load_run_reads_the_contract_fields(tmp_path: Path) -> None:
    path = write_run(tmp_path, "msrvtt_qa", {"acc": 21.25, "acc_in_vocab": 25.0}, seed=3, task_hash="f00d")
    run = load_run(path)
    assert (run.task, run.task_version, run.run_id, run.seed, run.world_size) == ("msrvtt_qa", "1", "run-s3", 3, 1)
    assert run.metrics == {"acc": 21.25, "acc_in_vocab": 25.0}
    assert (run.n_samples.total, run.n_samples.evaluated, run.n_samples.skipped) == (24, 24, 0)
    assert run.model.variant == "ti" and run.model.params == PARAMS and run.model.label == "All-in-one-Ti"
    assert run.frames == 3 and run.lookup("protocol.rolling") == "roll"
    assert run.flops is not None and run.flops.gmacs == pytest.approx(0.012345678)
    assert run.predictions == "predictions.jsonl" and run.versions["git_commit"] == "abc123"
    assert run.date is not None and (run.date.year, run.date.hour, run.date.minute) == (2025, 10, 5)
    assert run.extra["task_hash"] == "f00d"  # keys beyond DESIGN.md's list are kept, not rejected
    assert run.synthetic and not run.zero_shot and run.lookup("data.adapter") == "msrvtt_qa"
    assert load_run(path.parent) == run  # a run directory works too


@pytest.mark.parametrize(("value", "unit", "gmacs"), [
    (2.0e9, "MACs", 2.0), (2.0, "GMACs", 2.0), (4.0e9, "FLOPs", 2.0), (4.0, "GFLOPs", 2.0), (3.0, "TMACs", 3000.0)])
def test_flops_units_convert_to_gmacs(value: float, unit: str, gmacs: float) -> None:
    assert FlopsInfo(value, unit).gmacs == pytest.approx(gmacs)


def test_unknown_flops_unit_is_not_guessed() -> None:
    assert FlopsInfo(1.0, "ops").gmacs is None


@pytest.mark.parametrize(("content", "match"), [
    ("{not json", "invalid JSON at line 1"),
    ("[1, 2]", "top level must be an object"),
    ('{"metrics": {"acc": 1}}', "missing string key 'task'"),
    ('{"task": "x"}', "missing object 'metrics'"),
    ('{"task": "x", "metrics": {"acc": "high"}}', "metric 'acc' must be a number"),
    ('{"task": "x", "metrics": {}, "seed": 1.5}', "'seed' must be an integer"),
    ('{"task": "x", "metrics": {}, "flops": {"value": 3}}', "'flops' needs"),
])
def test_malformed_results_name_the_file(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "t" / "r" / "results.json"
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BenchError, match=re.escape(match)) as err:
        load_runs(tmp_path)
    assert str(path) in str(err.value)


def test_missing_runs_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="runs directory does not exist"):
        load_runs(tmp_path / "nope")


def test_group_by_seed_pools_only_seeds(tmp_path: Path) -> None:
    for seed, r1 in ((0, 10.0), (1, 12.0), (2, 14.0)):
        write_run(tmp_path, "msrvtt_retrieval", {"t2v_r1": r1}, seed=seed)
    other = {"video": {"num_frames": 8, "sampling": "uniform"}, "rolling": "roll", "patch_permutation": "off"}
    write_run(tmp_path, "msrvtt_retrieval", {"t2v_r1": 30.0}, seed=0, run_id="eight-frames", protocol=other)
    groups = group_by_seed(load_runs(tmp_path))
    assert sorted(len(g.runs) for g in groups) == [1, 3]
    pooled = next(g for g in groups if len(g.runs) == 3)
    stat = pooled.stat("t2v_r1")
    assert stat is not None and (stat.mean, stat.std, stat.n) == (12.0, pytest.approx(2.0), 3)
    assert pooled.seeds == (0, 1, 2) and pooled.seed_label == "3 seeds"
    assert pooled.stat("missing") is None


# ------------------------------------------------------------------------------------------------ tables


@pytest.mark.parametrize("table_id", list(all_leaderboards()))
def test_every_table_regenerates_with_our_rows(runs_dir: Path, table_id: str) -> None:
    board = get_leaderboard(table_id)
    view = build_table(board, load_runs(runs_dir))
    assert len(view.rows) == len(board.rows) + len(view.ours_rows)
    assert [r.ours for r in view.rows] == [False] * len(board.rows) + [True] * len(view.ours_rows)
    assert view.ours_rows, f"Table {table_id}: no row of ours"
    for row in view.ours_rows:
        assert row.cells[0].startswith("Ours: All-in-one-Ti [random init]")
        assert row.source.startswith("ours: ") and all(r.run_id in row.source for r in row.runs)
        assert len(row.cells) == len(board.columns)
        assert any(v is not None for v in row.values.values()) or board.tasks == ("*",)


def _ours(table_id: str, runs_dir: Path) -> dict[str, str]:
    view = build_table(get_leaderboard(table_id), load_runs(runs_dir))
    assert len(view.ours_rows) == 1
    return dict(zip(view.headers, view.ours_rows[0].cells + [view.ours_rows[0].source]))


def test_retrieval_row_values(runs_dir: Path) -> None:
    row = _ours("5a", runs_dir)
    assert row["Method"].endswith("mean ± std over 2 seeds (0,1)")
    assert row["9K Train R@1"] == "14.5 ± 2.8"  # mean/sample std of 12.5 and 16.5
    assert row["9K Train R@10"] == "60.0 ± 0.0"
    assert row["7K Train R@1"] == "-"
    assert (row["Frames"], row["Params"], row["Flops"], row["Nets"]) == ("3", "5.6M", "0.0123G", "CE")
    row = _ours("5c", runs_dir)  # brief metric names (t2v_r1 ...) resolve like the metrics-package ones
    assert (row["R1"], row["R5"], row["R10"], row["MdR"]) == ("10.0", "30.0", "45.5", "12.0")
    assert _ours("5b", runs_dir)["MdR"] == "8.0"


def test_run_protocol_selects_the_7k_columns(tmp_path: Path) -> None:
    protocol = {"video": {"num_frames": 3}, "extra": {"train_split": "7k"}}
    write_run(tmp_path, "msrvtt_retrieval", RETRIEVAL_OLD, protocol=protocol)
    row = _ours("5a", tmp_path)
    assert row["7K Train R@1"] == "12.5" and row["9K Train R@1"] == "-"


def test_rows_of_one_setup_merge_across_tasks(runs_dir: Path) -> None:
    row = _ours("2a", runs_dir)
    assert (row["Action"], row["Transition"], row["FrameQA"]) == ("55.0", "60.0", "41.0")
    assert row["Params"] == "5.6M"  # 5,612,345 and 5,613,345 both round to 5.6M
    assert {s.strip() for s in row["Source"].removeprefix("ours: ").split(",")} == {
        "tgif_action/run-s0", "tgif_transition/run-s0", "tgif_frameqa/run-s0"}
    row = _ours("3", runs_dir)
    assert (row["MSRVTT"], row["LSMDC"]) == ("70.0", "35.0")  # 'acc' and 'mc_acc'
    row = _ours("7", runs_dir)
    assert (row["TVC B4"], row["TVC C"], row["YouCook2 M"], row["YouCook2 C"]) == ("0.5", "3.0", "4.2", "12.0")
    row = _ours("6", runs_dir)
    assert (row["K400 Top-1"], row["HMDB51 Top-5"], row["UCF101 Top-10"]) == ("20.0", "55.0", "-")
    row = _ours("1", runs_dir)  # Table 1: one row per model, every run counted
    assert row["#Params"] == "5.6M" and row["Source"].count("/") == len(SYNTHETIC_METRICS) + 2


def test_protocol_differences_split_rows_and_label_them(tmp_path: Path) -> None:
    for rolling, r1 in (("roll", 20.0), ("none", 15.0)):
        protocol = {"video": {"num_frames": 3}, "rolling": rolling, "patch_permutation": "off"}
        write_run(tmp_path, "msrvtt_retrieval", {"t2v_r1": r1}, run_id=f"roll-{rolling}", protocol=protocol)
    view = build_table(get_leaderboard("5a"), load_runs(tmp_path))
    labels = {r.cells[0]: r.values["r1_9k"] for r in view.ours_rows}
    assert len(labels) == 2
    assert labels == {"Ours: All-in-one-Ti [random init] (synthetic data) (rolling=roll), seed 0": 20.0,
                      "Ours: All-in-one-Ti [random init] (synthetic data) (rolling=none), seed 0": 15.0}


def test_pretraining_data_comes_from_the_checkpoint_registry(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    registry = tmp_path / "checkpoints.yaml"
    registry.write_text("checkpoints:\n  - {name: my-ckpt, variant: ti, pretraining_data: [WebVid, HowTo100M]}\n")
    monkeypatch.setenv("ALLINONE_BENCH_CHECKPOINTS_FILE", str(registry))
    write_run(tmp_path / "runs", "msrvtt_retrieval", RETRIEVAL_OLD, model={"variant": "ti", "checkpoint": "my-ckpt",
                                                                          "sha256": None, "params": PARAMS})
    row = _ours("5a", tmp_path / "runs")
    assert row["PT Data"] == "WebVid + HowTo100M" and "[my-ckpt]" in row["Method"]


def test_zero_shot_and_synthetic_runs_are_labelled_and_kept_apart(tmp_path: Path) -> None:
    write_run(tmp_path, "msrvtt_mc", {"acc": 50.0}, zero_shot=True)
    write_run(tmp_path, "msrvtt_mc", {"acc": 60.0}, seed=1)
    write_run(tmp_path, "lsmdc_mc", {"acc": 40.0}, zero_shot=True)
    view = build_table(get_leaderboard("3"), load_runs(tmp_path))
    rows = {r.cells[0]: (r.values["msrvtt"], r.values.get("lsmdc")) for r in view.ours_rows}
    assert rows == {
        "Ours: All-in-one-Ti [random init] (zero-shot) (synthetic data), seed 0": (50.0, 40.0),
        "Ours: All-in-one-Ti [random init] (synthetic data), seed 1": (60.0, None),
    }
    assert len(group_by_seed(load_runs(tmp_path, task="msrvtt_mc"))) == 2  # zero-shot never pools with finetuned


def test_reads_what_the_engine_writes(tmp_path: Path) -> None:
    """The engine's writer (report/results.py) and this reader agree on the contract."""
    from allinone_bench.report import results as writer

    results = writer.Results(
        task="msrvtt_retrieval", task_version=1, kind="retrieval", run_id="20250301-100000-abcd",
        metrics={"t2v_R@1": 12.5, "t2v_R@5": 40.0, "t2v_R@10": 60.0, "t2v_MdR": 8.0},
        n_samples=writer.SampleCounts(total=24, evaluated=24),
        protocol=writer.ProtocolInfo(frames=3, sampling="uniform", text_mode="single", scoring="dual",
                                     rolling="roll", patch_permutation="off", extra={"views": 1}),
        model=writer.ModelInfo(variant="ti", checkpoint=None, sha256=None, params=PARAMS),
        flops=writer.FlopsInfo(value=12_345_678, unit="MACs", counter="torch.utils.flop_counter",
                               input_shape={"video": [1, 3, 3, 32, 32], "text": [1, 40]}, mode="joint"),
        seed=0, world_size=1, versions=writer.Versions("0.1.0", "2.14.1", "3.11", None),
        timing=writer.Timing(started="2025-03-01T10:00:00+00:00", finished="2025-03-01T10:05:00+00:00",
                             total_s=300.0),
        predictions="predictions.jsonl",
        selection_split=writer.SelectionInfo(split=None, split_name=None, metric=None, best_epoch=None,
                                             best_value=None),
        data=writer.DataInfo(root="synthetic", adapter="msrvtt_ret", split="test", synthetic=True),
        zero_shot=True,
    )
    path = tmp_path / "msrvtt_retrieval" / "somewhere" / "results.json"
    writer.write_results(path, results)
    run = load_run(path)
    assert (run.run_id, run.task, run.frames, run.zero_shot, run.synthetic) == (
        "20250301-100000-abcd", "msrvtt_retrieval", 3, True, True)
    assert run.flops is not None and run.flops.mode == "joint" and run.flops.gmacs == pytest.approx(0.012345678)
    assert run.date is not None and run.date.minute == 5
    row = _ours("5a", tmp_path)
    assert row["9K Train R@1"] == "12.5" and "(zero-shot) (synthetic data)" in row["Method"]


def test_null_flops_value_falls_back_to_macs_or_none(tmp_path: Path) -> None:
    write_run(tmp_path, "a", {"acc": 1.0}, flops={"value": None, "unit": "MACs", "counter": "c", "input_shape": {},
                                                  "macs": 2_000_000_000})
    write_run(tmp_path, "b", {"acc": 1.0}, flops={"value": None, "unit": "MACs", "counter": "c", "input_shape": {}})
    a, b = load_runs(tmp_path)
    assert a.flops is not None and a.flops.gmacs == pytest.approx(2.0)
    assert b.flops is None


# ------------------------------------------------------------------------------------------------ renderers


def _split_md_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())
    assert cells[0] == "" and cells[-1] == ""
    return cells[1:-1]


@pytest.mark.parametrize("table_id", list(all_leaderboards()))
def test_markdown_is_a_table(runs_dir: Path, table_id: str) -> None:
    view = build_table(get_leaderboard(table_id), load_runs(runs_dir))
    text = render(view, "md")
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len(lines) == 2 + len(view.rows)
    widths = {len(_split_md_row(line)) for line in lines}
    assert widths == {len(view.headers)}
    assert all(re.fullmatch(r":?-{3,}:?", c) for c in _split_md_row(lines[1]))
    assert [c.strip() for c in _split_md_row(lines[0])][0] == view.headers[0]


def _strip_escapes(text: str) -> str:
    return re.sub(r"\\[{}%&_#$]", "", text)


@pytest.mark.parametrize("table_id", list(all_leaderboards()))
def test_latex_is_balanced_and_escaped(runs_dir: Path, table_id: str) -> None:
    view = build_table(get_leaderboard(table_id), load_runs(runs_dir))
    text = render(view, "latex")
    assert text.isascii()
    bare = _strip_escapes(text)
    depth = 0
    for ch in bare:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert bare.count("$") % 2 == 0
    assert not re.search(r"(?<!\\)[%#_]", re.sub(r"\\(label|caption)\{[^}]*\}", "", bare))
    for env in ("table", "tabular"):
        assert text.count(f"\\begin{{{env}}}") == text.count(f"\\end{{{env}}}") == 1
    body = text.split("\\hline", 1)[1].split("\\end{tabular}")[0]
    for line in (ln for ln in body.splitlines() if ln.endswith("\\\\")):
        if "\\multicolumn" not in line:
            assert len(re.findall(r"(?<!\\)&", line)) == len(view.headers) - 1, line
    assert "Ours:" in text or not view.ours_rows


def test_latex_escape_specials() -> None:
    assert latex_escape("a_b 50% R&D #1 {x} ~ ^") == r"a\_b 50\% R\&D \#1 \{x\} \textasciitilde{} \textasciicircum{}"
    assert latex_escape("8×2 ± 0.3 (7.3↑) †") == r"8$\times$2 $\pm$ 0.3 (7.3$\uparrow$) $\dagger$"


@pytest.mark.parametrize("table_id", list(all_leaderboards()))
def test_csv_round_trips_through_pandas(runs_dir: Path, table_id: str) -> None:
    view = build_table(get_leaderboard(table_id), load_runs(runs_dir))
    back = pd.read_csv(io.StringIO(render(view, "csv")), dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, view.to_dataframe())
    assert list(back.columns) == view.headers


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(ConfigError, match="md, latex, csv"):
        render(build_table(get_leaderboard("1")), "html")


# ------------------------------------------------------------------------------------------------ plot


def test_flops_accuracy_plot_has_published_and_our_points(runs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "fig" / "fig1c.png"
    result = plot_flops_accuracy("msrvtt_retrieval", load_runs(runs_dir), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    published = {p.label: p for p in result.published}
    assert len(published) == 10  # every Table 5a row prints FLOPs
    assert (published["All-in-one-B+ (+ HowTo100M)"].gmacs, published["All-in-one-B+ (+ HowTo100M)"].score) \
        == (58.7, 41.8)
    assert (published["MILES"].gmacs, published["MILES"].score) == (771.0, 37.7)
    clip = published["ClipBERT [7K Train]"]  # no 9K number: its 7K R@1 is plotted, and the label says so
    assert (clip.score, clip.column) == (22.0, "7K Train R@1")
    (ours,) = result.ours
    assert ours.gmacs == pytest.approx(0.012345678) and ours.score == pytest.approx(14.5)
    assert ours.std == pytest.approx(2.828, abs=1e-3) and "2 seeds" in ours.label
    assert result.skipped == []


def test_plot_explains_runs_it_cannot_place(tmp_path: Path) -> None:
    write_run(tmp_path / "runs", "msrvtt_retrieval", RETRIEVAL_OLD, flops={})  # empty block: no FLOPs
    path = next((tmp_path / "runs").rglob("results.json"))
    data = json.loads(path.read_text())
    del data["flops"]
    path.write_text(json.dumps(data))
    result = plot_flops_accuracy("msrvtt_retrieval", load_runs(tmp_path / "runs"), tmp_path / "f.png")
    assert result.ours == [] and len(result.published) == 10
    assert "no 'flops' block" in result.skipped[0]


def test_plot_refuses_a_task_without_published_flops(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="msrvtt_retrieval"):
        plot_flops_accuracy("msvd_qa", [], tmp_path / "f.png")


# ------------------------------------------------------------------------------------------------ CLI


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    report_cmds.register(app)
    return app


def test_cli_table_formats(app: typer.Typer, runs_dir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["table", "5a", "--runs", str(runs_dir)])
    assert result.exit_code == 0, result.output
    assert "| All-in-one-B | CE | HowTo100M | 110M | 58.7G | 3 | 29.5 |" in result.output
    assert "Ours: All-in-one-Ti" in result.output
    result = runner.invoke(app, ["table", "Table 2b", "--runs", str(runs_dir), "--format", "csv"])
    assert result.exit_code == 0
    frame = pd.read_csv(io.StringIO(result.output), dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["Method", "Frames", "Accuracy", "Source"] and frame.iloc[-1]["Accuracy"] == "21.2"
    result = runner.invoke(app, ["table", "7", "--runs", str(runs_dir), "-f", "latex"])
    assert result.exit_code == 0 and "\\begin{tabular}" in result.output
    result = runner.invoke(app, ["table"])
    assert result.exit_code == 0 and "5c" in result.output


def test_cli_unknown_table_lists_valid_ids(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["table", "9z"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert "valid tables: 1, 2a, 2b, 2c, 2d, 3, 4, 5a, 5b, 5c, 6, 7" in str(result.exception)
    result = CliRunner().invoke(app, ["table", "5a", "--format", "html"])
    assert result.exit_code != 0 and isinstance(result.exception, ConfigError)


def test_cli_main_turns_errors_into_one_line(app: typer.Typer, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from allinone_bench import cli

    monkeypatch.setattr(cli, "app", app)
    with pytest.raises(SystemExit) as exc:
        cli.main(["table", "9z"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "unknown table '9z'" in err and "5a" in err and len(err.splitlines()) == 1


def test_cli_plot_and_results(app: typer.Typer, runs_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "fig.png"
    result = runner.invoke(app, ["plot", "flops-accuracy", "--task", "msrvtt_retrieval", "--runs", str(runs_dir),
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "10 published points" in result.output and "1 of ours" in result.output
    result = runner.invoke(app, ["results", "--runs", str(runs_dir)], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    for task in SYNTHETIC_METRICS:
        assert task in result.output
    assert "2025-03-01" in result.output and "All-in-one-Ti" in result.output
    result = runner.invoke(app, ["results", "--runs", str(runs_dir), "--task", "msrvtt_retrieval", "--grouped"],
                           env={"COLUMNS": "240"})
    assert result.exit_code == 0 and "14.50±2.83" in result.output.replace(" ", "")
