"""``plot rolling-cost``, ``plot size-performance`` (Figs. 3 and 6) and ``cloze`` (Fig. 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def register(app: typer.Typer) -> None:
    """Add ``cloze`` to ``app`` and the two figures to its ``plot`` group (registered by report_cmds)."""
    app.command("cloze")(cloze_cmd)
    plot_app = next(g.typer_instance for g in app.registered_groups if g.name == "plot")
    plot_app.command("rolling-cost")(rolling_cost_cmd)
    plot_app.command("size-performance")(size_performance_cmd)


def _ints(text: str) -> list[int]:
    from allinone_bench.study.spec import parse_seeds

    return parse_seeds(text)


def rolling_cost_cmd(
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG to write.")] = Path("rolling_cost.png"),
    variant: Annotated[str, typer.Option("--variant", help="ti | s | b")] = "b",
    frames: Annotated[str, typer.Option("--frames", help="Values of T, comma-separated.")] = "1,2,3,4,6,8",
    modes: Annotated[str, typer.Option("--modes", help="Rolling modes to compare.")] = "roll,flatten",
    text_len: Annotated[int, typer.Option("--text-len")] = 40,
    repeats: Annotated[int, typer.Option("--repeats", help="Timed forward passes per point (median).")] = 3,
    no_time: Annotated[bool, typer.Option("--no-time", help="FLOPs only (fast).")] = False,
) -> None:
    """Fig. 3: attention FLOPs (torch.utils.flop_counter) and forward time against the number of frames."""
    from allinone_bench.report.figures import machine_label, plot_rolling_cost, rolling_cost

    points = rolling_cost(variant, _ints(frames), modes.split(","), text_len=text_len, repeats=repeats,
                          time_it=not no_time)
    path = plot_rolling_cost(points, output, title=f"All-in-One-{variant.upper()}: rolling vs flatten cost (Fig. 3)")
    for p in points:
        ms = "" if p.seconds is None else f", {1000 * p.seconds:.1f} ms"
        console.print(f"{p.mode:8s} T={p.frames:2d}: attention {p.attention_gmacs:.3f} GMACs of {p.total_gmacs:.2f}{ms}",
                      highlight=False)
    console.print(f"wrote {path} (times on {machine_label()})", highlight=False)


def size_performance_cmd(
    runs: Annotated[Path, typer.Option("--runs", help="Folder of runs or a study folder.")] = Path("runs"),
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("size_performance.png"),
) -> None:
    """Fig. 6: parameters against each task's main metric (ours per variant, mean ± std; paper's Ti/S/B)."""
    from allinone_bench.report.figures import plot_size_performance
    from allinone_bench.report.store import load_runs

    path, drawn = plot_size_performance(load_runs(runs), output)
    for task, points in drawn.items():
        console.print(f"{task}: {len(points['ours'])} of ours, paper points for {sorted(points['paper']) or 'none'}",
                      highlight=False)
    console.print(f"wrote {path}", highlight=False)


def cloze_cmd(
    video: Annotated[Path, typer.Option("--video", help="A video file, GIF or frame folder.")],
    text: Annotated[str, typer.Option("--text", help='Sentence with [MASK], e.g. "a man is [MASK] a guitar".')],
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("cloze.png"),
    checkpoint: Annotated[str | None, typer.Option("--checkpoint", help="Name or path; omitted: random init.")]
    = None,
    variant: Annotated[str, typer.Option("--variant", help="Without a checkpoint: ti | s | b.")] = "b",
    frames: Annotated[int, typer.Option("--frames")] = 3,
    top_k: Annotated[int, typer.Option("--top-k")] = 5,
) -> None:
    """Fig. 7: the MLM head's top-k words for each [MASK], and where the mask token attends in each frame."""
    from allinone_bench.data.pipeline import ClipLoader, VideoProtocol
    from allinone_bench.data.tokenizer import load_tokenizer
    from allinone_bench.data.types import VideoRef
    from allinone_bench.errors import ConfigError
    from allinone_bench.model import build_model
    from allinone_bench.model.checkpoint import build_from_checkpoint
    from allinone_bench.report.cloze import cloze, draw_cloze

    if not video.exists():
        raise ConfigError(f"cloze --video {video}: no such file or folder")
    if checkpoint:
        model, _ = build_from_checkpoint(checkpoint, strict=False, num_frames=frames)
    else:
        model = build_model(variant, num_frames=frames)
    size = model.config.image_size
    protocol = VideoProtocol(num_frames=frames, resize=max(size, round(size * 1.2)), crop=size)
    clip = ClipLoader(protocol).load(VideoRef(video, kind="frames" if video.is_dir() else "video"))
    result = cloze(model, load_tokenizer(), clip, text, top_k=top_k, random_init=checkpoint is None)
    for k, fill in enumerate(result.fills):
        console.print(f"[MASK] {k + 1}: " + ", ".join(f"{w} ({p:.3f})" for w, p in fill), highlight=False,
                      markup=False)
    path = draw_cloze(result, output, title=f'"{text}"  ({checkpoint or "random init " + variant})')
    console.print(f"wrote {path}", highlight=False)
