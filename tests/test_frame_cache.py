"""Frame cache: a second evaluation decodes nothing and sees identical frames; keys, concurrency, size limit."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from allinone_bench.data import pipeline
from allinone_bench.data.frame_cache import ENV_DIR, FrameCache
from allinone_bench.data.pipeline import ClipLoader, VideoProtocol
from allinone_bench.data.types import VideoRef

PROTO = VideoProtocol(num_frames=3, decode_size=None, resize=32, crop=32)


@pytest.fixture(scope="module")
def videos() -> list[VideoRef]:
    from allinone_bench.data.datasets import get_adapter
    from allinone_bench.engine.synthetic import ensure_synthetic

    root, _ = ensure_synthetic("msrvtt_qa", 24, 0)
    split = get_adapter("msrvtt_qa")(root).load("test")
    return list(dict.fromkeys(s.video for s in split.samples))[:6]


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = pipeline.read_sampled

    def counting(video, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(str(video.path))
        return original(video, *args, **kwargs)

    monkeypatch.setattr(pipeline, "read_sampled", counting)
    return calls


def test_second_pass_decodes_nothing_and_matches(tmp_path: Path, videos: list[VideoRef], decodes: list[str]) -> None:
    plain = [ClipLoader(PROTO, frame_cache=False).load_clip(v) for v in videos]
    assert len(decodes) == len(videos)
    decodes.clear()
    cache = FrameCache(tmp_path)
    first = [ClipLoader(PROTO, frame_cache=cache).load_clip(v) for v in videos]
    assert len(decodes) == len(videos) and cache.misses == len(videos)
    decodes.clear()
    second = [ClipLoader(PROTO, frame_cache=FrameCache(tmp_path)).load_clip(v) for v in videos]
    assert decodes == []
    for a, b, c in zip(plain, first, second, strict=True):
        assert torch.equal(a.frames, b.frames) and torch.equal(a.frames, c.frames)
        assert np.array_equal(a.indices, c.indices) and a.info == c.info
    assert not list(tmp_path.glob("*/.*.tmp"))


def test_only_deterministic_frames_are_cached(tmp_path: Path) -> None:
    cache = FrameCache(tmp_path)
    assert ClipLoader(PROTO, frame_cache=cache).frame_cache is cache
    assert ClipLoader(PROTO, train=True, frame_cache=cache).frame_cache is None
    rand = VideoProtocol(num_frames=3, sampling="rand", decode_size=None, resize=32, crop=32)
    assert ClipLoader(rand, frame_cache=cache).frame_cache is None


def test_key_follows_file_identity_and_protocol(tmp_path: Path) -> None:
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"x" * 10)
    ref = VideoRef(clip)
    k1 = ClipLoader(PROTO, frame_cache=False).cache_key(ref)
    assert k1 == ClipLoader(PROTO, frame_cache=False).cache_key(VideoRef(clip))
    assert k1 != ClipLoader(VideoProtocol(num_frames=4, decode_size=None, resize=32, crop=32),
                            frame_cache=False).cache_key(ref)
    assert k1 != ClipLoader(PROTO, frame_cache=False).cache_key(VideoRef(clip, start=1.0, end=2.0))
    os.utime(clip, ns=(1, 1))
    assert k1 != ClipLoader(PROTO, frame_cache=False).cache_key(ref)


def test_concurrent_fill_is_safe(tmp_path: Path, videos: list[VideoRef]) -> None:
    from allinone_bench.data.cache_fill import _fill_one

    jobs = [(PROTO, v, str(tmp_path), 2**30) for v in videos] * 3  # every video written by several processes
    with ProcessPoolExecutor(max_workers=3, mp_context=multiprocessing.get_context("spawn")) as pool:
        statuses = [status for status, _ in pool.map(_fill_one, jobs)]
    assert "failed" not in statuses and statuses.count("cached") >= len(videos)
    cache = FrameCache(tmp_path)
    for v in videos:
        hit = cache.get(ClipLoader(PROTO, frame_cache=False).cache_key(v))
        assert hit is not None and hit.frames.shape == (3, 3, 32, 32) and hit.frames.dtype == np.uint8
    assert len(cache.entries()) == len(videos) and not list(tmp_path.glob("*/.*.tmp"))


def test_size_limit_evicts_least_recently_used(tmp_path: Path) -> None:
    cache = FrameCache(tmp_path, max_bytes=5 * (3 * 3 * 32 * 32 + 128))
    frames = np.zeros((3, 3, 32, 32), np.uint8)
    for i in range(12):
        cache.put(f"{i:032x}", frames, np.arange(3), {"num_frames": 3})
        os.utime(cache._paths(f"{i:032x}")[0], (i, i))  # deterministic LRU order
    assert cache.size_bytes() <= cache.max_bytes
    assert cache.get(f"{11:032x}") is not None and cache.get(f"{0:032x}") is None


def test_evaluation_uses_cache_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decodes: list[str]) -> None:
    from allinone_bench.bench.agreement import _evaluate, prediction_of

    plain, m_plain = _evaluate("msrvtt_qa", "fp32", {})
    monkeypatch.setenv(ENV_DIR, str(tmp_path))
    first, _ = _evaluate("msrvtt_qa", "fp32", {})
    decoded_first = len(decodes)
    assert decoded_first > 0
    second, m_second = _evaluate("msrvtt_qa", "fp32", {})
    assert len(decodes) == decoded_first  # the second evaluation decoded nothing
    assert [prediction_of(r) for r in plain] == [prediction_of(r) for r in second] and m_plain == m_second


def test_bench_rows_cold_then_warm_evaluation(decodes: list[str]) -> None:
    """``bench data``'s frame-cache rows: the warm evaluation decodes nothing (its speed is the bench's figure)."""
    from allinone_bench.bench.data import frame_cache_rows

    off, cold, warm = frame_cache_rows(repeats=1, real_input=False, msrvtt_clips=False)
    assert [r.name for r in (off, cold, warm)] == ["eval data, no frame cache",
                                                    "eval data, frame cache cold (decode+fill)",
                                                    "eval data, frame cache warm"]
    assert warm.figures["decoded"] == 0 and warm.figures["cache_hits"] == cold.figures["decoded"] > 0
    assert len(decodes) == 2 * cold.figures["decoded"]  # the plain and the cold evaluation decoded each clip
    assert all(r.seconds > 0 for r in (off, cold, warm)) and cold.figures["share_of_cold"] == 1.0
    assert off.figures["share_of_no_cache"] == 1.0 and "decoded" not in off.figures
