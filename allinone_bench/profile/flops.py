"""Count the FLOPs of the All-in-One forward passes with ``torch.utils.flop_counter``, attention included.

Conventions (stated with every figure, because FLOP numbers are otherwise not comparable):

* ``macs`` = multiply-accumulates, fvcore's "flop" (the paper's 58.7G for B is in this unit);
  ``flops`` = 2 x ``macs``, the convention of ``torch.utils.flop_counter``.
* Only matmuls, convolutions and attention are counted (element-wise ops such as LayerNorm, GELU, softmax, the
  token roll are not MACs). Every op that ran without a formula is listed in ``uncounted_ops`` with its call
  count, and ``suspect_ops`` names those that look like real compute (matmul / conv / attention), so a counter
  gap shows up instead of silently counting 0.
* On CPU, ``F.scaled_dot_product_attention`` dispatches to ``aten._scaled_dot_product_flash_attention_for_cpu``,
  for which torch's counter has no formula (it would count 0); :data:`EXTRA_FORMULAS` adds torch's own SDPA
  formula for it. The explicit-attention path (``fused_attn=False``) counts the same through ``aten.bmm``.

Counting runs on the ``meta`` device by default: shapes only, so ViT-B at T=3 takes well under a second
and allocates nothing. If a model cannot run on meta, :func:`profile_variant` falls back to CPU.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from allinone_bench.errors import ConfigError
from allinone_bench.profile.analytic import PASS_MODES, ArchSpec, MacBreakdown, analytic_macs
from allinone_bench.profile.build import build_meta_model

__all__ = [
    "EXTRA_FORMULAS",
    "FlopReport",
    "InputShape",
    "OpCounts",
    "count_ops",
    "profile_config",
    "profile_model",
    "profile_variant",
]

aten = torch.ops.aten


def _cpu_flash_sdpa_flop(query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, **kwargs: Any) -> int:
    """FLOPs of the CPU fused SDPA kernel: the same two batched matmuls as every other SDPA backend."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_flash_sdpa_backward_flop(
    grad_out_shape: Any, query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, **kwargs: Any
) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


#: Formulas torch's counter lacks, passed as ``FlopCounterMode(custom_mapping=...)``.
EXTRA_FORMULAS: dict[Any, Callable[..., int]] = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_sdpa_flop,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_flash_sdpa_backward_flop,
}

#: Uncounted ops whose names match this look like real compute; they are reported as suspects.
_SUSPECT = re.compile(r"mm|matmul|conv|attention|einsum|linear|addmv|\bdot\b|\.mv\b|_sdp|flash|cudnn|mkldnn")


class _UncountedOpRecorder(TorchDispatchMode):
    """Records the ops that actually execute (after the counter's decompositions) and have no formula.

    Entered *outside* the :class:`FlopCounterMode`, so it sees exactly the leaf ops the counter runs.
    """

    def __init__(self, known: Mapping[Any, Any]) -> None:
        super().__init__()
        self.known = known
        self.calls: Counter[str] = Counter()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        packet = getattr(func, "_overloadpacket", func)
        if packet not in self.known:
            self.calls[str(packet)] += 1
        return func(*args, **(kwargs or {}))


@dataclass(frozen=True)
class OpCounts:
    """Raw result of one counted call: FLOPs (2 x MACs) per op and per module, plus uncounted op calls."""

    per_op_flops: dict[str, int]
    per_module_flops: dict[str, int]
    uncounted_ops: dict[str, int]

    @property
    def total_flops(self) -> int:
        return sum(self.per_op_flops.values())

    @property
    def suspect_ops(self) -> list[str]:
        return sorted(op for op in self.uncounted_ops if _SUSPECT.search(op))


def _group_key(path: str, depth: int) -> str:
    """``transformer.blocks.7.attn.qkv`` -> ``transformer.blocks.attn`` (indices dropped, ``depth`` parts kept)."""
    parts = [p for p in path.split(".") if not p.isdigit()]
    return ".".join(parts[:depth])


