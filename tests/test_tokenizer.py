"""bert-base-uncased tokenizer from the vendored vocabulary, and MLM masking."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import torch

from allinone_bench.data.tokenizer import (
    IGNORE_INDEX,
    TextTokenizer,
    default_vocab_path,
    load_tokenizer,
    mask_tokens,
)
from allinone_bench.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def tok() -> TextTokenizer:
    return load_tokenizer()


def test_vendored_vocab_matches_its_provenance_record() -> None:
    path = default_vocab_path()
    readme = (path.parent / "README.md").read_text()
    recorded = re.search(r"sha256 \| `([0-9a-f]{64})`", readme)
    assert recorded is not None
    assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded.group(1)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 30522


def test_special_ids_and_size(tok: TextTokenizer) -> None:
    assert tok.vocab_size == len(tok) == 30522
    assert (tok.pad_id, tok.cls_id, tok.sep_id, tok.mask_id, tok.unk_id) == (0, 101, 102, 103, 100)
    assert tok.token_to_id("man") == 2158


def test_load_tokenizer_is_cached(tok: TextTokenizer) -> None:
    assert load_tokenizer() is tok


def test_encode_layout_and_padding(tok: TextTokenizer) -> None:
    ids, mask = tok.encode(["a man is cooking", "A MAN"], max_len=10)
    assert ids.dtype == mask.dtype == torch.long and ids.shape == mask.shape == (2, 10)
    assert ids[0].tolist() == [101, 1037, 2158, 2003, 8434, 102, 0, 0, 0, 0]
    assert mask[0].tolist() == [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert ids[1, :4].tolist() == [101, 1037, 2158, 102]  # lower-cased
    assert tok.convert_ids_to_tokens(ids[0, :6]) == ["[CLS]", "a", "man", "is", "cooking", "[SEP]"]


def test_wordpiece_and_accent_stripping(tok: TextTokenizer) -> None:
    assert tok.tokenize("Café unaffable") == ["cafe", "una", "##ffa", "##ble"]


def test_truncation_keeps_sep(tok: TextTokenizer) -> None:
    text = "one two three four five six seven eight nine ten"
    ids, mask = tok.encode([text], max_len=6)
    assert ids.shape == (1, 6)
    assert ids[0, 0].item() == tok.cls_id and ids[0, -1].item() == tok.sep_id
    assert tok.decode(ids[0]) == "one two three four"
    assert mask.sum().item() == 6


def test_single_string_and_empty_text(tok: TextTokenizer) -> None:
    ids, mask = tok.encode("", max_len=4)
    assert ids.tolist() == [[101, 102, 0, 0]] and mask.tolist() == [[1, 1, 0, 0]]


def test_decode_round_trip(tok: TextTokenizer) -> None:
    ids, _ = tok.encode(["a man is cooking in the kitchen."], max_len=16)
    assert tok.decode(ids[0]) == "a man is cooking in the kitchen."
    assert tok.decode_batch(ids) == ["a man is cooking in the kitchen."]
    assert tok.decode(ids[0], skip_special_tokens=False).startswith("[CLS] a man")


def test_max_len_too_small(tok: TextTokenizer) -> None:
    with pytest.raises(ConfigError, match="max_len"):
        tok.encode(["hi"], max_len=1)


def test_wrong_vocabulary_file_fails_loudly(tmp_path: Path) -> None:
    bad = tmp_path / "vocab.txt"
    bad.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "man"]) + "\n")
    with pytest.raises(DataError, match="30522"):
        TextTokenizer(bad)
    with pytest.raises(DataError, match="not found"):
        TextTokenizer(tmp_path / "missing.txt")


SENTENCES = [
    "a man is cooking pasta in a small kitchen while talking to the camera",
    "two dogs run across an unaffable snowy field",
    "the woman plays a guitar",
    "kids",
]


@pytest.fixture(scope="module")
def batch(tok: TextTokenizer) -> tuple[torch.Tensor, torch.Tensor]:
    return tok.encode(SENTENCES * 50, max_len=20)


def test_mask_tokens_never_touches_special_or_padding(tok: TextTokenizer, batch) -> None:
    ids, mask = batch
    masked, labels = mask_tokens(ids, mask, tok, prob=1.0, generator=torch.Generator().manual_seed(0))
    real = (mask == 1) & (ids != tok.cls_id) & (ids != tok.sep_id)
    assert torch.equal(labels != IGNORE_INDEX, real)  # prob 1: every real token, nothing else
    assert torch.equal(labels[real], ids[real])
    untouched = ~real
    assert torch.equal(masked[untouched], ids[untouched])


def test_mask_tokens_80_10_10(tok: TextTokenizer, batch) -> None:
    ids, mask = batch
    masked, labels = mask_tokens(ids, mask, tok, prob=0.15, generator=torch.Generator().manual_seed(1))
    selected = labels != IGNORE_INDEX
    n_real = ((mask == 1) & (ids != tok.cls_id) & (ids != tok.sep_id)).sum().item()
    assert 0.10 < selected.sum().item() / n_real < 0.20
    sel_masked, sel_orig = masked[selected], ids[selected]
    frac_mask = (sel_masked == tok.mask_id).float().mean().item()
    frac_same = (sel_masked == sel_orig).float().mean().item()
    assert 0.70 < frac_mask < 0.90
    assert 0.03 < frac_same < 0.20
    # random replacements are real vocabulary entries, never special tokens
    replaced = sel_masked[(sel_masked != tok.mask_id) & (sel_masked != sel_orig)]
    assert replaced.numel() > 0
    assert not tok.special_mask[replaced].any()
    assert torch.equal(masked[~selected], ids[~selected])


def test_mask_tokens_reproducible(tok: TextTokenizer, batch) -> None:
    ids, mask = batch
    a = mask_tokens(ids, mask, tok, generator=torch.Generator().manual_seed(7))
    b = mask_tokens(ids, mask, tok, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_whole_word_masking_selects_all_pieces(tok: TextTokenizer) -> None:
    ids, mask = tok.encode(["unaffable unaffable unaffable cooking unaffable"] * 64, max_len=24)
    cont = tok.continuation_mask[ids]
    masked, labels = mask_tokens(ids, mask, tok, prob=0.3, whole_word=True, generator=torch.Generator().manual_seed(3))
    selected = labels != IGNORE_INDEX
    assert selected.any()
    # a '##' piece is selected exactly when the piece before it is
    prev_selected = torch.zeros_like(selected)
    prev_selected[:, 1:] = selected[:, :-1]
    assert torch.equal(selected[cont], prev_selected[cont])
    # token-level masking does split words
    _, token_labels = mask_tokens(ids, mask, tok, prob=0.3, generator=torch.Generator().manual_seed(3))
    tsel = token_labels != IGNORE_INDEX
    tprev = torch.zeros_like(tsel)
    tprev[:, 1:] = tsel[:, :-1]
    assert not torch.equal(tsel[cont], tprev[cont])


def test_mask_tokens_bad_prob(tok: TextTokenizer, batch) -> None:
    with pytest.raises(ConfigError):
        mask_tokens(*batch, tok, prob=1.5)
