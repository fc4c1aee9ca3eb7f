"""FLOPs and parameter counts: the counter against a hand formula, attention counted, Table 1 and the CLI."""

from __future__ import annotations

import json

import pytest
import torch
import typer
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

from allinone_bench.cli import profile_cmds
from allinone_bench.errors import ConfigError
from allinone_bench.model import build_model, variant_config
from allinone_bench.profile import (
    COMPONENTS,
    TABLE1_PARAMS,
    ArchSpec,
    FlopReport,
    analytic_macs,
    count_ops,
    count_params,
    count_state_dict,
    profile_config,
    profile_model,
    profile_variant,
    text_len_for_macs,
    variant_params,
)
from allinone_bench.profile.build import build_meta_model

SMALL = {"depth": 2, "image_size": 64, "num_frames": 3, "max_text_len": 12, "vocab_size": 300}
SMALL_VARIANT = {"depth": 2, "image_size": 64, "frames": 3, "text_len": 12, "vocab_size": 300}  # profile_variant


def small_model(**overrides: object) -> torch.nn.Module:
    return build_model("ti", **{**SMALL, **overrides}).eval()


def meta_small(**overrides: object) -> torch.nn.Module:
    """Shapes only: counting does not need weights, and meta skips allocation and init."""
    return build_meta_model("ti", **{**SMALL, **overrides})


@pytest.fixture(scope="module")
def cpu_sdpa() -> torch.nn.Module:
    return small_model(fused_attn=True)


def hand_macs(d: int, depth: int, frames: int, n: int, *, patches: int, pooler: bool, seqs: int | None = None) -> int:
    """Per frame and block 12 N D^2 + 2 N^2 D, plus the 16x16 patch conv and the pooler (written out here,
    independently of allinone_bench.profile.analytic)."""
    seqs = frames if seqs is None else seqs
    blocks = depth * seqs * (12 * n * d * d + 2 * n * n * d)
    conv = frames * patches * d * 3 * 16 * 16
    return blocks + conv + (d * d if pooler else 0)


# ------------------------------------------------------------------------------------------ counter = formula
@pytest.mark.parametrize("fused", [True, False], ids=["sdpa", "explicit"])
def test_counter_equals_hand_formula_on_cpu(fused: bool) -> None:
    model = small_model(fused_attn=fused)
    d, lv, lt = 192, 1 + 16, 10  # 64 px / 16 = 4x4 patches + cls
    joint = profile_model(model, mode="joint", text_len=lt)
    video = profile_model(model, mode="video")
    text = profile_model(model, mode="text", text_len=lt)
    assert joint.device == "cpu" and joint.attention == ("sdpa" if fused else "explicit")
    assert joint.macs == hand_macs(d, 2, 3, lt + lv, patches=16, pooler=True)
    assert video.macs == hand_macs(d, 2, 3, lv, patches=16, pooler=False)
    assert text.macs == hand_macs(d, 2, 3, lt, patches=0, pooler=False, seqs=1)  # text pass runs once
    for report in (joint, video, text):
        assert report.flops == 2 * report.macs
        assert report.macs == report.analytic.total
        assert report.suspect_ops == []
        assert sum(report.per_op.values()) == report.macs
        assert sum(report.per_module.values()) == report.macs


def test_cpu_sdpa_is_counted_and_plain_torch_counter_misses_it(cpu_sdpa: torch.nn.Module) -> None:
    model = cpu_sdpa
    report = profile_model(model, mode="joint", text_len=10)
    sdpa = report.per_op.get("aten._scaled_dot_product_flash_attention_for_cpu", 0)
    n, d = 10 + 17, 192
    assert sdpa == 2 * 3 * 2 * n * n * d == report.analytic.attention  # depth x frames x 2 N^2 D
    assert report.attention_macs == sdpa

    video, ids, mask = torch.ones(1, 3, 3, 64, 64), torch.ones(1, 10, dtype=torch.long), torch.ones(1, 10)
    with torch.no_grad(), FlopCounterMode(display=False) as plain:
        model(video, ids, mask)
    assert plain.get_total_flops() // 2 == report.macs - sdpa  # the gap EXTRA_FORMULAS closes


