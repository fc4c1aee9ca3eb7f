"""Official-style reference forward: the official joint pass written out from the reference file, for timing.

The official repository is not available here. This is an independent re-implementation of
``AllinoneTransformerSS.infer`` as the reference file (section 1) describes it, operating on a state dict with
the official key names: BertEmbeddings-style text embedding, conv patch embedding, the ViLT patch selection (a
``torch.multinomial`` permutation of every frame's patches on every pass), timm-0.4 explicit attention
(``softmax(q k^T * scale)`` with a ``-inf`` key mask, no fused kernel), temporal roll before every block, final
norm, mean over frames, pooler. It runs in fp32 (the reference's eval ran with ``precision: 16`` under Lightning
AMP on GPU; on CPU it runs fp32). ``bench model`` reports our forward beside it; its numbers are labelled
"official-style reference", never "official code".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _ln(x: Tensor, sd: dict[str, Tensor], key: str, eps: float) -> Tensor:
    return F.layer_norm(x, x.shape[-1:], sd[f"{key}.weight"], sd[f"{key}.bias"], eps)


def _roll(x: Tensor, frames: int, fold: int) -> Tensor:
    """TemporalRoll (v=0): positions 1..fold shift +1 in time, the last ``fold`` shift -1."""
    bt, n, d = x.shape
    v = x.view(bt // frames, frames, n, d)
    out = v.clone()
    out[:, :, 1:fold + 1] = torch.roll(v[:, :, 1:fold + 1], 1, dims=1)
    out[:, :, n - fold:] = torch.roll(v[:, :, n - fold:], -1, dims=1)
    return out.view(bt, n, d)


def _block(x: Tensor, sd: dict[str, Tensor], i: int, heads: int, key_mask: Tensor) -> Tensor:
    p = f"transformer.blocks.{i}"
    b, n, d = x.shape
    h = _ln(x, sd, f"{p}.norm1", 1e-6)
    qkv = F.linear(h, sd[f"{p}.attn.qkv.weight"], sd[f"{p}.attn.qkv.bias"])
    q, k, v = qkv.reshape(b, n, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
    attn = (q @ k.transpose(-2, -1)) * (d // heads) ** -0.5
    attn = attn.masked_fill(~key_mask[:, None, None, :], float("-inf")).softmax(dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(b, n, d)
    x = x + F.linear(out, sd[f"{p}.attn.proj.weight"], sd[f"{p}.attn.proj.bias"])
    h = _ln(x, sd, f"{p}.norm2", 1e-6)
    h = F.gelu(F.linear(h, sd[f"{p}.mlp.fc1.weight"], sd[f"{p}.mlp.fc1.bias"]))
    return x + F.linear(h, sd[f"{p}.mlp.fc2.weight"], sd[f"{p}.mlp.fc2.bias"])


def official_style_forward(sd: dict[str, Tensor], video: Tensor, ids: Tensor, mask: Tensor, *, heads: int,
                           depth: int = 12, patch: int = 16, roll_div: int = 8, permute: bool = True) -> Tensor:
    """``cls_feats`` of the joint pass for ``video (B, T, 3, H, W)`` and ``ids``/``mask`` ``(B, Lt)``.

    ``permute=False`` skips the random patch selection (then it equals our model with permutation off).
    """
    b, t = video.shape[:2]
    lt = ids.shape[1]
    # text: word + position + token-type(0), LayerNorm (eps 1e-12), + modality 0, copied to every frame
    e_t = sd["text_embeddings.word_embeddings.weight"][ids] + sd["text_embeddings.position_embeddings.weight"][:lt]
    e_t = e_t + sd["text_embeddings.token_type_embeddings.weight"][0]
    e_t = _ln(e_t, sd, "text_embeddings.LayerNorm", 1e-12) + sd["token_type_embeddings.weight"][0]
    e_t = e_t.repeat_interleave(t, dim=0)
    m_t = mask.bool().repeat_interleave(t, dim=0)
    # video: patch conv, per-frame random patch selection (ViLT, max_image_len=-1), cls + pos, + modality 1
    frames = video.flatten(0, 1)
    x = F.conv2d(frames, sd["transformer.patch_embed.proj.weight"], sd["transformer.patch_embed.proj.bias"],
                 stride=patch)
    x = x.flatten(2).transpose(1, 2)
    pos = sd["transformer.pos_embed"]
    x = x + pos[:, 1:]
    n = x.shape[1]
    if permute:
        select = torch.stack([torch.multinomial(torch.ones(n), n) for _ in range(x.shape[0])]).to(x.device)
        x = torch.gather(x, 1, select[..., None].expand(-1, -1, x.shape[-1]))
    cls = (sd["transformer.cls_token"] + pos[:, :1]).expand(x.shape[0], -1, -1)
    e_v = torch.cat([cls, x], dim=1) + sd["token_type_embeddings.weight"][1]
    x = torch.cat([e_t, e_v], dim=1)
    key_mask = torch.cat([m_t, torch.ones(x.shape[0], e_v.shape[1], dtype=torch.bool, device=x.device)], dim=1)
    fold = e_v.shape[1] // roll_div
    for i in range(depth):
        x = torch.cat([x[:, :lt], _roll(x[:, lt:], t, fold)], dim=1)
        x = _block(x, sd, i, heads, key_mask)
    x = _ln(x, sd, "transformer.norm", 1e-6)
    x = x.view(b, t, *x.shape[1:]).mean(dim=1)
    return torch.tanh(F.linear(x[:, 0], sd["pooler.dense.weight"], sd["pooler.dense.bias"]))
