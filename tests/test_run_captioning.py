"""Captioning kind (YouCook2, TVC): decoding (greedy, beam search) on toy language models and on the tiny
All-in-One, SwinBERT masking, and end-to-end runs through ``run_task`` on the synthetic sets."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from allinone_bench.data.tokenizer import load_tokenizer
from allinone_bench.engine import RunOptions, run_task
from allinone_bench.model import build_model
from allinone_bench.report.results import read_results
from allinone_bench.tasks import get_kind, load_task
from allinone_bench.tasks.captioning import beam_search, greedy_decode

BOS, EOS, VOCAB = 1, 2, 6
SMOKE = {"finetune.epochs": 1, "finetune.max_steps": 1, "synthetic.num_videos": 8, "options.max_gen_len": 6}


def markov_step(table: dict[int, dict[int, float]]) -> Any:
    """A step function whose next-token distribution depends on the last token only."""

    def step(rows: torch.Tensor, prefixes: torch.Tensor) -> torch.Tensor:
        out = torch.full((prefixes.shape[0], VOCAB), float("-inf"))
        for i, last in enumerate(prefixes[:, -1].tolist()):
            for tok, p in table[last].items():
                out[i, tok] = math.log(p)
        return out.log_softmax(dim=-1)

    return step


def random_step(seed: int) -> Any:
    """A step function with pseudo-random (but prefix-determined) next-token log-probabilities per item."""

    def step(rows: torch.Tensor, prefixes: torch.Tensor) -> torch.Tensor:
        out = []
        for row, prefix in zip(rows.tolist(), prefixes.tolist(), strict=True):
            gen = torch.Generator().manual_seed(hash((seed, row, tuple(prefix))) % (2**31))
            logits = 3.0 * torch.randn(VOCAB, generator=gen)
            logits[EOS] += 0.5 * len(prefix) - 2.0  # ending gets likelier with length
            out.append(logits)
        return torch.stack(out).log_softmax(dim=-1)

    return step


# Greedy takes 3 (0.5) then 5 then [SEP]: p = 0.5 * 0.36 * 0.98 = 0.18; "4 [SEP]" has p = 0.45 * 0.95 = 0.43.
TRAP = {BOS: {3: 0.5, 4: 0.45, EOS: 0.05}, 3: {5: 0.36, 4: 0.34, EOS: 0.3}, 5: {EOS: 0.98, 3: 0.02},
        4: {EOS: 0.95, 5: 0.05}}


def test_beam_search_finds_the_likelier_caption_greedy_misses() -> None:
    step = markov_step(TRAP)
    common: dict[str, Any] = {"bos": BOS, "eos": EOS, "max_len": 5}
    assert greedy_decode(step, 2, **common) == [[3, 5], [3, 5]]
    assert beam_search(step, 2, beam_size=2, length_penalty=1.0, **common) == [[4], [4]]
    assert beam_search(step, 1, beam_size=1, **common) == [[3, 5]]


@pytest.mark.parametrize("seed", range(6))
def test_beam_size_one_is_greedy(seed: int) -> None:
    step = random_step(seed)
    common: dict[str, Any] = {"bos": BOS, "eos": EOS, "max_len": 7, "min_len": seed % 3}
    greedy = greedy_decode(step, 5, **common)
    assert beam_search(step, 5, beam_size=1, **common) == greedy
    assert all(len(ids) <= 7 for ids in greedy)
    assert all(len(ids) >= seed % 3 for ids in greedy)


def test_decoding_limits_and_banned_tokens() -> None:
    never_ends = {t: {3: 0.6, 4: 0.3, EOS: 0.1} for t in (BOS, 3, 4)}
    banned = torch.zeros(VOCAB, dtype=torch.bool)
    banned[3] = True
    for k in (1, 3):
        out = beam_search(markov_step(never_ends), 1, beam_size=k, bos=BOS, eos=EOS, max_len=4, min_len=4,
                          banned=banned)
        assert out == [[4, 4, 4, 4]]  # [SEP] refused before min_len, 3 never generated, cut at max_len


def _tiny_kind(**overrides: Any) -> tuple[Any, torch.nn.Module]:
    cfg = load_task("youcook2_caption", synthetic=True,
                    overrides={"protocol.text.max_len": 6, **{f"options.{k}": v for k, v in overrides.items()}})
    kind = get_kind("captioning")(cfg, load_tokenizer())
    torch.manual_seed(0)
    model = build_model("ti", depth=1, patch_size=8, image_size=32, num_frames=2, max_text_len=6).eval()
    return kind, model


@pytest.mark.parametrize("objective", ["next_token", "swinbert"])
def test_model_decoding_greedy_equals_beam_one_and_gives_strings(objective: str) -> None:
    kind, model = _tiny_kind(objective=objective)
    video = torch.randn(2, 2, 3, 32, 32)
    tok = kind.tokenizer
    with torch.no_grad():
        greedy = kind.generate(model, video, beam_size=1)
        beam1 = beam_search(kind.step_fn(model, video), 2, beam_size=1, bos=tok.cls_id, eos=tok.sep_id,
                            max_len=kind.max_gen_len, min_len=1, banned=kind.banned)
    assert greedy == [tok.decode(ids) for ids in beam1]
    assert kind.max_gen_len == 5  # max_len 6 positions: [CLS] + at most 5 generated tokens
    for text in greedy:
        assert isinstance(text, str) and text.strip() and "[" not in text  # special tokens are never generated


def test_swinbert_masking_and_both_losses() -> None:
    kind, model = _tiny_kind(objective="swinbert", mask_prob=0.5)
    ids, mask = kind.encode_text(["a red circle moves left"])
    rng = np.random.default_rng(0)
    masked, labels = kind.mask_caption(ids[0], mask[0], rng)
    picked = labels != -100
    assert picked.any() and not picked[0] and not picked[mask[0] == 0].any()  # never [CLS] nor padding
    assert (masked[picked] == kind.tokenizer.mask_id).all() and (labels[picked] == ids[0][picked]).all()
    assert (masked[~picked] == ids[0][~picked]).all()
    video = torch.randn(1, 2, 3, 32, 32)
    batch = {"video": video, "text_ids": masked[None], "text_mask": mask, "labels": labels[None]}
    assert torch.isfinite(kind.loss(model, batch).loss)
    next_kind, _ = _tiny_kind(objective="next_token")
    out = next_kind.loss(model, {"video": video, "text_ids": ids, "text_mask": mask})
    assert torch.isfinite(out.loss) and out.loss.requires_grad


# ------------------------------------------------------------------------------------------ end to end
def _check(result: Any) -> dict[str, Any]:
    data = read_results(result.results_path)
    metrics = data["metrics"]
    for name in ("bleu4", "rouge_l", "cider"):
        assert metrics[name] is not None and metrics[name] >= 0.0
    extra = data["protocol"]["extra"]
    (setting,) = [m for m in extra["metrics"] if m["metric"] == "captioning"]
    assert setting["tokenizer"] == "auto" and setting["keys"] == ["bleu4", "meteor", "rouge_l", "cider"]
    if shutil.which("java"):
        assert setting["tokenizer_used"] == "ptb" and metrics["meteor"] is not None
        assert "nonstandard_tokenizer" not in metrics
    else:  # synthetic runs fall back to the flagged simple tokenizer; METEOR needs Java
        assert setting["tokenizer_used"] == "simple" and metrics["nonstandard_tokenizer"] == 1.0
        assert metrics["meteor"] is None and setting["notes"]
    assert "ours" in extra["protocol_source"]
    assert data["n_samples"]["evaluated"] == len(result.records) > 0
    for rec in result.records:
        assert isinstance(rec["prediction"], str) and rec["references"]
    lines = (result.run_dir / data["predictions"]).read_text().splitlines()
    assert len(lines) == len(result.records)
    return data


@pytest.mark.slow
def test_youcook2_captioning_runs_end_to_end(tmp_path: Path) -> None:
    result = run_task(RunOptions(task="youcook2_caption", output_dir=tmp_path, overrides=SMOKE, count_flops=False))
    data = _check(result)
    assert data["protocol"]["extra"]["objective"] == "next_token" and data["protocol"]["scoring"] == "greedy decoding"
    assert not data["selection_split"]["uses_test"]  # val = holdout of train videos
    val = data["finetune"]["history"][-1]["val"]
    assert "cider" in val and "meteor" not in val  # selection needs CIDEr only; METEOR (a JVM) runs on test


@pytest.mark.slow
def test_tvc_captioning_swinbert_beam_runs_end_to_end(tmp_path: Path) -> None:
    overrides = {**SMOKE, "options.objective": "swinbert", "options.beam_size": 2}
    result = run_task(RunOptions(task="tvc_caption", output_dir=tmp_path, overrides=overrides, count_flops=False))
    data = _check(result)
    assert data["protocol"]["extra"]["beam_size"] == 2 and data["protocol"]["extra"]["objective"] == "swinbert"
    assert any(len(rec["references"]) > 1 for rec in result.records)  # TVC moments have several descriptions
