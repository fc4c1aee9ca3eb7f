"""Mapping checkpoint keys onto the model and checking them: renames, config inference, strict loading.

Every tensor is accounted for in a :class:`~allinone_bench.model.checkpoint_report.LoadReport` (see there for
the categories). Strict loading (the default) refuses any missing, unexpected or mis-shaped tensor *before*
touching the model, with a message naming the offending keys. This works on in-memory state dicts only, so it
does not depend on how (or from which format) a file was read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from allinone_bench.errors import CheckpointError, ConfigError
from allinone_bench.model.allinone import TASK_HEAD_PREFIXES, AllInOne
from allinone_bench.model.checkpoint_report import LoadReport, first_keys
from allinone_bench.model.config import AllInOneConfig
from allinone_bench.model.heads import classifier_output_key

__all__ = [
    "IGNORABLE_KEYS",
    "KEY_RENAMES",
    "STRIPPABLE_PREFIXES",
    "TEMPORAL_KEY",
    "TEXT_POS_KEY",
    "WIDTH_TO_VARIANT",
    "apply_state_dict",
    "infer_config",
    "normalise_keys",
]

TEMPORAL_KEY = "transformer.temporal_embed"
TEXT_POS_KEY = "text_embeddings.position_embeddings.weight"
IGNORABLE_KEYS: frozenset[str] = frozenset({"text_embeddings.position_ids"})
KEY_RENAMES: tuple[tuple[str, str], ...] = (("vtm_score.", "itm_score."),)  # B+ / CoTraining naming
STRIPPABLE_PREFIXES: tuple[str, ...] = ("module.", "model.")
WIDTH_TO_VARIANT: dict[int, tuple[str, int]] = {192: ("ti", 3), 384: ("s", 6), 768: ("b", 12)}


def normalise_keys(state_dict: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Strip a ``module.``/``model.`` prefix shared by all keys and apply :data:`KEY_RENAMES`.

    Returns the new dict and ``{original key: new key}`` for every key that changed. A renamed key that would
    collide with an existing one is left as is (it then shows up as unexpected).
    """
    keys = list(state_dict)
    prefix = ""
    changed = True
    while changed and keys:
        changed = False
        for candidate in STRIPPABLE_PREFIXES:
            if all(k.startswith(prefix + candidate) for k in keys):
                prefix += candidate
                changed = True
    out: dict[str, Tensor] = {}
    renamed: dict[str, str] = {}
    stripped = {k: k[len(prefix):] for k in keys}
    present = set(stripped.values())
    for original, key in stripped.items():
        new = key
        for old_prefix, new_prefix in KEY_RENAMES:
            if key.startswith(old_prefix):
                target = new_prefix + key[len(old_prefix):]
                if target not in present:
                    new = target
        if new != original:
            renamed[original] = new
        out[new] = state_dict[original]
    return out, renamed


