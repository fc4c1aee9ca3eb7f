"""Transformer building blocks with the official parameter names (``qkv``, ``proj``, ``norm1``, ``mlp.fc1`` ...).

Attention has two numerically equivalent kernels: PyTorch's fused ``scaled_dot_product_attention`` (fast,
default) and an explicit ``softmax(QK^T / sqrt(d)) V`` that materialises the attention matrix, which FLOP
counters and debugging need. Masks are boolean, ``True`` = the key takes part (masked keys get ``-inf``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import DropPath, Mlp
from torch import Tensor, nn

BACKBONE_LN_EPS = 1e-6  # the ViT copy uses partial(nn.LayerNorm, eps=1e-6)
BERT_LN_EPS = 1e-12  # BertEmbeddings / BertPredictionHeadTransform


class Attention(nn.Module):
    """Multi-head self-attention, ``qkv`` Linear(D, 3D, bias) + ``proj`` Linear(D, D)."""

    def __init__(self, dim: int, num_heads: int, *, qkv_bias: bool = True, proj_drop: float = 0.0,
                 fused: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused = fused
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """``x`` (B, L, D); ``mask`` bool broadcastable to (B, heads, L, L), ``True`` = attend."""
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.fused:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            attn = (q @ k.transpose(-2, -1)) * self.scale
            if mask is not None:
                attn = attn.masked_fill(~mask, float("-inf"))
            out = attn.softmax(dim=-1) @ v
        out = out.transpose(1, 2).reshape(b, n, d)
        return self.proj_drop(self.proj(out))


class Block(nn.Module):
    """Pre-norm ViT block: ``x + DropPath(Attn(LN1(x)))``, ``x + DropPath(MLP(LN2(x)))``."""

    def __init__(self, dim: int, num_heads: int, *, mlp_ratio: float = 4.0, drop: float = 0.0,
                 drop_path: float = 0.0, fused_attn: bool = True) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=BACKBONE_LN_EPS)
        self.attn = Attention(dim, num_heads, qkv_bias=True, proj_drop=drop, fused=fused_attn)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=BACKBONE_LN_EPS)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=nn.GELU, drop=drop)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class TextEmbeddings(nn.Module):
    """BERT-style text embeddings: word + absolute position + BERT token-type(0), LayerNorm(1e-12), dropout.

    Same parameter names and arithmetic as ``transformers``' ``BertEmbeddings`` (the official code instantiates
    that class); a local module keeps the forward independent of that class's changing signature across
    transformers releases. ``position_ids`` is a non-persistent buffer: old checkpoints carry it, it is ignored.
    """

    def __init__(self, vocab_size: int, hidden_size: int, max_positions: int, *, type_vocab_size: int = 2,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_positions, hidden_size)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=BERT_LN_EPS)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("position_ids", torch.arange(max_positions).unsqueeze(0), persistent=False)

    def forward(self, input_ids: Tensor) -> Tensor:
        seq_len = input_ids.shape[1]
        if seq_len > self.position_embeddings.num_embeddings:
            from allinone_bench.errors import ConfigError

            raise ConfigError(
                f"text of {seq_len} tokens exceeds the model's max_text_len "
                f"{self.position_embeddings.num_embeddings}; tokenise with max_len <= max_text_len")
        positions = self.position_ids[:, :seq_len]
        x = self.word_embeddings(input_ids)
        x = x + self.token_type_embeddings(torch.zeros_like(input_ids))
        x = x + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))


def key_padding_mask(valid: Tensor) -> Tensor:
    """(B, L) validity -> (B, 1, 1, L) boolean attention mask (broadcast over heads and queries)."""
    return valid.bool()[:, None, None, :]


def causal_text_mask(text_valid: Tensor, num_video_tokens: int) -> Tensor:
    """(B, Lt) text validity -> (B, 1, L, L) mask for captioning, L = Lt + ``num_video_tokens``.

    Text query i attends to text keys j <= i and to every video key; video queries attend to video keys only,
    so nothing about later text can reach earlier text through the video tokens (or through the roll).
    """
    b, lt = text_valid.shape
    total = lt + num_video_tokens
    device = text_valid.device
    q = torch.arange(total, device=device)[:, None]
    k = torch.arange(total, device=device)[None, :]
    is_text_q, is_text_k = q < lt, k < lt
    structure = (is_text_q & is_text_k & (k <= q)) | (~is_text_k)
    valid = torch.cat([text_valid.bool(), text_valid.new_ones(b, num_video_tokens, dtype=torch.bool)], dim=1)
    return structure[None, None] & valid[:, None, None, :]
