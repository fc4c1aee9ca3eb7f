"""Progress off a terminal: plain lines every interval and at each 10%, only on rank 0, none with --quiet;
rich bars (no plain lines) on a terminal; and a real evaluation run with stdout/stderr not a terminal."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from allinone_bench.cli.run_cmds import register
from allinone_bench.engine import dist, progress
from allinone_bench.engine.progress import LoggedProgress, add_task, configured, make_progress, track

LINE = re.compile(r"^\[(?P<stage>[^\]]+)\] (?P<done>\d+)/(?P<total>\d+) (?P<unit>\w+) \((?P<pct>\d+)%\), "
                  r"(?P<rate>[\d.e+-]+) \w+/s, elapsed \d+:\d\d:\d\d, ETA \d+:\d\d:\d\d")


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _plain_console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=False, width=80), buf


def _loop(total: int, seconds_per_item: float, interval_s: float = 30.0, **fields: object) -> list[str]:
    """Run a loop of ``total`` items on a fake clock with a non-terminal console; the lines it printed."""
    console, buf = _plain_console()
    clock = FakeClock()
    with configured(interval_s=interval_s):
        bar = make_progress(console)
    assert isinstance(bar, LoggedProgress)
    bar.get_time = clock  # type: ignore[method-assign]
    with bar:
        task = add_task(bar, "eval test texts", total, **fields)
        for _ in range(total):
            clock.t += seconds_per_item
            bar.advance(task)
    return buf.getvalue().splitlines()


def test_line_at_each_tenth_with_rate_elapsed_and_eta() -> None:
    lines = _loop(100, 1.0)  # 100 s loop: a 10% step every 10 s, before the 30 s interval
    assert len(lines) == 10, lines
    first = LINE.match(lines[0])
    assert first, lines[0]
    assert first["stage"] == "eval test texts" and first["done"] == "10" and first["total"] == "100"
    assert first["pct"] == "10" and float(first["rate"]) == pytest.approx(1.0)
    assert "elapsed 0:00:10" in lines[0] and "ETA 0:01:30" in lines[0]
    assert [LINE.match(x)["pct"] for x in lines] == [str(p) for p in range(10, 101, 10)]  # type: ignore[index]
    assert lines[-1].endswith("ETA 0:00:00")


def test_line_every_interval_on_a_slow_loop() -> None:
    lines = _loop(1000, 1.0)  # 10% = 100 s > 30 s: the interval decides, plus the steps
    assert 33 + 10 >= len(lines) >= 33, len(lines)
    gaps = [int(LINE.match(b)["done"]) - int(LINE.match(a)["done"])  # type: ignore[index]
            for a, b in zip(lines, lines[1:], strict=False)]
    assert max(gaps) <= 30


def test_blink_loops_print_nothing_and_info_is_appended() -> None:
    assert _loop(3, 0.01) == []  # a 3-batch synthetic epoch
    lines = _loop(5, 10.0, info="loss 0.5000", unit="batches")
    assert lines and all(" batches (" in x and x.endswith("| loss 0.5000") for x in lines)


def test_quiet_terminal_and_other_ranks_print_no_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    console, buf = _plain_console()
    with configured(quiet=True, interval_s=0.001):
        for _ in track(range(50), "quiet loop", console=console):
            pass
    assert buf.getvalue() == ""

    term_buf = io.StringIO()
    term = Console(file=term_buf, force_terminal=True, width=80)
    with configured(interval_s=0.001):
        bar = make_progress(term)
    assert isinstance(bar, LoggedProgress) and not bar.disable  # the rich bar draws on a terminal ...
    with bar:
        task = add_task(bar, "terminal loop", 3)
        for _ in range(3):
            bar.advance(task)
    assert not LINE.search(term_buf.getvalue())  # ... and no plain lines go with it

    monkeypatch.setattr(dist, "is_main_process", lambda: False)
    with configured(interval_s=0.001):
        for _ in track(range(50), "rank 1 loop", console=console):
            pass
    assert buf.getvalue() == ""


def test_settings_are_restored_and_validated() -> None:
    before = progress.current_settings()
    with configured(quiet=True, interval_s=5):
        assert progress.current_settings().quiet and progress.current_settings().interval_s == 5
    assert progress.current_settings() == before
    with pytest.raises(ValueError):
        with configured(interval_s=0):
            pass


@pytest.mark.slow
def test_evaluation_off_a_terminal_prints_progress_lines(tmp_path: Path) -> None:
    """`run --zero-shot` under CliRunner (neither stdout nor stderr is a terminal), interval shortened."""
    app = typer.Typer()
    register(app)
    args = ["run", "msrvtt_retrieval", "--zero-shot", "--output-dir", str(tmp_path), "--run-id"]
    result = CliRunner().invoke(app, [*args, "loud", "--log-interval", "0.001", "--set", "eval.batch_size=4"])
    assert result.exit_code == 0, result.output
    lines = [x for x in result.stderr.splitlines() if LINE.match(x)]
    print("\n".join(lines))
    stages = {LINE.match(x)["stage"] for x in lines}  # type: ignore[index]
    assert any("text" in s for s in stages) and any("video" in s for s in stages), stages
    texts = [LINE.match(x) for x in lines if "text" in LINE.match(x)["stage"]]  # type: ignore[index]
    assert [(m["done"], m["total"]) for m in texts] == [("4", "16"), ("8", "16"), ("12", "16"), ("16", "16")]
    assert "━" not in result.stderr  # no bar drawn off a terminal

    quiet = CliRunner().invoke(app, [*args, "quiet", "--log-interval", "0.001", "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert not [x for x in quiet.stderr.splitlines() if LINE.match(x)]
    assert "t2v_R@1" in quiet.stdout
