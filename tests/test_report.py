"""Results store, table regeneration with our runs, renderers, Fig. 1c and the report CLI commands.

Every run here comes from the engine: one real zero-shot ``msrvtt_retrieval`` run on synthetic data (FLOPs
counted) is written by ``run_task``, and the other runs the tables need are that same file with a few fields
changed through the results model (task, metrics, seed ...), so the reader is pinned to what the writer
writes, never to a hand-written schema.
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
from allinone_bench.engine import RunOptions, RunResult, run_task
from allinone_bench.errors import CheckpointError, ConfigError
from allinone_bench.report.leaderboard import all_leaderboards, get_leaderboard
from allinone_bench.report.plot import plot_flops_accuracy
from allinone_bench.report.results import load_results, write_results
from allinone_bench.report.schema import Results
from allinone_bench.report.store import RunRecord, group_by_seed, load_run, load_runs
from allinone_bench.report.tables import build_table, latex_escape, render
from allinone_bench.tasks.registry import describe_tasks


@pytest.fixture(scope="module")
def engine_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One real run: msrvtt_retrieval, zero-shot, synthetic data, random Ti weights, FLOPs counted."""
    root = tmp_path_factory.mktemp("engine")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALLINONE_BENCH_CACHE", str(root / "cache"))
        return run_task(RunOptions(task="msrvtt_retrieval", zero_shot=True, output_dir=root / "runs", seed=0))


def derive(engine: RunResult, root: Path, *, task: str | None = None, run_id: str | None = None,
           metrics: dict[str, float] | None = None, **update: Any) -> Path:
    """The engine's results with some fields changed (validated again), written to ROOT/TASK/RUN_ID/."""
    base = load_results(engine.results_path)
    data = base.model_dump()
    for key, value in update.items():  # dotted keys change one field of a block
        head, _, rest = key.partition("__")
        if rest:
            data[head] = {**data[head], rest: value}
        else:
            data[key] = value
    task = task or base.task
    metrics = metrics if metrics is not None else base.metrics
    run_id = run_id or f"{task}-s{data['seed']}"
    data.update(task=task, run_id=run_id, metrics=metrics)
    return write_results(root / task / run_id / "results.json", Results.model_validate(data))


def task_metrics(task: str, value: float) -> dict[str, float]:
    """Every metric the task's YAML lists, set to ``value`` (names exactly as runs write them)."""
    info = next(i for i in describe_tasks() if i.name == task)
    return {name: value for name in info.metrics}


TABLE_TASKS = ("didemo_retrieval", "activitynet_retrieval", "msrvtt_qa", "msvd_qa", "tgif_frameqa", "tgif_action",
               "tgif_transition", "msrvtt_mc", "lsmdc_mc", "youcook2_caption", "tvc_caption", "k400_probe",
               "hmdb51_probe", "ucf101_probe", "tvqa_mc", "ego4d_mc", "ego4d_mc_finetune")


@pytest.fixture()
def runs_dir(engine_run: RunResult, tmp_path: Path) -> Path:
    """The engine's run, a second seed of it, and one derived run for every other task of the tables."""
    root = tmp_path / "runs"
    derive(engine_run, root)
    derive(engine_run, root, seed=1, metrics={**engine_run.metrics, "t2v_R@1": engine_run.metrics["t2v_R@1"] + 4})
    for i, task in enumerate(TABLE_TASKS):
        derive(engine_run, root, task=task, metrics=task_metrics(task, 10.0 + i))
    return root


def fmt1(value: float) -> str:
    return f"{value:.1f}"


# ------------------------------------------------------------------------------------------ round trip


