"""The ``allinone-bench`` command line: a thin typer app.

Each submodule registers its commands on :data:`app` (``register(app)``); they parse options, call library
functions and print with rich. Expected failures (:class:`~allinone_bench.errors.BenchError`) become a
one-line message and their exit code (2 bad input, 1 a failed run); anything else (a bug, an environment
failure) becomes one line with exit code 1 and its traceback saved to a file (``ALLINONE_BENCH_DEBUG=1`` re-raises).
"""

from __future__ import annotations

import importlib
import os
import sys

import typer
from rich.console import Console

from allinone_bench.errors import BenchError

app = typer.Typer(
    name="allinone-bench",
    help="Benchmark and evaluation harness for the All-in-One video-language Transformer (CVPR 2023).\n\n"
    "Exit codes: 0 success; 1 a run, download or check failed; 2 bad input (one line naming the file or option).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Benchmark and evaluation harness for the All-in-One video-language Transformer (CVPR 2023).

    Start with `allinone-bench tasks`, then `allinone-bench run TASK` (synthetic data unless --data-root).
    """

# Command modules, in --help order. Each defines ``register(app)``.
_COMMAND_MODULES: tuple[str, ...] = ("run_cmds", "data_cmds", "model_cmds", "profile_cmds", "report_cmds",
                                     "bench_cmds", "study_cmds", "figure_cmds")

for _name in _COMMAND_MODULES:
    importlib.import_module(f"allinone_bench.cli.{_name}").register(app)


@app.command("version")
def version() -> None:
    """Print the package, torch and python versions."""
    import platform

    import torch

    from allinone_bench import __version__

    typer.echo(f"allinone-bench {__version__} (torch {torch.__version__}, python {platform.python_version()})")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and map expected errors to a one-line message."""
    try:
        app(args=argv, prog_name="allinone-bench")
    except BenchError as err:
        err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True, markup=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except Exception as err:  # a bug or an environment failure: one line, the traceback kept in a file
        if os.environ.get("ALLINONE_BENCH_DEBUG"):
            raise
        path = _save_traceback()
        err_console.print(f"[bold red]error:[/] the run failed: {type(err).__name__}: {err} (traceback: {path}; "
                          f"ALLINONE_BENCH_DEBUG=1 prints it)", highlight=False, soft_wrap=True, markup=True)
        sys.exit(1)


def _save_traceback() -> str:
    """Write the current exception's traceback to a new temporary file; its path."""
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix="allinone-bench-traceback-", suffix=".txt", delete=False) as fh:
        traceback.print_exc(file=fh)
    return fh.name
