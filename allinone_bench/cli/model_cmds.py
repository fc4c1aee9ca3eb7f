"""``allinone-bench checkpoints``: the released checkpoints, where they go, whether they are there."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from allinone_bench import paths

console = Console()


def _checkpoints_cmd(
    verify: bool = typer.Option(False, "--verify", help="Hash present files and compare with recorded sha256."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    inspect: str | None = typer.Option(None, "--inspect", metavar="NAME|PATH",
                                       help="Read one checkpoint: inferred config and how every tensor loads."),
) -> None:
    """List the released checkpoints (name, variant, data, local path, presence, sha256 state)."""
    from allinone_bench.model.hub import checkpoint_status, list_checkpoints

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
        console.print(f"{len(missing)} not on disk; download from the URLs below and save under the path shown "
                      "(nothing is downloaded automatically):")
        for row in missing:
            console.print(f"  {row['name']}: {row['url']}", soft_wrap=True, highlight=False)


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


def register(app: typer.Typer) -> None:
    app.command("checkpoints")(_checkpoints_cmd)
