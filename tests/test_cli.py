"""The CLI's outer contract: help works, unknown commands and expected errors exit non-zero in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from allinone_bench import cli
from allinone_bench.errors import ConfigError, RunError


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "version" in capsys.readouterr().out


def test_unknown_command_exits_nonzero() -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code != 0


def test_bench_error_becomes_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def boom() -> None:
        raise ConfigError("tasks/x.yaml: unknown key 'frames_'")

    app = typer.Typer()
    app.command("boom")(boom)
    app.command("other")(lambda: None)
    monkeypatch.setattr(cli, "app", app)
    with pytest.raises(SystemExit) as exc:
        cli.main(["boom"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "tasks/x.yaml" in err and "Traceback" not in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(("error", "code"), [(RunError("epoch 3, batch 0: loss is nan (diverged)"), 1),
                                             (RuntimeError("CUDA error: device-side assert triggered"), 1)])
def test_failed_run_exits_1_in_one_line(error: Exception, code: int, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    def boom() -> None:
        raise error

    app = typer.Typer()
    app.command("boom")(boom)
    app.command("other")(lambda: None)
    monkeypatch.setattr(cli, "app", app)
    monkeypatch.delenv("ALLINONE_BENCH_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        cli.main(["boom"])
    assert exc.value.code == code
    err = capsys.readouterr().err.strip()
    assert str(error) in err and "Traceback" not in err and len(err.splitlines()) == 1
    if not isinstance(error, RunError):  # an unexpected exception keeps its traceback in a file
        path = Path(err.split("traceback: ")[1].split(";")[0])
        assert "Traceback" in path.read_text() and type(error).__name__ in path.read_text()
        path.unlink()
        monkeypatch.setenv("ALLINONE_BENCH_DEBUG", "1")
        with pytest.raises(type(error)):
            cli.main(["boom"])