def _nearest_tracked_ancestor(name: str, tracked: Mapping[str, int]) -> str | None:
    """Closest enclosing module that ran (containers such as ``ModuleList`` never run themselves)."""
    while "." in name:
        name = name.rsplit(".", 1)[0]
        if name in tracked:
            return name
    return None


def _per_module(counts: Mapping[str, Mapping[Any, int]], depth: int, strip: str = "") -> dict[str, int]:
    """Exclusive FLOPs per module group, so the groups sum to the total (no parent/child double counting).

    ``FlopCounterMode`` credits an op to every enclosing module; a module's exclusive share is its count minus
    the counts of the modules directly below it. Names start with the root class (``AllInOne.``), which is
    dropped; FLOPs of the root module itself are ``(root)``, FLOPs outside every module ``(outside modules)``.
    """
    inclusive = {name: sum(ops.values()) for name, ops in counts.items() if name != "Global"}
    children: dict[str, int] = {}
    for name, total in inclusive.items():
        parent = _nearest_tracked_ancestor(name, inclusive)
        if parent is not None:
            children[parent] = children.get(parent, 0) + total
    grouped: dict[str, int] = {}
    for name, total in inclusive.items():
        exclusive = total - children.get(name, 0)
        if not exclusive:
            continue
        path = name.split(".", 1)[1] if "." in name else ""
        if strip:
            path = "" if path == strip else path.removeprefix(strip + ".")
        key = _group_key(path, depth) if path else "(root)"
        grouped[key] = grouped.get(key, 0) + exclusive
    outside = sum(counts.get("Global", {}).values()) - sum(grouped.values())
    if outside:
        grouped["(outside modules)"] = outside
    return grouped


def count_ops(fn: Callable[[], object], *, module_depth: int = 3, strip: str = "") -> OpCounts:
    """Run ``fn()`` under ``FlopCounterMode`` (+ :data:`EXTRA_FORMULAS`) and collect the counts.

    ``per_module_flops`` groups module paths with indices dropped and at most ``module_depth`` parts
    (``transformer.blocks.attn``, ``transformer.blocks.mlp``, ``transformer.patch_embed.proj``, ``pooler.dense``);
    ``strip`` is a path prefix to drop first (the attribute under which a wrapper holds the model).
    """
    counter = FlopCounterMode(display=False, custom_mapping=dict(EXTRA_FORMULAS))
    recorder = _UncountedOpRecorder(counter.flop_registry)
    with recorder, counter:
        fn()
    counts = counter.get_flop_counts()
    per_op: dict[str, int] = {str(op): int(v) for op, v in counts.get("Global", {}).items() if v}
    return OpCounts(per_op_flops=per_op, per_module_flops=_per_module(counts, module_depth, strip),
                    uncounted_ops=dict(recorder.calls))


# ---------------------------------------------------------------------------------------------- reports
@dataclass(frozen=True)
class InputShape:
    """The input a figure was measured at: ``batch`` clips of ``frames`` x channels x height x width, text length."""

    batch: int = 1
    frames: int = 3
    channels: int = 3
    height: int = 224
    width: int = 224
    text_len: int = 40
    mode: str = "joint"

    @property
    def video(self) -> tuple[int, int, int, int, int] | None:
        if self.mode == "text":
            return None
        return (self.batch, self.frames, self.channels, self.height, self.width)

    @property
    def text(self) -> tuple[int, int] | None:
        return None if self.mode == "video" else (self.batch, self.text_len)

    def describe(self) -> str:
        parts = []
        if self.video is not None:
            parts.append("video " + "x".join(map(str, self.video)))
        if self.text is not None:
            parts.append("text " + "x".join(map(str, self.text)))
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": list(self.video) if self.video else None,
            "text": list(self.text) if self.text else None,
            "frames": self.frames,
            "batch": self.batch,
            "layout": "video (B, T, C, H, W); text (B, L)",
        }


