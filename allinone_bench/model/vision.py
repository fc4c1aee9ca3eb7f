"""The ``transformer`` module: ViT patch embedding, prefix tokens, position/temporal embeddings, blocks, norm.

It owns every ``transformer.*`` tensor of the official checkpoints. The blocks are shared by the text-only,
video-only and joint passes (the model drives them); this module only embeds frames.
"""

from __future__ import annotations

import torch
from timm.layers import PatchEmbed, trunc_normal_
from torch import Tensor, nn

from allinone_bench.errors import ConfigError
from allinone_bench.model.config import AllInOneConfig
from allinone_bench.model.layers import BACKBONE_LN_EPS, Block


class VisionTransformer(nn.Module):
    """DeiT/ViT backbone without classifier head (official local ViT copy, no ``head`` / ``mask_token``)."""

    def __init__(self, config: AllInOneConfig) -> None:
        super().__init__()
        d = config.hidden_size
        self.config = config
        self.patch_embed = PatchEmbed(img_size=config.image_size, patch_size=config.patch_size, in_chans=3,
                                      embed_dim=d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        if config.distilled:
            self.dist_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, config.video_tokens_per_frame, d))
        # Zeros = no temporal embedding, which is what the released checkpoints (without this key) mean.
        # The distilled backbone keeps the tensor (checkpoints may hold it) but never adds it: frozen, so
        # DDP does not wait for its gradient.
        self.temporal_embed = nn.Parameter(torch.zeros(1, config.num_frames, d),
                                           requires_grad=config.uses_temporal_embed)
        self.pos_drop = nn.Dropout(config.drop_rate)
        # stochastic depth rising linearly over the blocks (plain Python so meta-device builds work)
        dpr = [config.drop_path_rate * i / max(config.depth - 1, 1) for i in range(config.depth)]
        self.blocks = nn.ModuleList(
            Block(d, config.num_heads, mlp_ratio=config.mlp_ratio, drop=config.drop_rate, drop_path=dpr[i],
                  fused_attn=config.fused_attn)
            for i in range(config.depth)
        )
        self.norm = nn.LayerNorm(d, eps=BACKBONE_LN_EPS)
        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)
        if config.distilled:
            trunc_normal_(self.dist_token, std=0.02)

    def prefix_tokens(self, n: int) -> Tensor:
        """(n, P, D) vision prefix tokens (cls [, dist]) with their position embeddings."""
        tokens = [self.cls_token] + ([self.dist_token] if self.config.distilled else [])
        prefix = torch.cat(tokens, dim=1) + self.pos_embed[:, : self.config.num_prefix_tokens]
        return prefix.expand(n, -1, -1)

    def embed_video(self, video: Tensor, permutation: Tensor | None = None) -> Tensor:
        """(B, T, 3, H, W) -> (B*T, L_v, D) frame-major tokens ``[cls (, dist) ; patches]``.

        Each patch gets its spatial position embedding and (non-distilled backbones) ``temporal_embed[t]``.
        ``permutation`` (B*T, N), if given, reorders the patch tokens of each frame; every token keeps its own
        embeddings, so only sequence positions change (which decides what the temporal roll moves).
        """
        cfg = self.config
        if video.dim() != 5 or video.shape[2] != 3:
            raise ConfigError(f"video must be (B, T, 3, H, W), got shape {tuple(video.shape)}")
        b, t, _, h, w = video.shape
        if (h, w) != (cfg.image_size, cfg.image_size):
            raise ConfigError(
                f"frames are {h}x{w} but the model was built for image_size {cfg.image_size}; "
                f"crop/resize frames to {cfg.image_size} or build with image_size={h}")
        patches = self.patch_embed(video.reshape(b * t, 3, h, w))  # (BT, N, D)
        pos = self.pos_embed[:, cfg.num_prefix_tokens :]
        if cfg.uses_temporal_embed:
            if t > self.temporal_embed.shape[1]:
                raise ConfigError(
                    f"video has {t} frames but temporal_embed holds {self.temporal_embed.shape[1]}; "
                    f"build the model with num_frames={t}")
            temporal = self.temporal_embed[0, :t].repeat(b, 1)[:, None, :]  # (BT, 1, D), frame-major
            patches = patches + pos + temporal
        else:
            patches = patches + pos
        if permutation is not None:
            index = permutation.to(patches.device)[..., None].expand(-1, -1, patches.shape[-1])
            patches = torch.gather(patches, 1, index)
        x = torch.cat([self.prefix_tokens(b * t), patches], dim=1)
        return self.pos_drop(x)
