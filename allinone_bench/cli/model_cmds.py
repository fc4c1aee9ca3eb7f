"""``allinone-bench checkpoints [fetch|verify]``: the released checkpoints, where they go, whether they are there,
downloading them (only on request) and checking the files on disk."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from allinone_bench import paths

console = Console()
err_console = Console(stderr=True)


def _checkpoints_cmd(
    ctx: typer.Context,
    verify: bool = typer.Option(False, "--verify", help="Hash present files and compare with recorded sha256."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    inspect: str | None = typer.Option(None, "--inspect", metavar="NAME|PATH",
                                       help="Read one checkpoint: inferred config and how every tensor loads."),
) -> None:
    """List the released checkpoints (name, variant, data, local path, presence, sha256 state).

    `checkpoints fetch NAME|--all` downloads them; `checkpoints verify` hashes the files on disk.
    """
    from allinone_bench.model.hub import checkpoint_status, list_checkpoints

    if ctx.invoked_subcommand is not None:
        return
    if inspect is not None:
        _inspect(inspect, as_json)
        return
    rows = [checkpoint_status(entry, verify=verify) for entry in list_checkpoints()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Released All-in-One checkpoints (folder: {paths.checkpoint_cache_dir()})")
    for column in ("name", "variant", "params", "pretraining data", "local path", "present", "sha256"):
        table.add_column(column, overflow="fold")
    for row in rows:
        present = "[green]yes[/]" if row["present"] else "[red]no[/]"
        sha = "[bold red]MISMATCH[/]" if row["sha256"] == "MISMATCH" else row["sha256"]
        table.add_row(row["name"], row["variant"], row["params"], row["pretraining_data"], row["path"], present, sha)
    console.print(table)
    missing = [row for row in rows if not row["present"]]
    if missing:
        console.print(f"{len(missing)} not on disk; `allinone-bench checkpoints fetch NAME` (or --all) downloads "
                      "them from these URLs (nothing is downloaded automatically):")
        for row in missing:
            console.print(f"  {row['name']}: {' , '.join(row['urls'])}", soft_wrap=True, highlight=False)


def _inspect(name_or_path: str, as_json: bool) -> None:
    from allinone_bench.model.checkpoint import build_from_checkpoint

    model, report = build_from_checkpoint(name_or_path, strict=False)
    if as_json:
        typer.echo(json.dumps({"config": model.config.to_dict(), "report": report.to_dict()}, indent=2))
        return
    cfg = model.config
    console.print(f"[bold]{report.source}[/]: variant {cfg.variant} ({cfg.hidden_size}-d, {cfg.num_heads} heads, "
                  f"depth {cfg.depth}{', distilled' if cfg.distilled else ''}), image {cfg.image_size}, "
                  f"max_text_len {cfg.max_text_len}, backbone params {model.num_parameters() / 1e6:.1f}M",
                  highlight=False)
    console.print(report.summary(), highlight=False, soft_wrap=True)


def _fetch_cmd(
    names: list[str] | None = typer.Argument(None, metavar="NAME...", help="Checkpoint names (checkpoints.yaml)."),
    fetch_all: bool = typer.Option(False, "--all", help="Every released checkpoint."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Download checkpoints into the checkpoint folder (ALLINONE_BENCH_CKPT_DIR), verified by sha256.

    The URLs of an entry are tried in order; an interrupted download resumes on the next call.

    Where checkpoints.yaml has no sha256 yet, the first download records it in the folder's lock file and prints it.

    Exit code: 0 ok, 1 a download failed, 2 bad input (unknown name).
    """
    from allinone_bench.errors import CheckpointError
    from allinone_bench.model.fetch import DownloadFailed, fetch_checkpoint

    if fetch_all == bool(names):
        raise CheckpointError("checkpoints fetch: give checkpoint NAMEs or --all (not both)")
    failed = 0
    for entry in _entries(names):
        try:
            result = fetch_checkpoint(entry, quiet=quiet, log=lambda m: err_console.print(m, highlight=False,
                                                                                           soft_wrap=True))
        except DownloadFailed as err:
            err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
            failed += 1
            continue
        if result.verified_against:
            check = f"sha256 matches the {result.verified_against}"
        elif result.recorded_in:
            check = f"sha256 recorded in {result.recorded_in}"
        else:
            check = "no recorded sha256 to check it against"
        console.print(f"{result.name}: {result.status} {result.path} ({check}: {result.sha256})", highlight=False,
                      soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def _verify_cmd(
    names: list[str] | None = typer.Argument(None, metavar="[NAME...]", help="Only these (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
) -> None:
    """Hash the checkpoint files on disk and compare each with checkpoints.yaml and the lock file.

    Exit code: 0 ok, 1 a file does not match a recorded digest, 2 bad input (unknown name).
    """
    from allinone_bench.model.fetch import verify_checkpoints

    rows = verify_checkpoints(_entries(names))
    if as_json:
        typer.echo(json.dumps([row.to_dict() for row in rows], indent=2))
    else:
        table = Table(title=f"Checkpoint files in {paths.checkpoint_cache_dir()}")
        for column in ("name", "status", "sha256 on disk", "file"):
            table.add_column(column, overflow="fold")
        for row in rows:
            status = f"[bold red]{row.status}[/]" if row.mismatches else row.status
            table.add_row(row.name, status, row.sha256 or "-", str(row.path))
        console.print(table)
    for row in rows:
        if row.mismatches:
            err_console.print(f"[bold red]{row.name}[/]: {row.path} has sha256 {row.sha256}, which does not match "
                              f"the {' and the '.join(row.mismatches)}: corrupt, truncated or another release",
                              highlight=False, soft_wrap=True)
    if any(row.mismatches for row in rows):
        raise typer.Exit(1)


def _entries(names: list[str] | None) -> list[Any]:
    """The entries named (aliases allowed, each once), or every released checkpoint when none is named."""
    from allinone_bench.errors import CheckpointError
    from allinone_bench.model.hub import list_checkpoints, load_registry

    if not names:
        return list_checkpoints()
    registry = load_registry()
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise CheckpointError(f"unknown checkpoint(s) {unknown}; known: {sorted({e.name for e in registry.values()})}")
    return list({registry[n].name: registry[n] for n in names}.values())


def register(app: typer.Typer) -> None:
    ckpt_app = typer.Typer(help="Released checkpoints: list, fetch, verify.", invoke_without_command=True)
    ckpt_app.callback()(_checkpoints_cmd)
    ckpt_app.command("fetch")(_fetch_cmd)
    ckpt_app.command("verify")(_verify_cmd)
    app.add_typer(ckpt_app, name="checkpoints")