def test_meta_and_cpu_counts_agree(cpu_sdpa: torch.nn.Module) -> None:
    meta = profile_variant("ti", **SMALL_VARIANT, attention="sdpa")
    assert meta.device == "meta"
    cpu = profile_model(cpu_sdpa, mode="joint", text_len=12)
    assert meta.macs == cpu.macs
    from_config = profile_config(cpu_sdpa.config)  # what a run uses for its results.json block
    assert from_config.macs == cpu.macs and from_config.device == "meta"
    assert next(cpu_sdpa.parameters()).device.type == "cpu"
    explicit = profile_variant("ti", **SMALL_VARIANT, attention="explicit")
    assert explicit.macs == meta.macs and explicit.attention == "explicit"


def test_attention_term_is_quadratic_in_sequence_length(cpu_sdpa: torch.nn.Module) -> None:
    model = cpu_sdpa
    d, lv = 192, 17
    attn = {}
    linear = {}
    for lt in (4, 8, 12):
        r = profile_model(model, mode="joint", text_len=lt)
        attn[lt] = r.attention_macs
        linear[lt] = r.per_op["aten.addmm"] + r.per_op.get("aten.mm", 0)
        assert attn[lt] == 2 * 3 * 2 * (lt + lv) ** 2 * d
    # quadratic: the second difference is constant and non-zero; the linear layers' is zero
    assert attn[12] - 2 * attn[8] + attn[4] == 2 * 3 * 2 * d * 2 * 4**2
    assert linear[12] - 2 * linear[8] + linear[4] == 0


def test_modes_are_ordered() -> None:
    model = meta_small()
    joint, video, text = (profile_model(model, mode=m) for m in ("joint", "video", "text"))
    assert joint.macs > video.macs + text.macs > video.macs > text.macs > 0
    assert "aten.convolution" in video.per_op and "aten.convolution" not in text.per_op


def test_flatten_rolling_counts_one_long_sequence() -> None:
    report = profile_model(meta_small(rolling="flatten"), mode="joint", text_len=10)
    n = 10 + 3 * 17
    assert report.macs == hand_macs(192, 2, 3, n, patches=16, pooler=True, seqs=1) == report.analytic.total


def test_unknown_compute_op_is_reported_not_silently_zero() -> None:
    a, v = torch.randn(8, 8), torch.randn(8)
    counts = count_ops(lambda: torch.mv(a, v))
    assert counts.total_flops == 0
    assert counts.suspect_ops == ["aten.mv"]
    assert counts.uncounted_ops["aten.mv"] == 1


# ------------------------------------------------------------------------------------------ full-size figures
@pytest.mark.parametrize(("variant", "gmacs"), [("ti", 4.64), ("s", 16.90), ("b", 63.84)])
def test_reference_joint_figures_at_t3_lt40(variant: str, gmacs: float) -> None:
    spec = ArchSpec.from_config(variant_config(variant))
    assert round(analytic_macs(spec, mode="joint", frames=3, text_len=40).total / 1e9, 2) == gmacs


def test_full_b_counted_on_meta_matches_formula() -> None:
    report = profile_variant("b", mode="joint", frames=3, text_len=40, image_size=224)
    assert report.device == "meta"
    assert report.macs == report.analytic.total == 63_841_867_776
    assert round(report.gmacs, 2) == 63.84 and round(report.gflops, 2) == 127.68
    assert report.input_shape.video == (1, 3, 3, 224, 224) and report.input_shape.text == (1, 40)


def test_paper_58p7_for_b_needs_about_22_text_tokens() -> None:
    spec = ArchSpec.from_config(variant_config("b"))
    lt = text_len_for_macs(spec, 58.7e9, frames=3)
    assert 21.0 < lt < 22.5
    assert abs(analytic_macs(spec, frames=3, text_len=round(lt)).total / 1e9 - 58.7) < 0.15


def test_report_to_dict_is_the_results_flops_block() -> None:
    report = profile_variant("ti", **SMALL_VARIANT)
    block = report.to_dict()
    assert {"value", "unit", "counter", "input_shape"} <= set(block)
    assert block["unit"] == "MACs" and block["value"] == report.macs == block["flops"] // 2
    assert block["input_shape"]["video"] == [1, 3, 3, 64, 64] and block["input_shape"]["text"] == [1, 12]
    assert "flop_counter" in block["counter"]
    json.dumps(block)
    flops_unit = FlopReport(**{**report.__dict__, "unit": "FLOPs"})
    assert flops_unit.to_dict()["value"] == report.flops


