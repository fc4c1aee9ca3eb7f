"""bert-base-uncased WordPiece tokenisation from a vendored vocabulary, plus BERT-style MLM masking.

All-in-One reuses only the *tokenizer* of bert-base-uncased (its text embeddings are trained from scratch), so
token ids must match that vocabulary exactly: the file is vendored under ``allinone_bench/resources`` (see its
README for provenance) and loaded with :mod:`tokenizers`, never fetched from the Hub.
Text layout follows the official code: ``[CLS] pieces [SEP]``, truncated to ``max_len`` keeping ``[SEP]``,
padded with ``[PAD]`` (id 0) to exactly ``max_len`` with a 0/1 attention mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import torch
from tokenizers import BertWordPieceTokenizer

from allinone_bench.data.types import IGNORE_INDEX
from allinone_bench.errors import ConfigError, DataError

VOCAB_RESOURCE = "bert-base-uncased-vocab.txt"
VOCAB_SIZE = 30522
# Sanity anchors of the real bert-base-uncased vocabulary: a different file fails loudly at load.
_EXPECTED_IDS = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103, "man": 2158}


def default_vocab_path() -> Path:
    """Path of the vendored bert-base-uncased ``vocab.txt``."""
    return Path(__file__).resolve().parent.parent / "resources" / VOCAB_RESOURCE


class TextTokenizer:
    """Batch encoder/decoder around :class:`tokenizers.BertWordPieceTokenizer` (lower-casing, accent stripping)."""

    def __init__(self, vocab_path: str | Path) -> None:
        path = Path(vocab_path)
        if not path.is_file():
            raise DataError(f"{path}: tokenizer vocabulary not found")
        self.vocab_path = path
        self._tok = BertWordPieceTokenizer(str(path), lowercase=True)
        vocab = self._tok.get_vocab()
        if len(vocab) != VOCAB_SIZE:
            raise DataError(
                f"{path}: expected the bert-base-uncased vocabulary ({VOCAB_SIZE} tokens), got {len(vocab)}"
            )
        for token, expected in _EXPECTED_IDS.items():
            if vocab.get(token) != expected:
                raise DataError(
                    f"{path}: token {token!r} has id {vocab.get(token)}, expected {expected} (bert-base-uncased)"
                )
        self.vocab_size: int = VOCAB_SIZE
        self.pad_id: int = _EXPECTED_IDS["[PAD]"]
        self.unk_id: int = _EXPECTED_IDS["[UNK]"]
        self.cls_id: int = _EXPECTED_IDS["[CLS]"]
        self.sep_id: int = _EXPECTED_IDS["[SEP]"]
        self.mask_id: int = _EXPECTED_IDS["[MASK]"]
        id_to_token = [""] * VOCAB_SIZE
        for token, idx in vocab.items():
            id_to_token[idx] = token
        self._id_to_token = id_to_token
        # Bracketed entries ([PAD], [unused0..993], [CLS], ...) are never real words: MLM leaves them alone and
        # never draws them as random replacements.
        self.special_mask = torch.tensor([t.startswith("[") and t.endswith("]") for t in id_to_token], dtype=torch.bool)
        self.continuation_mask = torch.tensor([t.startswith("##") for t in id_to_token], dtype=torch.bool)
        self.normal_ids = torch.nonzero(~self.special_mask).flatten()

    def tokenize(self, text: str) -> list[str]:
        """WordPiece pieces of ``text`` without special tokens (e.g. ``['a', 'man', 'cooking']``)."""
        return self._tok.encode(text, add_special_tokens=False).tokens

    def encode(self, texts: Sequence[str] | str, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode ``texts`` to ``(ids, mask)``, both ``LongTensor (N, max_len)``.

        Each row is ``[CLS] pieces [SEP]`` (pieces cut to ``max_len - 2`` so ``[SEP]`` survives truncation),
        then ``[PAD]`` = 0 with mask 0.
        """
        if isinstance(texts, str):
            texts = [texts]
        if max_len < 2:
            raise ConfigError(f"max_len must be >= 2 to hold [CLS] and [SEP], got {max_len}")
        # One text at a time: encode_batch starts a Rust thread pool, which then warns/deadlocks in forked
        # DataLoader workers; captions are short, so nothing is lost.
        encodings = [self._tok.encode(text, add_special_tokens=False) for text in texts]
        ids = torch.full((len(encodings), max_len), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(encodings), max_len), dtype=torch.long)
        for row, enc in enumerate(encodings):
            pieces = [self.cls_id, *enc.ids[: max_len - 2], self.sep_id]
            ids[row, : len(pieces)] = torch.tensor(pieces, dtype=torch.long)
            mask[row, : len(pieces)] = 1
        return ids, mask

    def decode(self, ids: Sequence[int] | torch.Tensor, skip_special_tokens: bool = True) -> str:
        """Text of one id sequence (special tokens and padding dropped by default; '##' pieces re-joined)."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(
                    f"decode expects one sequence (1-D ids), got shape {tuple(ids.shape)}; use decode_batch"
                )
            ids = ids.tolist()
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def decode_batch(self, ids: torch.Tensor | Sequence[Sequence[int]], skip_special_tokens: bool = True) -> list[str]:
        """Text of each row of a ``(N, L)`` id batch."""
        rows = ids.tolist() if isinstance(ids, torch.Tensor) else [list(r) for r in ids]
        return [self.decode(r, skip_special_tokens=skip_special_tokens) for r in rows]

    def convert_ids_to_tokens(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """Vocabulary entries of ``ids`` (for inspection and tests)."""
        values = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        return [self._id_to_token[int(i)] for i in values]

    def token_to_id(self, token: str) -> int | None:
        """Id of a vocabulary entry, or ``None`` if absent."""
        return self._tok.token_to_id(token)

    def __len__(self) -> int:
        return self.vocab_size


@lru_cache(maxsize=4)
def _load_cached(vocab_path: str) -> TextTokenizer:
    return TextTokenizer(vocab_path)


def load_tokenizer(vocab_path: str | Path | None = None) -> TextTokenizer:
    """The (cached) bert-base-uncased tokenizer; ``vocab_path`` overrides the vendored vocabulary file."""
    return _load_cached(str(vocab_path if vocab_path is not None else default_vocab_path()))


def _whole_word_expand(
    ids: torch.Tensor, candidate: torch.Tensor, picked: torch.Tensor, tok: TextTokenizer
) -> torch.Tensor:
    """Extend a per-word-start draw to every '##' continuation piece of that word."""
    is_cont = tok.continuation_mask.to(ids.device)[ids] & candidate
    prev_candidate = torch.zeros_like(candidate)
    prev_candidate[:, 1:] = candidate[:, :-1]
    # An orphan '##' piece (after [CLS]) starts its own word.
    is_start = candidate & (~is_cont | ~prev_candidate)
    positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
    start_of = torch.cummax(torch.where(is_start, positions, torch.zeros_like(positions)), dim=1).values
    return (picked & is_start).gather(1, start_of) & candidate


def mask_tokens(
    ids: torch.Tensor,
    mask: torch.Tensor,
    tokenizer: TextTokenizer,
    prob: float = 0.15,
    whole_word: bool = False,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masked-language-model corruption: returns ``(masked_ids, labels)``.

    Each real token (attention mask 1, not a bracketed special entry) is selected with probability ``prob``;
    with ``whole_word=True`` the draw is made per word and applied to all its '##' pieces. Of the selected
    tokens 80% become ``[MASK]``, 10% a random non-special token, 10% stay unchanged (decided per token).
    ``labels`` holds the original id at selected positions and -100 elsewhere, so padding and special tokens
    are never predicted. Pass a seeded ``generator`` for reproducible masking.
    """
    if not 0.0 <= prob <= 1.0:
        raise ConfigError(f"MLM masking probability must be in [0, 1], got {prob}")
    if ids.shape != mask.shape:
        raise ValueError(f"ids {tuple(ids.shape)} and mask {tuple(mask.shape)} must have the same shape")
    if ids.dim() == 1:
        masked, labels = mask_tokens(ids[None], mask[None], tokenizer, prob, whole_word, generator)
        return masked[0], labels[0]
    device = ids.device
    ids_cpu = ids.detach().to("cpu", torch.long)
    candidate = mask.detach().to("cpu").bool() & ~tokenizer.special_mask[ids_cpu]
    draws = torch.rand(ids_cpu.shape, generator=generator) < prob
    if whole_word:
        selected = _whole_word_expand(ids_cpu, candidate, draws, tokenizer)
    else:
        selected = draws & candidate
    labels = torch.where(selected, ids_cpu, torch.full_like(ids_cpu, IGNORE_INDEX))
    action = torch.rand(ids_cpu.shape, generator=generator)
    to_mask = selected & (action < 0.8)
    to_random = selected & (action >= 0.8) & (action < 0.9)
    random_ids = tokenizer.normal_ids[torch.randint(len(tokenizer.normal_ids), ids_cpu.shape, generator=generator)]
    masked = ids_cpu.clone()
    masked[to_mask] = tokenizer.mask_id
    masked[to_random] = random_ids[to_random]
    return masked.to(device), labels.to(device)