def _counter_name() -> str:
    return f"torch.utils.flop_counter (torch {torch.__version__.split('+')[0]}) + CPU-SDPA formula"


@dataclass(frozen=True)
class FlopReport:
    """FLOPs of one forward pass at one input shape. ``unit`` says which of macs/flops is the headline ``value``."""

    macs: int
    flops: int
    unit: str
    counter: str
    input_shape: InputShape
    per_op: dict[str, int]  # op -> MACs
    mode: str
    variant: str
    per_module: dict[str, int] = field(default_factory=dict)  # module path -> MACs
    uncounted_ops: dict[str, int] = field(default_factory=dict)  # op -> calls that had no formula
    suspect_ops: list[str] = field(default_factory=list)
    attention: str = "sdpa"  # "sdpa" (fused) | "explicit"
    device: str = "meta"
    analytic: MacBreakdown | None = None

    @property
    def value(self) -> int:
        return self.macs if self.unit == "MACs" else self.flops

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    @property
    def gflops(self) -> float:
        return self.flops / 1e9

    @property
    def attention_macs(self) -> int:
        """MACs of the Q K^T and A V products, whichever kernel ran them."""
        fused = sum(v for op, v in self.per_op.items() if "attention" in op)
        return fused + self.per_op.get("aten.bmm", 0)

    def to_dict(self) -> dict[str, Any]:
        """The results.json ``flops`` block: {value, unit, counter, input_shape} plus the details."""
        return {
            "value": self.value,
            "unit": self.unit,
            "counter": self.counter,
            "input_shape": self.input_shape.to_dict(),
            "macs": self.macs,
            "flops": self.flops,
            "gmacs": round(self.gmacs, 4),
            "convention": "MACs = multiply-accumulates (fvcore 'flops', the paper's unit); FLOPs = 2 x MACs",
            "mode": self.mode,
            "variant": self.variant,
            "attention": self.attention,
            "device": self.device,
            "per_op": dict(self.per_op),
            "uncounted_ops": dict(self.uncounted_ops),
            "suspect_ops": list(self.suspect_ops),
            "analytic_macs": self.analytic.to_dict() if self.analytic else None,
        }


def _check_unit(unit: str) -> None:
    if unit not in ("MACs", "FLOPs"):
        raise ConfigError(f"flops unit {unit!r}: expected 'MACs' or 'FLOPs'")


def _make_inputs(shape: InputShape, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # Non-zero video: the reference treats all-zero patches as padding, so zeros could change the token count.
    video = torch.ones(shape.video or (shape.batch, shape.frames, shape.channels, shape.height, shape.width),
                       device=device)
    ids = torch.ones(shape.batch, shape.text_len, dtype=torch.long, device=device)  # any valid, non-pad id
    mask = torch.ones(shape.batch, shape.text_len, dtype=torch.long, device=device)
    return video, ids, mask


class _PassRunner(nn.Module):
    """Runs one pass as a module ``forward``, so the counter names submodules by their full path.

    ``encode_video`` / ``encode_text`` are methods, not ``forward``: without this wrapper the module tracker
    never enters the model and names each block only by its class.
    """

    def __init__(self, model: nn.Module, mode: str, inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]):
        super().__init__()
        self.model = model
        self.mode = mode
        self.inputs = inputs

    def forward(self) -> object:
        video, ids, mask = self.inputs
        if self.mode == "video":
            return self.model.encode_video(video)
        if self.mode == "text":
            return self.model.encode_text(ids, mask)
        return self.model(video, ids, mask)


