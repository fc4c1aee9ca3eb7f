"""The CLI's outer contract: help works, unknown commands and expected errors exit non-zero in one line."""

from __future__ import annotations

import pytest
import typer

from allinone_bench import cli
from allinone_bench.errors import ConfigError


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
