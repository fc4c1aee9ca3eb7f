"""Official-layout checkpoints for tests, written from the reference key list (section 3.2), not from our model.

The key names and shapes below are transcribed from ``allinone_official_code.md`` section 3.2 so the
checkpoint tests check our parameter names against the official ones instead of against themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

WIDTHS: dict[str, int] = {"ti": 192, "s": 384, "b": 768}


class ReadOnlyDict(dict):
    """Stands in for sacred's ReadOnlyDict, which the official Lightning checkpoints pickle as hparams."""


def official_keys(variant: str, *, depth: int = 12) -> list[str]:
    """Every state-dict key of an official pretrained checkpoint (``temporal_embed`` excluded, as released)."""
    keys = [
        "text_embeddings.position_ids",
        "text_embeddings.word_embeddings.weight",
        "text_embeddings.position_embeddings.weight",
        "text_embeddings.token_type_embeddings.weight",
        "text_embeddings.LayerNorm.weight",
        "text_embeddings.LayerNorm.bias",
        "token_type_embeddings.weight",
        "transformer.cls_token",
        "transformer.pos_embed",
        "transformer.patch_embed.proj.weight",
        "transformer.patch_embed.proj.bias",
    ]
    if variant == "s":
        keys.append("transformer.dist_token")
    for i in range(depth):
        for part in ("norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
                     "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                     "mlp.fc2.weight", "mlp.fc2.bias"):
            keys.append(f"transformer.blocks.{i}.{part}")
    keys += [
        "transformer.norm.weight", "transformer.norm.bias",
        "pooler.dense.weight", "pooler.dense.bias",
        "itm_score.fc.weight", "itm_score.fc.bias",
        "mlm_score.bias",
        "mlm_score.transform.dense.weight", "mlm_score.transform.dense.bias",
        "mlm_score.transform.LayerNorm.weight", "mlm_score.transform.LayerNorm.bias",
        "mlm_score.decoder.weight",
    ]
    return keys


def _shape(key: str, d: int, *, vocab: int, max_text_len: int, pos_rows: int, patch: int,
           temporal_frames: int) -> tuple[int, ...]:
    table: dict[str, tuple[int, ...]] = {
        "text_embeddings.position_ids": (1, max_text_len),
        "text_embeddings.word_embeddings.weight": (vocab, d),
        "text_embeddings.position_embeddings.weight": (max_text_len, d),
        "text_embeddings.token_type_embeddings.weight": (2, d),
        "token_type_embeddings.weight": (2, d),
        "transformer.cls_token": (1, 1, d),
        "transformer.dist_token": (1, 1, d),
        "transformer.pos_embed": (1, pos_rows, d),
        "transformer.temporal_embed": (1, temporal_frames, d),
        "transformer.patch_embed.proj.weight": (d, 3, patch, patch),
        "pooler.dense.weight": (d, d),
        "itm_score.fc.weight": (2, d),
        "itm_score.fc.bias": (2,),
        "mlm_score.bias": (vocab,),
        "mlm_score.transform.dense.weight": (d, d),
        "mlm_score.decoder.weight": (vocab, d),
    }
    if key in table:
        return table[key]
    suffix = key.split(".blocks.", 1)[-1].split(".", 1)[-1] if ".blocks." in key else ""
    block_shapes = {
        "attn.qkv.weight": (3 * d, d), "attn.qkv.bias": (3 * d,),
        "attn.proj.weight": (d, d),
        "mlp.fc1.weight": (4 * d, d), "mlp.fc1.bias": (4 * d,),
        "mlp.fc2.weight": (d, 4 * d),
    }
    return block_shapes.get(suffix, (d,))  # every remaining key is a D-vector (LN weight/bias, biases)


def official_state_dict(variant: str, *, depth: int = 12, image_size: int = 224, patch: int = 16,
                        vocab: int = 30522, max_text_len: int = 40, temporal_frames: int | None = None,
                        itm_name: str = "itm_score", seed: int = 0) -> dict[str, Tensor]:
    """Random tensors under the official names/shapes of ``variant`` (``ti`` / ``s`` / ``b``)."""
    d = WIDTHS[variant]
    prefix = 2 if variant == "s" else 1
    pos_rows = prefix + (image_size // patch) ** 2
    keys = official_keys(variant, depth=depth)
    if temporal_frames is not None:
        keys.append("transformer.temporal_embed")
    gen = torch.Generator().manual_seed(seed)
    sd: dict[str, Tensor] = {}
    for key in keys:
        shape = _shape(key, d, vocab=vocab, max_text_len=max_text_len, pos_rows=pos_rows, patch=patch,
                       temporal_frames=temporal_frames or 0)
        if key == "text_embeddings.position_ids":
            sd[key] = torch.arange(max_text_len).unsqueeze(0)
        else:
            sd[key] = torch.randn(*shape, generator=gen) * 0.05
    if itm_name != "itm_score":
        sd = {(itm_name + k[len("itm_score"):] if k.startswith("itm_score.") else k): v for k, v in sd.items()}
    return sd


def write_lightning_ckpt(path: Path, state_dict: dict[str, Tensor], *, hparams: Any = None) -> Path:
    """Save like PyTorch Lightning 1.1.x: weights under ``state_dict`` plus training metadata."""
    payload = {
        "epoch": 0,
        "global_step": 0,
        "pytorch-lightning_version": "1.1.4",
        "state_dict": state_dict,
        "optimizer_states": [],
        "lr_schedulers": [],
        "hyper_parameters": hparams if hparams is not None else {"config": {"vit": "vit_deit_tiny_patch16_224"}},
    }
    torch.save(payload, path)
    return path
