"""``allinone-bench flops`` and ``allinone-bench params``: model cost, always with its unit and input shape."""

from __future__ import annotations

import json
from enum import Enum
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # allinone_bench.profile imports torch: loaded inside the commands only
    from allinone_bench.profile import FlopReport, ParamBreakdown
from allinone_bench.report.display import paper_model_name

console = Console()

_VARIANTS: tuple[str, ...] = ("ti", "s", "b")

#: What each counted op is in this model (the attention kernel differs by device: SDPA on CPU/GPU, bmm on meta).
_OP_NOTES: dict[str, str] = {
    "aten.addmm": "linear layers (qkv, proj, MLP, pooler)",
    "aten.mm": "linear layers without bias",
    "aten.bmm": "attention QK^T and AV",
    "aten.convolution": "patch embedding",
    "aten._scaled_dot_product_flash_attention_for_cpu": "attention (fused, CPU)",
    "aten._scaled_dot_product_flash_attention": "attention (fused, flash)",
    "aten._scaled_dot_product_efficient_attention": "attention (fused, mem-efficient)",
    "aten._scaled_dot_product_cudnn_attention": "attention (fused, cuDNN)",
}


class PassMode(str, Enum):
    joint = "joint"
    video = "video"
    text = "text"


class Rolling(str, Enum):
    roll = "roll"
    none = "none"
    flatten = "flatten"


class AttentionKernel(str, Enum):
    sdpa = "sdpa"
    explicit = "explicit"


def _flops_cmd(
    variant: str = typer.Option("b", "--variant", "-v", help="Model variant: ti, s or b."),
    frames: int = typer.Option(3, "--frames", "-t", min=1, help="Frames per clip (T)."),
    text_len: int = typer.Option(40, "--text-len", "-l", min=1, help="Text tokens (Lt), [CLS]/[SEP] included."),
    image_size: int = typer.Option(224, "--image-size", min=16, help="Frame height = width in pixels."),
    mode: PassMode = typer.Option(PassMode.joint, "--mode", "-m", help="joint, video-only or text-only pass."),
    batch: int = typer.Option(1, "--batch", "-b", min=1, help="Clips per forward pass."),
    attention: AttentionKernel = typer.Option(AttentionKernel.sdpa, "--attention",
                                              help="Fused SDPA or the explicit softmax(QK^T)V path."),
    rolling: Rolling = typer.Option(Rolling.roll, "--rolling",
                                    help="roll (official), none, or flatten (one sequence per clip; Fig. 3)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results.json 'flops' block as JSON."),
) -> None:
    """Count the FLOPs of one forward pass (torch.utils.flop_counter, attention included)."""
    from allinone_bench.profile import profile_variant

    report = profile_variant(variant, mode=mode.value, frames=frames, text_len=text_len, image_size=image_size,
                             batch=batch, attention=attention.value, rolling=rolling.value)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    _print_flops(report)


def _print_flops(report: FlopReport) -> None:
    console.print(f"[bold]{paper_model_name(report.variant)}[/], {report.mode} pass, "
                  f"input: {report.input_shape.describe()}")
    console.print(f"  [bold green]{report.gmacs:.2f} GMACs[/] (multiply-accumulates; fvcore's convention, the "
                  f"paper's unit) = [bold]{report.gflops:.2f} GFLOPs[/] (2 x MACs)")
    console.print(f"  counter: {report.counter}; attention: {report.attention}; device: {report.device}")
    table = Table(title="MACs by operator", title_justify="left")
    table.add_column("operator")
    table.add_column("what", style="dim")
    table.add_column("GMACs", justify="right")
    table.add_column("share", justify="right")
    for op, macs in report.per_op.items():
        table.add_row(op, _OP_NOTES.get(op, ""), f"{macs / 1e9:.4f}", f"{macs / max(report.macs, 1):.1%}")
    table.add_row("[bold]total[/]", "", f"[bold]{report.gmacs:.4f}[/]", "100.0%")
    console.print(table)
    modules = Table(title="MACs by module (all blocks summed)", title_justify="left")
    modules.add_column("module")
    modules.add_column("GMACs", justify="right")
    modules.add_column("share", justify="right")
    for name, macs in sorted(report.per_module.items(), key=lambda kv: -kv[1]):
        modules.add_row(name, f"{macs / 1e9:.4f}", f"{macs / max(report.macs, 1):.1%}")
    console.print(modules)
    if report.analytic is not None:
        a = report.analytic
        verdict = "[green]equal[/]" if a.total == report.macs else f"[red]differs by {report.macs - a.total:,}[/]"
        console.print(f"  analytic (12ND^2 + 2N^2D per frame and block + patch conv + pooler): "
                      f"{a.total / 1e9:.4f} GMACs, {verdict}; attention {a.attention / 1e9:.4f} GMACs")
    if report.suspect_ops:
        console.print(f"  [bold red]ops with compute but no formula (counted as 0):[/] {', '.join(report.suspect_ops)}")
    if report.uncounted_ops:
        listed = ", ".join(f"{op} x{n}" for op, n in sorted(report.uncounted_ops.items()))
        console.print(f"  [dim]ops without a formula (element-wise / data movement, 0 MACs by convention): "
                      f"{listed}[/]")


def _params_cmd(
    variant: str = typer.Option("all", "--variant", "-v", help="ti, s, b or all."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Parameters by component, beside the paper's Table 1 figure."""
    from allinone_bench.profile import variant_params

    names = list(_VARIANTS) if variant.strip().lower() == "all" else [variant]
    reports = [variant_params(name) for name in names]
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], indent=2))
        return
    _print_params(reports)


def _print_params(reports: list[ParamBreakdown]) -> None:
    from allinone_bench.profile import TABLE1_COMPONENTS, TABLE1_PARAMS

    table = Table(title="Parameters by component (millions)", title_justify="left")
    table.add_column("component")
    table.add_column("Table 1 rule", justify="center")
    for r in reports:
        table.add_column(paper_model_name(r.variant), justify="right")
    components = [c for c in dict.fromkeys(k for r in reports for k in r.by_component)]
    for component in components:
        counted = "yes" if component in TABLE1_COMPONENTS else "no"
        table.add_row(component, counted, *(f"{r.by_component.get(component, 0) / 1e6:.4f}" for r in reports))
    table.add_section()
    table.add_row("[bold]total (all parameters)[/]", "", *(f"{r.total / 1e6:.4f}" for r in reports))
    table.add_row("[bold]Table 1 rule[/]", "", *(f"[bold]{r.table1 / 1e6:.2f}[/]" for r in reports))
    table.add_row("paper Table 1", "", *(f"{TABLE1_PARAMS[r.variant] // 1_000_000}M"
                                        if r.variant in TABLE1_PARAMS else "-" for r in reports))
    console.print(table)
    console.print("[dim]Table 1 rule = the released checkpoint minus its MLM head: "
                  f"{' + '.join(TABLE1_COMPONENTS)}.[/]")
    for r in reports:
        if r.unassigned:
            console.print(f"[yellow]{r.variant}: parameters no component claims:[/] {', '.join(r.unassigned)}")


def register(app: typer.Typer) -> None:
    """Add ``flops`` and ``params`` to the allinone-bench app."""
    app.command("flops")(_flops_cmd)
    app.command("params")(_params_cmd)
