"""The optional torchcodec backend against decord, on a textured clip written here with PyAV.

Tolerances: at native size torchcodec and decord run the same YUV->RGB conversion, so frames must agree to
within 1 level (they are identical with FFmpeg 5.1 against decord's bundled 4.1). With a decode ``size``,
torchcodec resizes after the conversion and decord inside it; the measured gap on bigbuckbunny is mean 1.2,
max 56 levels (README "Performance"), so here only mean <= 3 is asserted, and ``auto`` never picks torchcodec.
The parity tests skip when torchcodec or FFmpeg's shared libraries are missing; the error tests always run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from allinone_bench.bench.data import write_clip
from allinone_bench.data.pipeline import ClipLoader, VideoProtocol
from allinone_bench.data.types import VideoRef
from allinone_bench.data.video import (
    EXPLICIT_ONLY,
    TorchCodecReader,
    candidate_backends,
    decoder_plan,
    probe,
    read_frames,
)
from allinone_bench.errors import VideoDecodeError

N = 30
INDICES = [29, 0, 7, 7, 13, 21]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("tc") / "clip.mp4", gop=10, seconds=1, fps=N, h=64, w=96)


@pytest.fixture(scope="module")
def torchcodec_ok(clip: Path) -> None:
    try:
        TorchCodecReader(clip).close()
    except VideoDecodeError as err:
        pytest.skip(f"torchcodec cannot decode here: {err.reason}")


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int))


@pytest.mark.usefixtures("torchcodec_ok")
@pytest.mark.parametrize("backend", ["torchcodec", "torchcodec_approx"])
def test_native_frames_match_decord(clip: Path, backend: str) -> None:
    ref = read_frames(clip, INDICES, backend="decord")
    frames = read_frames(clip, INDICES, backend=backend)
    assert frames.dtype == np.uint8 and frames.shape == ref.shape == (len(INDICES), 64, 96, 3)
    assert _diff(frames, ref).max() <= 1
    assert _diff(frames[1:2], frames[2:3]).mean() > 5  # the clip changes every frame: parity is not trivial


@pytest.mark.usefixtures("torchcodec_ok")
def test_probe_reports_the_container(clip: Path) -> None:
    info = probe(clip, backend="torchcodec")
    assert (info.num_frames, info.fps, info.height, info.width, info.backend) == (N, N, 64, 96, "torchcodec")


@pytest.mark.usefixtures("torchcodec_ok")
def test_size_squashes_close_to_decord(clip: Path) -> None:
    ref = read_frames(clip, INDICES, backend="decord", size=(40, 56))
    frames = read_frames(clip, INDICES, backend="torchcodec", size=(40, 56))
    assert frames.shape == ref.shape == (len(INDICES), 40, 56, 3)
    assert _diff(frames, ref).mean() <= 3


@pytest.mark.usefixtures("torchcodec_ok")
def test_clip_loader_runs_torchcodec(clip: Path) -> None:
    proto = VideoProtocol(num_frames=3, decode_size=64, resize=40, crop=32, backend="torchcodec")
    loaded = ClipLoader(proto, frame_cache=False).load_clip(VideoRef(clip))
    assert loaded.frames.shape == (3, 3, 32, 32) and loaded.info.backend == "torchcodec"


@pytest.mark.usefixtures("torchcodec_ok")
def test_bad_files_name_the_file(clip: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    with pytest.raises(VideoDecodeError, match="file not found") as err:
        read_frames(missing, [0], backend="torchcodec")
    assert err.value.path == str(missing)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"not a video\n" * 50)
    with pytest.raises(VideoDecodeError, match=r"\[torchcodec\] torchcodec cannot open it") as err:
        read_frames(corrupt, [0], backend="torchcodec")
    assert err.value.path == str(corrupt)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[:2000])
    with pytest.raises(VideoDecodeError) as err:
        read_frames(truncated, [0, 29], backend="torchcodec")
    assert err.value.path == str(truncated)


def _no_ffmpeg(*args: object, **kwargs: object) -> None:
    raise RuntimeError("Could not load libtorchcodec. Likely causes:\n  1. FFmpeg is not properly installed")


@pytest.mark.parametrize("missing", ["torchcodec", "ffmpeg"])
def test_missing_torchcodec_says_what_to_install(clip: Path, monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    if missing == "torchcodec":
        monkeypatch.setitem(sys.modules, "torchcodec.decoders", None)  # makes the import fail
    else:  # torchcodec imports, and loads FFmpeg's libraries when the first decoder opens (as torchcodec 0.17 does)
        monkeypatch.setitem(sys.modules, "torchcodec.decoders", SimpleNamespace(VideoDecoder=_no_ffmpeg))
        monkeypatch.setitem(sys.modules, "torchcodec.transforms", SimpleNamespace(Resize=None))
    with pytest.raises(VideoDecodeError) as err:
        read_frames(clip, [0], backend="torchcodec")
    assert err.value.path == str(clip)
    message = str(err.value)
    assert "pip install 'allinone-bench[torchcodec]'" in message and "libavcodec" in message
    assert "\n" not in message


def test_auto_never_picks_torchcodec(tmp_path: Path) -> None:
    assert EXPLICIT_ONLY == {"torchcodec", "torchcodec_approx"}
    for name in ("x.mp4", "x.avi", "x.webm", "x.ts", "x.gif"):
        assert not EXPLICIT_ONLY & set(candidate_backends(tmp_path / name))
    assert candidate_backends(tmp_path / "x.mp4", "torchcodec") == ["torchcodec"]
    assert decoder_plan([tmp_path / "a.mp4", tmp_path / "b.ts", tmp_path / "c.mp4"]) == {"decord>pyav": 2, "pyav": 1}
    assert VideoProtocol(backend="torchcodec_approx").to_dict()["backend"] == "torchcodec_approx"


def test_parity_rows_hold_pyav_within_the_auto_tolerance(clip: Path) -> None:
    from allinone_bench.bench.parity import parity_rows
    from allinone_bench.data.video import PARITY_MEAN_TOLERANCE

    rows = {(r.backend, r.size): r for r in parity_rows(clip, backends=("decord", "pyav"), size=64, repeats=1)}
    assert rows["decord", "native"].identical == rows["pyav", "native"].identical == 1.0
    squash = rows["pyav", "64x64"]
    assert squash.error == "" and squash.ms_per_clip is not None and squash.ms_per_clip > 0
    assert squash.mean_diff is not None and squash.mean_diff <= PARITY_MEAN_TOLERANCE