def test_round_trip_run_results_table(engine_run: RunResult) -> None:
    """run -> results.json -> store -> table/CLI, on the file the engine wrote."""
    run = load_run(engine_run.results_path)
    assert run.results == engine_run.results  # what was written is what is read
    assert (run.task, run.frames, run.zero_shot, run.synthetic) == ("msrvtt_retrieval", 3, True, True)
    assert run.metrics == engine_run.metrics and run.date.tzinfo is not None
    runs_root = engine_run.results_path.parents[2]
    view = build_table(get_leaderboard("5a"), load_runs(runs_root))
    (row,) = view.ours_rows
    cells = dict(zip(view.headers, row.cells))
    for col, metric in (("9K Train R@1", "t2v_R@1"), ("9K Train R@5", "t2v_R@5"), ("9K Train R@10", "t2v_R@10")):
        assert cells[col] == fmt1(engine_run.metrics[metric])
    assert cells["7K Train R@1"] == "-" and cells["Frames"] == "3"
    gmacs = engine_run.results.flops.gmacs
    assert gmacs and cells["Flops"] == f"{gmacs:.3g}G"
    assert cells["Params"] == f"{engine_run.results.model.params / 1e6:.1f}M"
    assert cells["Method"] == "Ours: All-in-one-Ti [random init] (zero-shot) (synthetic data), seed 0"
    result = CliRunner().invoke(_app(), ["table", "5a", "--runs", str(runs_root), "-f", "csv"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.output), dtype=str, keep_default_na=False)
    assert frame.iloc[-1]["9K Train R@1"] == cells["9K Train R@1"] and frame.iloc[-1]["Source"] == row.source


def test_every_mapped_metric_is_one_the_task_writes() -> None:
    """Leaderboards name metrics exactly as runs write them: each is in the mapped task's metric list."""
    written = {i.name: set(i.metrics) for i in describe_tasks()}
    for board in all_leaderboards().values():
        for mapping in board.mappings:
            if mapping.task == "*":
                continue
            assert set(mapping.metrics.values()) <= written[mapping.task], (board.table, mapping.task)


# ------------------------------------------------------------------------------------------------ store


def test_missing_runs_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="runs directory does not exist"):
        load_runs(tmp_path / "nope")


def test_malformed_file_in_runs_dir_names_it(engine_run: RunResult, tmp_path: Path) -> None:
    path = derive(engine_run, tmp_path)
    data = json.loads(path.read_text())
    del data["protocol"]["rolling"]
    path.write_text(json.dumps(data))
    with pytest.raises(Exception, match=re.escape(f"{path}: malformed results file: protocol.rolling: Field")):
        load_runs(tmp_path)


def test_group_by_seed_pools_only_seeds(engine_run: RunResult, tmp_path: Path) -> None:
    for seed, r1 in ((0, 10.0), (1, 12.0), (2, 14.0)):
        derive(engine_run, tmp_path, seed=seed, metrics={"t2v_R@1": r1})
    derive(engine_run, tmp_path, run_id="eight-frames", metrics={"t2v_R@1": 30.0}, protocol__frames=8)
    groups = group_by_seed(load_runs(tmp_path))
    assert sorted(len(g.runs) for g in groups) == [1, 3]
    pooled = next(g for g in groups if len(g.runs) == 3)
    stat = pooled.stat("t2v_R@1")
    assert stat is not None and (stat.mean, stat.std, stat.n) == (12.0, pytest.approx(2.0), 3)
    assert pooled.seeds == (0, 1, 2) and pooled.seed_label == "3 seeds"
    assert pooled.stat("missing") is None


def test_finetune_history_does_not_split_seeds(engine_run: RunResult, tmp_path: Path) -> None:
    """The finetune outcome differs by seed by nature; only the finetuned flag separates groups."""
    for seed in (0, 1):
        derive(engine_run, tmp_path, seed=seed, zero_shot=False,
               finetune={"finetuned": True, "epochs_run": 2, "best_epoch": seed, "history": [{"loss": seed}]})
    assert [len(g.runs) for g in group_by_seed(load_runs(tmp_path))] == [2]


def test_lookup_walks_the_model(engine_run: RunResult) -> None:
    run = RunRecord(engine_run.results_path, engine_run.results)
    assert run.lookup("protocol.rolling") == "roll" and run.lookup("data.options.cut") == "jsfusion"
    assert run.lookup("model.label") == "All-in-one-Ti" and run.lookup("flops.gmacs") == engine_run.results.flops.gmacs
    assert run.lookup("metrics.t2v_R@1") == engine_run.metrics["t2v_R@1"]
    assert run.lookup("protocol.nope") is None and run.lookup("data.options.nope.deeper") is None


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