def profile_model(
    model: nn.Module,
    *,
    mode: str = "joint",
    text_len: int | None = None,
    batch: int = 1,
    unit: str = "MACs",
) -> FlopReport:
    """Count one forward pass of a built model (on whatever device its parameters are, meta included).

    Frames and image size come from ``model.config``; ``text_len`` defaults to ``config.max_text_len``.
    """
    if mode not in PASS_MODES:
        raise ConfigError(f"--mode {mode!r}: expected one of {', '.join(PASS_MODES)}")
    _check_unit(unit)
    config = model.config
    text_len = config.max_text_len if text_len is None else text_len
    if not 1 <= text_len <= config.max_text_len:
        raise ConfigError(f"--text-len {text_len}: expected 1..{config.max_text_len} (the model's max_text_len)")
    if batch < 1:
        raise ConfigError(f"--batch {batch}: expected a positive integer")
    shape = InputShape(batch=batch, frames=config.num_frames, height=config.image_size, width=config.image_size,
                       text_len=text_len, mode=mode)
    device = next(model.parameters()).device
    inputs = _make_inputs(shape, device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            counts = count_ops(_PassRunner(model, mode, inputs), strip="model")
    finally:
        model.train(was_training)
    per_op = {op: v // 2 for op, v in sorted(counts.per_op_flops.items(), key=lambda kv: -kv[1])}
    flops = counts.total_flops
    return FlopReport(
        macs=flops // 2,
        flops=flops,
        unit=unit,
        counter=_counter_name(),
        input_shape=shape,
        per_op=per_op,
        mode=mode,
        variant=str(config.variant),
        per_module={k: v // 2 for k, v in counts.per_module_flops.items()},
        uncounted_ops=counts.uncounted_ops,
        suspect_ops=counts.suspect_ops,
        attention="sdpa" if getattr(config, "fused_attn", True) else "explicit",
        device=device.type,
        analytic=analytic_macs(ArchSpec.from_config(config), mode=mode, frames=config.num_frames,
                               text_len=text_len, batch=batch),
    )


def profile_config(
    config: Any, *, mode: str = "joint", text_len: int | None = None, batch: int = 1, unit: str = "MACs"
) -> FlopReport:
    """Count a pass of the model that ``config`` (an ``AllInOneConfig``, e.g. ``model.config``) describes.

    Builds a shapes-only copy on the meta device, so a run can fill its results.json ``flops`` block in well
    under a second whatever the device of its real model: ``profile_config(model.config).to_dict()``.
    """
    return profile_model(build_meta_model(config), mode=mode, text_len=text_len, batch=batch, unit=unit)


def _build(variant: str, device: str, overrides: dict[str, Any]) -> nn.Module:
    if device == "meta":
        return build_meta_model(variant, **overrides)
    from allinone_bench.model import build_model

    return build_model(variant, **overrides).to(device)


def profile_variant(
    variant: str = "b",
    *,
    mode: str = "joint",
    frames: int = 3,
    text_len: int = 40,
    image_size: int = 224,
    batch: int = 1,
    attention: str = "sdpa",
    unit: str = "MACs",
    device: str = "meta",
    **overrides: Any,
) -> FlopReport:
    """Build ``variant`` (random weights, on ``device``; meta by default) and count one forward pass.

    ``text_len`` also sets the model's ``max_text_len`` (the count depends only on the tokens fed in).
    With ``device="meta"`` a model that cannot run shape-only is rebuilt and counted on CPU instead.
    """
    if attention not in ("sdpa", "explicit"):
        raise ConfigError(f"--attention {attention!r}: expected 'sdpa' or 'explicit'")
    clashing = sorted(set(overrides) & {"num_frames", "image_size", "max_text_len", "fused_attn"})
    if clashing:
        raise ConfigError(f"profile_variant: pass frames/image_size/text_len/attention instead of {clashing}")
    overrides = dict(overrides, num_frames=frames, image_size=image_size, max_text_len=text_len,
                     fused_attn=attention == "sdpa")
    devices = [device] if device != "meta" else ["meta", "cpu"]
    last_error: Exception | None = None
    for dev in devices:
        model = _build(variant, dev, overrides)
        try:
            return profile_model(model, mode=mode, text_len=text_len, batch=batch, unit=unit)
        except (NotImplementedError, RuntimeError) as err:  # data-dependent code cannot run on meta
            last_error = err
    raise RuntimeError(f"could not count FLOPs of {variant!r} on {devices}") from last_error

