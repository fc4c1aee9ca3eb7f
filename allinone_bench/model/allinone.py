"""All-in-One: one shared Transformer over text and video tokens, with temporal token rolling.

Joint pass (``forward``), official layout (``AllinoneTransformerSS.infer`` in
AllInOne/modules/allinone_module.py): per frame the sequence
``[text (type 0) ; vision cls (, dist) ; patches (type 1)]``, the text copied to every frame, attention run
per frame (B*T sequences), the video tokens rolled between neighbouring frames before every block, a final
LayerNorm, and the mean over frames. The pooler reads the text [CLS] position.

``rolling`` (config) chooses how frames talk to each other in the joint pass:

* ``"roll"``: the official temporal token rolling (:mod:`allinone_bench.model.rolling`).
* ``"none"``: no exchange, frames are independent until the final mean (ablation lower bound).
* ``"flatten"``: one joint sequence per clip, ``[text once ; frame 0 video tokens ; ... ; frame T-1 video
  tokens]`` (length ``Lt + T * L_v``), full attention across frames and no roll, the paper's Fig. 3
  "flatten" baseline. Text is not copied; ``video_feats`` is still reported as the mean over frames of each
  frame's tokens so every mode returns the same shapes.

The text-only (``encode_text``) and video-only (``encode_video``) passes never roll and never permute.

``patch_permutation="seeded"`` reproduces the official random patch order (a fresh permutation of each
frame's patch tokens on every joint forward) from a ``torch.Generator`` seeded with ``permutation_seed``
(:meth:`AllInOne.reset_permutation` restarts the stream). Each token keeps its own position embedding, so only
which patches the roll moves changes. ``video_feats`` are returned in raster patch order either way (the
permutation is undone per frame before the frame mean; the official code averages permuted positions, which
only matters for per-patch video features, not for ``cls_feats`` / ``text_feats``).

``causal_text=True`` (captioning, any rolling mode): text token i attends to text tokens <= i and to every
video token; video tokens attend to video tokens only. Video tokens therefore never carry text, so no later
text reaches earlier text through them or through the roll.

Deliberate differences from the official code (none changes a released model's ``cls_feats`` with
``patch_permutation="off"``): the official "valid patch" rule (a patch whose top-left pixel sums to exactly 0
over channels is masked) is not emulated, every patch is valid; the text-only pass runs once instead of on T
identical copies; with fewer than ``roll_div`` video tokens per frame (tiny test frames only) ``fold`` is 0
and nothing rolls.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from allinone_bench.errors import ConfigError
from allinone_bench.model.config import ROLLING_MODES, AllInOneConfig
from allinone_bench.model.heads import ITMHead, MLMHead, Pooler, mc_qa_classifier, open_qa_classifier
from allinone_bench.model.layers import Attention, TextEmbeddings, causal_text_mask, key_padding_mask
from allinone_bench.model.rolling import temporal_roll
from allinone_bench.model.vision import VisionTransformer

TEXT_TYPE, VIDEO_TYPE = 0, 1

# Parameter-name prefixes of each part, used for parameter counts and checkpoint reports.
BACKBONE_PREFIXES: tuple[str, ...] = ("text_embeddings.", "token_type_embeddings.", "transformer.", "pooler.")
PRETRAINING_HEAD_PREFIXES: tuple[str, ...] = ("itm_score.", "mlm_score.")
TASK_HEAD_PREFIXES: tuple[str, ...] = ("vqa_classifier.", "mc_vqa_classifier.", "txt_proj.", "vid_proj.")


@dataclass
class JointOutput:
    """Joint (video + text) pass, frame-averaged."""

    cls_feats: Tensor  # (B, D) pooler output at the text [CLS] position
    text_feats: Tensor  # (B, Lt, D)
    video_feats: Tensor  # (B, L_v, D), raster patch order
    raw_cls_feats: Tensor  # (B, D) text [CLS] token before the pooler
    text_mask: Tensor  # (B, Lt)


@dataclass
class UnimodalOutput:
    """Text-only or video-only pass (final-normed tokens; video frame-averaged)."""

    feats: Tensor  # (B, L, D)
    mask: Tensor  # (B, L) bool

    @property
    def cls(self) -> Tensor:
        """Token 0: the text [CLS] or the vision cls token."""
        return self.feats[:, 0]


class AllInOne(nn.Module):
    """All-in-One Ti / S / B with the official parameter names (those of the released Lightning checkpoints)."""

    def __init__(self, config: AllInOneConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        d = config.hidden_size
        self.text_embeddings = TextEmbeddings(config.vocab_size, d, config.max_text_len, dropout=config.drop_rate)
        self.token_type_embeddings = nn.Embedding(2, d)  # modality: 0 text, 1 video
        self.transformer = VisionTransformer(config)
        self.pooler = Pooler(d)
        self.itm_score = ITMHead(d)
        self.mlm_score = MLMHead(d, config.vocab_size)
        if config.qa_labels is not None:
            self.vqa_classifier = open_qa_classifier(d, config.qa_labels)
        if config.mc_head:
            self.mc_vqa_classifier = mc_qa_classifier(d)
        if config.contrastive:
            self.txt_proj = nn.Linear(d, config.contrastive_dim)
            self.vid_proj = nn.Linear(d, config.contrastive_dim)
        self.grad_checkpointing = False
        self._init_weights()
        self._perm_generator = torch.Generator().manual_seed(config.permutation_seed)

    # ------------------------------------------------------------------ init / switches
    def _init_weights(self) -> None:
        """ViLT/timm-style init: Linear/Embedding normal(0, 0.02) and zero bias, LayerNorm 1/0.

        (timm's ``trunc_normal_(std=0.02)`` truncates at +-2, i.e. 100 std, so plain ``normal_`` is the same
        distribution and much faster.) Patch conv and prefix/position tokens keep the ViT's own init.
        """
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.zeros_(module.bias)
            if isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def set_fused_attn(self, enabled: bool) -> None:
        """Switch every block between SDPA (``True``) and explicit attention (``False``); same numbers."""
        self.config = self.config.replace(fused_attn=bool(enabled))
        for module in self.modules():
            if isinstance(module, Attention):
                module.fused = bool(enabled)

    def set_rolling(self, mode: str) -> None:
        """Change the joint-pass frame interaction (``roll`` | ``none`` | ``flatten``) without rebuilding."""
        if mode not in ROLLING_MODES:
            raise ConfigError(f"rolling must be one of {ROLLING_MODES}, got {mode!r}")
        self.config = self.config.replace(rolling=mode)

    def reset_permutation(self, seed: int | None = None, mode: str | None = None) -> None:
        """Restart the seeded patch-permutation stream (optionally with a new seed / mode)."""
        overrides: dict[str, object] = {}
        if seed is not None:
            overrides["permutation_seed"] = int(seed)
        if mode is not None:
            overrides["patch_permutation"] = mode
        if overrides:
            self.config = self.config.replace(**overrides)
        self._perm_generator = torch.Generator().manual_seed(self.config.permutation_seed)

    def set_grad_checkpointing(self, enabled: bool = True) -> None:
        """Recompute block activations in backward (fine-tuning B with many frames on small GPUs)."""
        self.grad_checkpointing = bool(enabled)

    # ------------------------------------------------------------------ sizes
    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    @property
    def video_tokens_per_frame(self) -> int:
        return self.config.video_tokens_per_frame

    def frame_sequence_length(self, text_len: int | None = None) -> int:
        """Length of one attention sequence in the joint pass (``Lt + L_v``; ``Lt + T*L_v`` for flatten)."""
        return self.config.joint_sequence_length(text_len)

    def num_parameters(self, part: str = "backbone") -> int:
        """``backbone`` (text + modality embeddings, ViT, pooler: the paper's 12M/33M/110M), ``heads`` or ``all``."""
        if part not in ("backbone", "heads", "all"):
            raise ValueError(f"part must be backbone, heads or all, got {part!r}")
        total = 0
        for name, p in self.named_parameters():
            in_backbone = name.startswith(BACKBONE_PREFIXES)
            if part == "all" or (part == "backbone") == in_backbone:
                total += p.numel()
        return total

    # ------------------------------------------------------------------ embeddings
    def _modality(self, kind: int, like: Tensor) -> Tensor:
        return self.token_type_embeddings.weight[kind].to(like.dtype)

    def embed_text(self, text_ids: Tensor) -> Tensor:
        """(B, Lt) ids -> (B, Lt, D) BERT embeddings + modality type 0."""
        x = self.text_embeddings(text_ids)
        return x + self._modality(TEXT_TYPE, x)

    def embed_video(self, video: Tensor, permutation: Tensor | None = None) -> Tensor:
        """(B, T, 3, H, W) -> (B*T, L_v, D) patch/prefix embeddings + modality type 1."""
        x = self.transformer.embed_video(video, permutation)
        return x + self._modality(VIDEO_TYPE, x)

    def draw_permutation(self, num_frames_total: int) -> Tensor | None:
        """(B*T, N) patch order for this joint forward, or ``None`` when ``patch_permutation="off"``."""
        if self.config.patch_permutation == "off":
            return None
        noise = torch.rand(num_frames_total, self.config.num_patches, generator=self._perm_generator)
        return noise.argsort(dim=1)

    # ------------------------------------------------------------------ blocks
    def _run_blocks(self, x: Tensor, mask: Tensor | None, *, roll_frames: int = 0, text_len: int = 0) -> Tensor:
        """All blocks + final norm. ``roll_frames`` > 0: roll the tokens after ``text_len`` before each block."""
        fold = self.config.roll_fold
        for blk in self.transformer.blocks:
            if roll_frames:
                x = torch.cat([x[:, :text_len], temporal_roll(x[:, text_len:], roll_frames, fold)], dim=1)
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(blk, x, mask, use_reentrant=False)
            else:
                x = blk(x, mask)
        return self.transformer.norm(x)

    @staticmethod
    def _joint_mask(text_mask: Tensor, num_video_tokens: int, causal_text: bool) -> Tensor:
        if causal_text:
            return causal_text_mask(text_mask, num_video_tokens)
        video_valid = text_mask.new_ones(text_mask.shape[0], num_video_tokens, dtype=torch.bool)
        return key_padding_mask(torch.cat([text_mask.bool(), video_valid], dim=1))

    # ------------------------------------------------------------------ passes
    def forward(self, video: Tensor, text_ids: Tensor, text_mask: Tensor | None = None, *,
                causal_text: bool = False) -> JointOutput:
        """Joint pass. ``video`` (B, T, 3, H, W) normalised; ``text_ids``/``text_mask`` (B, Lt).

        ``causal_text=True`` (captioning): text token i attends to text tokens <= i and to all video tokens;
        video tokens attend only to video tokens, so no later text reaches earlier text via the video tokens.
        """
        if text_mask is None:
            text_mask = torch.ones_like(text_ids)
        if video.dim() != 5:
            raise ConfigError(f"video must be (B, T, 3, H, W), got shape {tuple(video.shape)}")
        b, t = video.shape[:2]
        if text_ids.shape[0] != b:
            raise ConfigError(f"batch mismatch: video has {b} clips, text has {text_ids.shape[0]} rows")
        text = self.embed_text(text_ids)
        permutation = self.draw_permutation(b * t)
        vid = self.embed_video(video, permutation)
        lt, lv, d = text.shape[1], vid.shape[1], text.shape[2]

        if self.config.rolling == "flatten":
            x = torch.cat([text, vid.reshape(b, t * lv, d)], dim=1)
            x = self._run_blocks(x, self._joint_mask(text_mask, t * lv, causal_text))
            text_feats = x[:, :lt]
            video_tokens = x[:, lt:].reshape(b, t, lv, d)
        else:
            x = torch.cat([text.repeat_interleave(t, dim=0), vid], dim=1)
            mask = self._joint_mask(text_mask.repeat_interleave(t, dim=0), lv, causal_text)
            x = self._run_blocks(x, mask, roll_frames=t if self.config.rolling == "roll" else 0, text_len=lt)
            x = x.view(b, t, lt + lv, d)
            text_feats = x[:, :, :lt].mean(dim=1)
            video_tokens = x[:, :, lt:]
        if permutation is not None:
            video_tokens = self._unpermute(video_tokens, permutation)
        return JointOutput(
            cls_feats=self.pooler(text_feats),
            text_feats=text_feats,
            video_feats=video_tokens.mean(dim=1),
            raw_cls_feats=text_feats[:, 0],
            text_mask=text_mask,
        )

    def _unpermute(self, video_tokens: Tensor, permutation: Tensor) -> Tensor:
        """(B, T, L_v, D) tokens in permuted patch order -> raster order (prefix tokens untouched)."""
        b, t, lv, d = video_tokens.shape
        p = self.config.num_prefix_tokens
        inverse = permutation.to(video_tokens.device).argsort(dim=1)[..., None].expand(-1, -1, d)
        patches = video_tokens[:, :, p:].reshape(b * t, lv - p, d).gather(1, inverse)
        return torch.cat([video_tokens[:, :, :p], patches.view(b, t, lv - p, d)], dim=2)

    def encode_text(self, text_ids: Tensor, text_mask: Tensor | None = None) -> UnimodalOutput:
        """Text-only pass (official: the text repeated per frame and averaged, i.e. one pass)."""
        if text_mask is None:
            text_mask = torch.ones_like(text_ids)
        x = self._run_blocks(self.embed_text(text_ids), key_padding_mask(text_mask))
        return UnimodalOutput(feats=x, mask=text_mask.bool())

    def encode_video(self, video: Tensor) -> UnimodalOutput:
        """Video-only pass: frames fully independent (no roll, no permutation), mean over frames."""
        b, t = video.shape[:2]
        x = self._run_blocks(self.embed_video(video), None)
        x = x.view(b, t, x.shape[1], x.shape[2]).mean(dim=1)
        return UnimodalOutput(feats=x, mask=torch.ones(x.shape[:2], dtype=torch.bool, device=x.device))

    # ------------------------------------------------------------------ heads
    def _require(self, name: str, how: str) -> nn.Module:
        module = getattr(self, name, None)
        if module is None:
            raise ConfigError(f"this model has no {name}: build it with {how}")
        return module

    def vtm_logits(self, cls_feats: Tensor) -> Tensor:
        """(B, 2) video-text matching logits; column 1 = match."""
        return self.itm_score(cls_feats)

    def rank_score(self, cls_feats: Tensor) -> Tensor:
        """(B,) raw VTM "match" logit (official ``rank_output`` = ITM row 1; zero-shot MC / VTM retrieval)."""
        fc = self.itm_score.fc
        return F.linear(cls_feats, fc.weight[1:], fc.bias[1:]).squeeze(-1)

    def qa_logits(self, cls_feats: Tensor) -> Tensor:
        """(B, N) open-ended QA / action classification logits."""
        return self._require("vqa_classifier", "qa_labels=N")(cls_feats)

    def mc_logit(self, cls_feats: Tensor) -> Tensor:
        """(B,) score of one (video, question+options+answer_i) pair."""
        return self._require("mc_vqa_classifier", "mc_head=True")(cls_feats).squeeze(-1)

    def mlm_logits(self, text_feats: Tensor) -> Tensor:
        """(B, L, vocab) masked-language-model logits."""
        return self.mlm_score(text_feats)

    def contrastive_text(self, text_ids: Tensor, text_mask: Tensor | None = None) -> Tensor:
        """(B, 512) L2-normalised ``txt_proj`` of the text-only [CLS] token."""
        proj = self._require("txt_proj", "contrastive=True")
        return F.normalize(proj(self.encode_text(text_ids, text_mask).cls), dim=-1)

    def contrastive_video(self, video: Tensor) -> Tensor:
        """(B, 512) L2-normalised ``vid_proj`` of the video-only cls token (frame-averaged)."""
        proj = self._require("vid_proj", "contrastive=True")
        return F.normalize(proj(self.encode_video(video).cls), dim=-1)