def test_retrieval_row_values(engine_run: RunResult, runs_dir: Path) -> None:
    r1 = engine_run.metrics["t2v_R@1"]
    row = _ours("5a", runs_dir)
    assert row["Method"].endswith("mean ± std over 2 seeds (0,1)")
    assert row["9K Train R@1"] == f"{r1 + 2:.1f} ± 2.8"  # mean / sample std of r1 and r1 + 4
    assert row["9K Train R@10"] == f"{engine_run.metrics['t2v_R@10']:.1f} ± 0.0"
    assert row["7K Train R@1"] == "-" and row["Nets"] == "CE"
    row = _ours("5c", runs_dir)  # didemo_retrieval, derived with every metric = 10.0
    assert (row["R1"], row["R5"], row["R10"], row["MdR"]) == ("10.0", "10.0", "10.0", "10.0")


def test_cut_miech_fills_the_7k_columns(engine_run: RunResult, tmp_path: Path) -> None:
    data_block = {**engine_run.results.data.model_dump(), "options": {**engine_run.results.data.options,
                                                                       "cut": "miech"}}
    derive(engine_run, tmp_path, data=data_block)
    row = _ours("5a", tmp_path)
    assert row["7K Train R@1"] == fmt1(engine_run.metrics["t2v_R@1"]) and row["9K Train R@1"] == "-"


def test_rows_of_one_setup_merge_across_tasks(runs_dir: Path) -> None:
    value = {task: fmt1(10.0 + i) for i, task in enumerate(TABLE_TASKS)}
    row = _ours("2a", runs_dir)
    assert (row["Action"], row["Transition"], row["FrameQA"]) == (
        value["tgif_action"], value["tgif_transition"], value["tgif_frameqa"])
    assert {s.strip() for s in row["Source"].removeprefix("ours: ").split(",")} == {
        "tgif_action/tgif_action-s0", "tgif_transition/tgif_transition-s0", "tgif_frameqa/tgif_frameqa-s0"}
    row = _ours("3", runs_dir)
    assert (row["MSRVTT"], row["LSMDC"]) == (value["msrvtt_mc"], value["lsmdc_mc"])
    row = _ours("7", runs_dir)
    assert (row["TVC B4"], row["YouCook2 C"]) == (value["tvc_caption"], value["youcook2_caption"])
    row = _ours("6", runs_dir)
    assert (row["K400 Top-1"], row["HMDB51 Top-5"], row["UCF101 Top-10"]) == (
        value["k400_probe"], value["hmdb51_probe"], value["ucf101_probe"])
    row = _ours("1", runs_dir)  # Table 1: one row per model, every run counted
    assert row["Source"].count("/") == len(TABLE_TASKS) + 2


def test_protocol_differences_split_rows_and_label_them(engine_run: RunResult, tmp_path: Path) -> None:
    for rolling, r1 in (("roll", 20.0), ("none", 15.0)):
        derive(engine_run, tmp_path, run_id=f"roll-{rolling}", metrics={"t2v_R@1": r1}, protocol__rolling=rolling)
    view = build_table(get_leaderboard("5a"), load_runs(tmp_path))
    labels = {r.cells[0]: r.values["r1_9k"] for r in view.ours_rows}
    prefix = "Ours: All-in-one-Ti [random init] (zero-shot) (synthetic data)"
    assert labels == {f"{prefix} (rolling=roll), seed 0": 20.0, f"{prefix} (rolling=none), seed 0": 15.0}


