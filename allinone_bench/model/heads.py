"""Task heads with the official module names (``pooler.dense``, ``itm_score.fc``, ``mlm_score.*`` ...)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from allinone_bench.model.layers import BERT_LN_EPS


class Pooler(nn.Module):
    """``tanh(dense(x[:, 0]))``: reads the text [CLS] position of the frame-averaged joint sequence."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.activation = nn.Tanh()

    def forward(self, tokens: Tensor) -> Tensor:
        return self.activation(self.dense(tokens[:, 0]))


class ITMHead(nn.Module):
    """Video-text matching: ``fc`` Linear(D, 2); class 1 = match (B+ checkpoints call it ``vtm_score``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, 2)

    def forward(self, cls_feats: Tensor) -> Tensor:
        return self.fc(cls_feats)


class MLMTransform(nn.Module):
    """BertPredictionHeadTransform: dense -> GELU -> LayerNorm(1e-12)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.transform_act_fn = nn.GELU()
        self.LayerNorm = nn.LayerNorm(dim, eps=BERT_LN_EPS)

    def forward(self, x: Tensor) -> Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(x)))


class MLMHead(nn.Module):
    """Masked-language-model head: transform + ``decoder`` (no bias) + separate ``bias``; not weight-tied."""

    def __init__(self, dim: int, vocab_size: int) -> None:
        super().__init__()
        self.transform = MLMTransform(dim)
        self.decoder = nn.Linear(dim, vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, text_feats: Tensor) -> Tensor:
        return self.decoder(self.transform(text_feats)) + self.bias


# Index of the final Linear in both classifier heads below: its weight's rows are the classes.
CLASSIFIER_OUTPUT_INDEX = 4


def classifier_output_key(head: str) -> str:
    """State-dict key of a classifier head's final Linear weight (e.g. ``vqa_classifier.4.weight``)."""
    return f"{head}.{CLASSIFIER_OUTPUT_INDEX}.weight"


def open_qa_classifier(dim: int, num_labels: int) -> nn.Sequential:
    """``vqa_classifier``: Dropout(0.5), Linear(D, D/2), LayerNorm(D/2, eps 1e-5), GELU, Linear(D/2, N)."""
    return nn.Sequential(
        nn.Dropout(0.5),
        nn.Linear(dim, dim // 2),
        nn.LayerNorm(dim // 2),
        nn.GELU(),
        nn.Linear(dim // 2, num_labels),
    )


def mc_qa_classifier(dim: int) -> nn.Sequential:
    """``mc_vqa_classifier``: Dropout(0.1), Linear(D, 256), LayerNorm(256), GELU, Linear(256, 1)."""
    return nn.Sequential(
        nn.Dropout(0.1),
        nn.Linear(dim, 256),
        nn.LayerNorm(256),
        nn.GELU(),
        nn.Linear(256, 1),
    )