def infer_config(state_dict: Mapping[str, Tensor], **overrides: Any) -> AllInOneConfig:
    """The :class:`AllInOneConfig` a state dict was made for (width, heads, distilled, depth, sizes, heads).

    Width comes from the word embeddings (192/384/768 -> ti/s/b with 3/6/12 heads), distillation from
    ``transformer.dist_token`` or a pos_embed of ``2 + grid^2`` rows, ``max_text_len`` from the text position
    embeddings, ``num_frames`` from ``temporal_embed`` when present (else the default 3).
    """
    sd, _ = normalise_keys(state_dict)
    word = sd.get("text_embeddings.word_embeddings.weight")
    pos = sd.get("transformer.pos_embed")
    patch = sd.get("transformer.patch_embed.proj.weight")
    if word is None or pos is None or patch is None:
        needed = ["text_embeddings.word_embeddings.weight", "transformer.pos_embed",
                  "transformer.patch_embed.proj.weight"]
        absent = [k for k in needed if k not in sd]
        raise CheckpointError(
            f"not an All-in-One checkpoint: missing {absent} (first keys: {first_keys(sorted(sd))})")
    vocab, width = word.shape
    variant, heads = WIDTH_TO_VARIANT.get(width, ("custom", max(1, width // 64)))
    patch_size = patch.shape[-1]
    rows = pos.shape[1]
    distilled = "transformer.dist_token" in sd
    if not distilled and not _is_square(rows - 1) and _is_square(rows - 2):
        distilled = True
    prefix = 2 if distilled else 1
    if not _is_square(rows - prefix):
        raise CheckpointError(f"transformer.pos_embed has {rows} rows: not {prefix} prefix token(s) + a square grid")
    grid = math.isqrt(rows - prefix)
    block_ids = {int(m.group(1)) for k in sd if (m := re.match(r"transformer\.blocks\.(\d+)\.", k))}
    if not block_ids:
        raise CheckpointError("not an All-in-One checkpoint: no transformer.blocks.N.* keys")
    fc1 = sd.get("transformer.blocks.0.mlp.fc1.weight")
    values: dict[str, Any] = {
        "variant": variant,
        "hidden_size": int(width),
        "num_heads": heads,
        "depth": max(block_ids) + 1,
        "mlp_ratio": float(fc1.shape[0] / width) if fc1 is not None else 4.0,
        "distilled": distilled,
        "image_size": int(grid * patch_size),
        "patch_size": int(patch_size),
        "max_text_len": int(sd[TEXT_POS_KEY].shape[0]) if TEXT_POS_KEY in sd else 40,
        "vocab_size": int(vocab),
    }
    if TEMPORAL_KEY in sd:
        values["num_frames"] = int(sd[TEMPORAL_KEY].shape[1])
    qa_key = classifier_output_key("vqa_classifier")
    if qa_key in sd:
        values["qa_labels"] = int(sd[qa_key].shape[0])
    if "mc_vqa_classifier.1.weight" in sd:
        values["mc_head"] = True
    if "txt_proj.weight" in sd:
        values["contrastive"] = True
        values["contrastive_dim"] = int(sd["txt_proj.weight"].shape[0])
    values.update(overrides)
    try:
        return AllInOneConfig(**values)
    except TypeError as exc:
        raise ConfigError(f"model override not understood: {exc}") from exc


def _is_square(n: int) -> bool:
    return n > 0 and math.isqrt(n) ** 2 == n


def _hints(report: LoadReport, state: Mapping[str, Tensor], model: AllInOne) -> str:
    """Suggestions for common mismatches (wrong variant, max_text_len, task heads)."""
    hints = []
    try:
        inferred = infer_config(state)
    except (CheckpointError, ConfigError):
        return " The file does not look like an All-in-One checkpoint."
    cfg = model.config
    if (inferred.hidden_size, inferred.distilled) != (cfg.hidden_size, cfg.distilled):
        hints.append(f"the checkpoint looks like variant {inferred.variant!r} ({inferred.hidden_size}-d"
                     f"{', distilled' if inferred.distilled else ''}) but the model is {cfg.variant!r} "
                     f"({cfg.hidden_size}-d{', distilled' if cfg.distilled else ''})")
    if inferred.max_text_len != cfg.max_text_len and TEXT_POS_KEY in state:
        hints.append(f"the checkpoint has {inferred.max_text_len} text positions, the model max_text_len="
                     f"{cfg.max_text_len}: build with max_text_len={inferred.max_text_len} or pass "
                     "resize_text_positions=True")
    if inferred.qa_labels is not None and inferred.qa_labels != cfg.qa_labels:
        hints.append(f"the checkpoint has a vqa_classifier with {inferred.qa_labels} labels: build with "
                     f"qa_labels={inferred.qa_labels}")
    if inferred.mc_head and not cfg.mc_head:
        hints.append("the checkpoint has a mc_vqa_classifier: build with mc_head=True")
    if inferred.contrastive and not cfg.contrastive:
        hints.append("the checkpoint has txt_proj/vid_proj: build with contrastive=True")
    return (" Hint: " + "; ".join(hints) + ".") if hints else ""


# ====================================================================== loading
def apply_state_dict(model: AllInOne, state_dict: Mapping[str, Tensor], *, strict: bool = True,
                     resize_text_positions: bool = False, source: str = "<state dict>") -> LoadReport:
    """Load ``state_dict`` into ``model`` and account for every key (see :class:`LoadReport`).

    ``strict`` refuses missing/unexpected/mis-shaped tensors before anything is copied.
    ``transformer.temporal_embed`` with another frame count is truncated or zero-padded (the official
    ``_inflate_positional_embeds`` rule). ``resize_text_positions`` copies the first rows of text position
    embeddings when ``max_text_len`` differs (the rest keep their fresh init; the official fine-tuning code
    re-initialises all of them instead); without it a different ``max_text_len`` is a shape mismatch.
    """
    report = LoadReport(source=source, strict=strict)
    state, report.renamed = normalise_keys(state_dict)
    targets = model.state_dict()
    to_copy: dict[str, Tensor] = {}
    for key, tensor in state.items():
        if key in IGNORABLE_KEYS:
            report.ignored.append(key)
            expected = torch.arange(tensor.shape[-1])
            if key.endswith("position_ids") and not torch.equal(tensor.reshape(-1).cpu().long(), expected):
                report.notes.append(f"{key} is not 0..L-1; positions are always 0..L-1 here")
            continue
        if key not in targets:
            report.unexpected.append(key)
            continue
        target = targets[key]
        if tensor.shape == target.shape:
            to_copy[key] = tensor
        elif key == TEMPORAL_KEY and tensor.dim() == 3 and tensor.shape[2] == target.shape[2]:
            to_copy[key] = _fit_rows(tensor, target.shape[1], dim=1)
            report.resized.append(key)
            report.notes.append(f"{key}: checkpoint has {tensor.shape[1]} frames, model {target.shape[1]}; "
                                "truncated/zero-padded as the official loader does")
        elif key == TEXT_POS_KEY and resize_text_positions and tensor.shape[1:] == target.shape[1:]:
            to_copy[key] = _fit_rows(tensor, target.shape[0], dim=0, fill=target)
            report.resized.append(key)
            report.notes.append(f"{key}: checkpoint has {tensor.shape[0]} text positions, model "
                                f"{target.shape[0]}; first rows copied, extra rows keep their fresh init")
        else:
            report.shape_mismatches.append((key, tuple(tensor.shape), tuple(target.shape)))
    for key in targets:
        if key in state:
            continue
        if key == TEMPORAL_KEY:
            report.defaulted.append(key)
            report.notes.append(f"{key} absent (as in the released checkpoints): zeros, i.e. no temporal embedding")
        elif key.startswith(TASK_HEAD_PREFIXES):
            report.initialised.append(key)
        else:
            report.missing.append(key)
    if TEMPORAL_KEY in state and model.config.distilled:
        report.notes.append(f"{TEMPORAL_KEY} loaded but unused: the distilled (S) backbone never adds it")
    if report.initialised:
        heads = sorted({k.split(".", 1)[0] for k in report.initialised})
        report.notes.append(f"task head(s) {heads} not in the checkpoint: freshly initialised (expected for "
                            "released pretrained checkpoints)")
    if strict and not report.ok:
        raise CheckpointError(f"checkpoint {source} does not fit the model (variant {model.config.variant!r}, "
                              f"{model.config.hidden_size}-d): {report.problems()}.{_hints(report, state, model)}"
                              " Pass strict=False to load only the tensors that fit.")
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    with torch.no_grad():
        for key, tensor in to_copy.items():
            dest = params.get(key, buffers.get(key))
            assert dest is not None  # every target key is a parameter or persistent buffer
            dest.copy_(tensor.to(dtype=dest.dtype, device=dest.device))
            report.loaded.append(key)
        if TEMPORAL_KEY in report.defaulted:
            params[TEMPORAL_KEY].zero_()
    return report


def _fit_rows(tensor: Tensor, rows: int, *, dim: int, fill: Tensor | None = None) -> Tensor:
    """Truncate ``tensor`` along ``dim`` to ``rows`` or pad it (with ``fill``'s rows, else zeros)."""
    have = tensor.shape[dim]
    if have >= rows:
        return tensor.narrow(dim, 0, rows).clone()
    base = fill.detach().clone().to(tensor.dtype) if fill is not None else tensor.new_zeros(
        *tensor.shape[:dim], rows, *tensor.shape[dim + 1:])
    base.narrow(dim, 0, have).copy_(tensor)
    return base