def test_pretraining_data_comes_from_the_strict_checkpoint_registry(engine_run: RunResult, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    registry = tmp_path / "checkpoints.yaml"
    registry.write_text("checkpoints:\n  - {name: my-ckpt, variant: ti, url: 'https://example.org/x', file: x.ckpt,"
                        " pretraining_data: [WebVid, HowTo100M]}\n")
    monkeypatch.setenv("ALLINONE_BENCH_CHECKPOINTS_FILE", str(registry))
    derive(engine_run, tmp_path / "runs", model__checkpoint="my-ckpt")
    row = _ours("5a", tmp_path / "runs")
    assert row["PT Data"] == "WebVid + HowTo100M" and "[my-ckpt]" in row["Method"]
    registry.write_text("checkpoints:\n  - {name: my-ckpt, variant: ti}\n")  # malformed: an error, not '-'
    with pytest.raises(CheckpointError, match="checkpoint entry 'my-ckpt': urls: required key missing"):
        _ours("5a", tmp_path / "runs")


def test_zero_shot_and_finetuned_runs_are_kept_apart(engine_run: RunResult, tmp_path: Path) -> None:
    derive(engine_run, tmp_path, task="msrvtt_mc", metrics={"mc_acc": 50.0})
    derive(engine_run, tmp_path, task="msrvtt_mc", metrics={"mc_acc": 60.0}, seed=1, zero_shot=False)
    derive(engine_run, tmp_path, task="lsmdc_mc", metrics={"mc_acc": 40.0})
    view = build_table(get_leaderboard("3"), load_runs(tmp_path))
    rows = {r.cells[0]: (r.values["msrvtt"], r.values.get("lsmdc")) for r in view.ours_rows}
    assert rows == {
        "Ours: All-in-one-Ti [random init] (zero-shot) (synthetic data), seed 0": (50.0, 40.0),
        "Ours: All-in-one-Ti [random init] (synthetic data), seed 1": (60.0, None),
    }
    assert len(group_by_seed(load_runs(tmp_path, task="msrvtt_mc"))) == 2  # zero-shot never pools with finetuned


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


def test_flops_accuracy_plot_has_published_and_our_points(engine_run: RunResult, runs_dir: Path,
                                                          tmp_path: Path) -> None:
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
    assert ours.gmacs == pytest.approx(engine_run.results.flops.gmacs)
    assert ours.score == pytest.approx(engine_run.metrics["t2v_R@1"] + 2)
    assert ours.std == pytest.approx(2.828, abs=1e-3) and "2 seeds" in ours.label
    assert result.skipped == []


def test_plot_explains_runs_it_cannot_place(engine_run: RunResult, tmp_path: Path) -> None:
    derive(engine_run, tmp_path / "runs", flops=None)  # the counter failed: no FLOPs block
    result = plot_flops_accuracy("msrvtt_retrieval", load_runs(tmp_path / "runs"), tmp_path / "f.png")
    assert result.ours == [] and len(result.published) == 10
    assert "no FLOPs count" in result.skipped[0]


def test_plot_refuses_a_task_without_published_flops(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="msrvtt_retrieval"):
        plot_flops_accuracy("msvd_qa", [], tmp_path / "f.png")


# ------------------------------------------------------------------------------------------------ CLI


def _app() -> typer.Typer:
    app = typer.Typer()
    report_cmds.register(app)
    return app


@pytest.fixture()
def app() -> typer.Typer:
    return _app()


def test_cli_table_formats(app: typer.Typer, runs_dir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["table", "5a", "--runs", str(runs_dir)])
    assert result.exit_code == 0, result.output
    assert "| All-in-one-B | CE | HowTo100M | 110M | 58.7G | 3 | 29.5 |" in result.output
    assert "Ours: All-in-one-Ti" in result.output
    result = runner.invoke(app, ["table", "Table 2b", "--runs", str(runs_dir), "--format", "csv"])
    assert result.exit_code == 0
    frame = pd.read_csv(io.StringIO(result.output), dtype=str, keep_default_na=False)
    expected = fmt1(10.0 + TABLE_TASKS.index("msrvtt_qa"))
    assert list(frame.columns) == ["Method", "Frames", "Accuracy", "Source"] and frame.iloc[-1]["Accuracy"] == expected
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


def test_cli_plot_and_results(engine_run: RunResult, app: typer.Typer, runs_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "fig.png"
    result = runner.invoke(app, ["plot", "flops-accuracy", "--task", "msrvtt_retrieval", "--runs", str(runs_dir),
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "10 published points" in result.output and "1 of ours" in result.output
    result = runner.invoke(app, ["results", "--runs", str(runs_dir)], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    for task in TABLE_TASKS:
        assert task in result.output
    day = engine_run.results.timing.finished[:10]
    assert day in result.output and "All-in-one-Ti" in result.output
    result = runner.invoke(app, ["results", "--runs", str(runs_dir), "--task", "msrvtt_retrieval", "--grouped"],
                           env={"COLUMNS": "240"})
    r1 = engine_run.metrics["t2v_R@1"] + 2
    assert result.exit_code == 0 and f"{r1:.2f}±2.83" in result.output.replace(" ", "")