def test_bad_inputs_raise_config_errors() -> None:
    with pytest.raises(ConfigError):
        profile_model(meta_small(), mode="audio")
    with pytest.raises(ConfigError):
        profile_model(meta_small(), text_len=99)
    with pytest.raises(ConfigError):
        profile_variant("xl")
    with pytest.raises(ConfigError):
        profile_variant("ti", num_frames=8)  # must be frames=8


# ------------------------------------------------------------------------------------------ parameters
def test_params_by_component_sum_to_total() -> None:
    model = meta_small(qa_labels=7, mc_head=True, contrastive=True)
    params = count_params(model)
    assert params.unassigned == [] and "other" not in params.by_component
    assert params.total == sum(p.numel() for p in model.parameters())
    assert params.by_component["qa_head"] > 0 and params.by_component["mc_head"] > 0
    assert params.by_component["contrastive_proj"] == 2 * (192 * 512 + 512)
    assert set(params.by_component) <= set(COMPONENTS)
    assert count_state_dict(model.state_dict(), variant="ti").by_component == params.by_component


def test_unknown_parameter_is_listed_as_other() -> None:
    model = meta_small()
    model.extra_adapter = torch.nn.Linear(4, 4)
    params = count_params(model)
    assert params.by_component["other"] == 20
    assert params.unassigned == ["extra_adapter.weight", "extra_adapter.bias"]


def test_table1_rule_reproduces_paper_params() -> None:
    counts = {v: variant_params(v) for v in ("ti", "s", "b")}
    expected_t1 = {"ti": 11_430_914, "s": 33_553_154, "b": 109_867_010}
    for v, params in counts.items():
        assert params.variant == v
        assert params.table1 == expected_t1[v]
        assert abs(params.table1 - TABLE1_PARAMS[v]) < 0.6e6  # Table 1 rounds loosely (see params docstring)
        assert params.total - params.table1 - params.by_component["mlm_head"] == params.by_component["temporal_embed"]
        assert abs(params.total - TABLE1_PARAMS[v]) > 5e6  # counting the MLM head is not Table 1's rule
    assert round(counts["b"].table1 / 1e6) == 110
    # Table 1 is not self-consistent: the only set that keeps S under 33.5M gives Ti 11M, not 12M
    minimal = ("video_embed", "blocks", "final_norm", "text_embed")
    assert round(counts["s"].count(minimal) / 1e6) == 33 and round(counts["ti"].count(minimal) / 1e6) == 11
    # ViT-B/16 is 86.6M with its ImageNet head; without it, 85.8M: our backbone must be exactly that
    b = counts["b"].by_component
    assert b["video_embed"] + b["blocks"] + b["final_norm"] == 85_798_656


# ------------------------------------------------------------------------------------------ CLI
@pytest.fixture()
def cli_app() -> typer.Typer:
    app = typer.Typer()
    profile_cmds.register(app)
    return app


def test_cli_flops_json(cli_app: typer.Typer) -> None:
    args = ["flops", "--variant", "ti", "--frames", "2", "--text-len", "8", "--image-size", "32", "--json"]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    block = json.loads(result.output)
    assert block["unit"] == "MACs" and block["value"] > 0
    assert block["input_shape"]["video"] == [1, 2, 3, 32, 32] and block["input_shape"]["text"] == [1, 8]
    assert block["flops"] == 2 * block["macs"] == 2 * block["value"]


def test_cli_flops_table_names_units_and_shape(cli_app: typer.Typer) -> None:
    args = ["flops", "--variant", "ti", "--frames", "2", "--text-len", "8", "--image-size", "32", "--mode", "video"]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert "GMACs" in result.output and "GFLOPs" in result.output
    assert "video 1x2x3x32x32" in result.output and "aten.convolution" in result.output


def test_cli_params_all(cli_app: typer.Typer) -> None:
    result = CliRunner().invoke(cli_app, ["params", "--variant", "all"])
    assert result.exit_code == 0, result.output
    for figure in ("12M", "33M", "110M", "109.87", "33.55", "11.43"):
        assert figure in result.output
