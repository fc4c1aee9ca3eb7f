"""Video decoding backends, bad-file handling, and the ClipLoader pipeline, on clips written here with PyAV.

Each synthetic frame ``i`` is one solid grey level ``level(i)``, so a frame's mean tells which frame was decoded.
"""

from __future__ import annotations

from pathlib import Path

import av
import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from allinone_bench.data.pipeline import ClipLoader, VideoProtocol
from allinone_bench.data.types import VideoRef
from allinone_bench.data.video import BACKENDS, candidate_backends, probe, probe_num_frames, read_frames
from allinone_bench.errors import ConfigError, DataError, VideoDecodeError

N_FRAMES = 20
FPS = 10
TOL = 6  # codec tolerance on a solid grey level


def level(i: int) -> int:
    return 10 + 12 * i


def write_video(path: Path, *, n: int = N_FRAMES, h: int = 32, w: int = 64, codec: str = "libx264") -> Path:
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=FPS)
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    stream.codec_context.gop_size = 5  # several keyframes, so seeking is exercised
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(np.full((h, w, 3), level(i), np.uint8), format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def grey_levels(frames: np.ndarray) -> list[float]:
    return frames.reshape(len(frames), -1).mean(axis=1).tolist()


def assert_frames(frames: np.ndarray, indices: list[int]) -> None:
    assert frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[-1] == 3
    assert np.allclose(grey_levels(frames), [level(i) for i in indices], atol=TOL)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    return {
        "mp4": write_video(root / "h264.mp4"),
        "avi": write_video(root / "mpeg4.avi", codec="mpeg4"),
    }


@pytest.mark.parametrize("fmt", ["mp4", "avi"])
@pytest.mark.parametrize("backend", ["decord", "pyav", "auto"])
def test_backends_decode_the_requested_frames(clips: dict[str, Path], fmt: str, backend: str) -> None:
    indices = [19, 0, 7, 7, 13, 1]
    assert_frames(read_frames(clips[fmt], indices, backend=backend), indices)


@pytest.mark.parametrize("fmt", ["mp4", "avi"])
def test_decord_and_pyav_agree(clips: dict[str, Path], fmt: str) -> None:
    indices = list(range(N_FRAMES))[::-1]
    a = read_frames(clips[fmt], indices, backend="decord").astype(int)
    b = read_frames(clips[fmt], indices, backend="pyav").astype(int)
    assert a.shape == b.shape == (N_FRAMES, 32, 64, 3)
    assert np.abs(a - b).max() <= 3


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_probe_reads_the_container(clips: dict[str, Path], backend: str) -> None:
    info = probe(clips["mp4"], backend=backend)
    assert (info.num_frames, info.fps, info.height, info.width, info.backend) == (N_FRAMES, FPS, 32, 64, backend)
    assert probe_num_frames(clips["avi"], backend=backend) == N_FRAMES


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_decode_size_squashes(clips: dict[str, Path], backend: str) -> None:
    frames = read_frames(clips["mp4"], [3, 4], backend=backend, size=(24, 32))
    assert frames.shape == (2, 24, 32, 3)
    assert_frames(frames, [3, 4])


def test_auto_falls_back_to_pyav(tmp_path: Path) -> None:
    # decord 0.6 mis-strides some small widths (8-24, 48, 72 px: its copy check fails); auto must still decode.
    path = write_video(tmp_path / "narrow.mp4", w=48)
    with pytest.warns(UserWarning, match="narrow.mp4: decoded with pyav after \\[decord\\]"):
        assert_frames(read_frames(path, [2, 17]), [2, 17])
    assert candidate_backends(path) == ["decord", "pyav"]


@pytest.mark.parametrize("backend", ["pyav", "auto"])
def test_mpegts_where_seeking_overshoots(tmp_path: Path, backend: str) -> None:
    # MPEG-TS seeks by dts and lands past the keyframe: PyAV must notice and decode from the start instead.
    # (decord 0.6 returns frames shifted by ~5 positions on this file, so auto must not use it.)
    path = write_video(tmp_path / "clip.ts")
    indices = [19, 3, 11, 12]
    assert_frames(read_frames(path, indices, backend=backend), indices)


def test_backend_registry_and_choice(tmp_path: Path) -> None:
    assert {"decord", "pyav", "frames"} <= set(BACKENDS)
    assert candidate_backends(tmp_path / "x.gif") == ["pyav"]
    assert candidate_backends(tmp_path / "x.ts") == ["pyav"]
    assert candidate_backends(tmp_path / "x.ts", "decord") == ["decord"]
    assert candidate_backends(tmp_path / "x.mp4", "pyav") == ["pyav"]
    assert candidate_backends(tmp_path) == ["frames"]
    with pytest.raises(ValueError, match="unknown video backend"):
        candidate_backends(tmp_path / "x.mp4", "opencv")


def test_gif_rgba_decodes_to_rgb(tmp_path: Path) -> None:
    colours = [(20 * i, 255 - 20 * i, 100) for i in range(10)]
    rgba = np.stack([np.full((32, 32, 4), (*c, 255), np.uint8) for c in colours])
    path = tmp_path / "anim.gif"
    iio.imwrite(path, rgba, duration=100, loop=0)
    info = probe(path)
    assert info.num_frames == 10 and info.backend == "pyav"
    frames = read_frames(VideoRef(path, kind="gif"), [9, 0, 5])
    assert frames.shape == (3, 32, 32, 3)
    assert np.abs(frames[:, 0, 0].astype(int) - np.array([colours[9], colours[0], colours[5]])).max() <= 4


def test_frame_directory_sorted_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "clip"
    folder.mkdir()
    for i in range(12):  # unpadded names: 10.png must come after 9.png
        Image.fromarray(np.full((16, 24, 3), level(i), np.uint8)).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("not a frame")
    info = probe(folder)
    assert (info.num_frames, info.fps, info.backend) == (12, None, "frames")
    frames = read_frames(VideoRef(folder, kind="frames"), [11, 2, 10])
    assert frames.shape == (3, 16, 24, 3)
    assert grey_levels(frames) == [level(11), level(2), level(10)]
    assert read_frames(folder, [0], size=(8, 8)).shape == (1, 8, 8, 3)


def test_frame_directory_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoDecodeError, match="no image frames") as err:
        read_frames(empty, [0])
    assert err.value.path == str(empty)
    broken = tmp_path / "broken"
    broken.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(broken / "00001.jpg")
    (broken / "00002.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(VideoDecodeError, match="00002.jpg"):
        read_frames(broken, [1])


def _bad_files(root: Path, clips: dict[str, Path]) -> dict[str, Path]:
    data = clips["mp4"].read_bytes()
    files = {
        "zero": root / "zero.mp4",
        "text": root / "text.mp4",
        "truncated": root / "truncated.mp4",
        "header_only": root / "header_only.avi",
        "missing": root / "missing.mp4",
    }
    files["zero"].write_bytes(b"")
    files["text"].write_text("this is not a video\n" * 20)
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["header_only"].write_bytes(clips["avi"].read_bytes()[:300])
    return files


@pytest.mark.parametrize("kind", ["zero", "text", "truncated", "header_only", "missing"])
@pytest.mark.parametrize("backend", ["auto", "decord", "pyav"])
def test_bad_files_raise_video_decode_error(tmp_path: Path, clips: dict[str, Path], kind: str, backend: str) -> None:
    path = _bad_files(tmp_path, clips)[kind]
    with pytest.raises(VideoDecodeError) as err:
        read_frames(path, [0, 1], backend=backend)
    assert err.value.path == str(path)
    assert str(path) in str(err.value) and err.value.reason
    with pytest.raises(VideoDecodeError):
        probe(path, backend=backend)
    assert isinstance(err.value, DataError)


def test_bad_file_reasons(tmp_path: Path) -> None:
    with pytest.raises(VideoDecodeError, match="file not found"):
        read_frames(tmp_path / "nope.mp4", [0])
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoDecodeError, match="empty file"):
        read_frames(tmp_path / "empty.mp4", [0])


def test_out_of_range_indices(clips: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="out of range"):
        read_frames(clips["mp4"], [0, N_FRAMES])


# ----------------------------------------------------------------------------------------------- pipeline


SMALL = dict(decode_size=64, resize=40, crop=32)


def test_protocol_defaults_are_the_official_eval_protocol() -> None:
    assert VideoProtocol().to_dict() == {
        "num_frames": 3,
        "sampling": "uniform",
        "decode_size": 512,
        "resize": 268,
        "crop": 224,
        "normalize": "imagenet",
        "backend": "auto",
    }
    assert VideoProtocol.from_dict({"num_frames": 8, "decode_size": None}).num_frames == 8


@pytest.mark.parametrize(
    "bad",
    [
        {"num_frames": 0},
        {"sampling": "middle"},
        {"decode_size": -1},
        {"crop": 300},
        {"normalize": "inception"},
        {"backend": "opencv"},
        {"num_frames": 2.5},
    ],
)
def test_protocol_validation(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="video protocol"):
        VideoProtocol(**bad)  # type: ignore[arg-type]


def test_protocol_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="frames"):
        VideoProtocol.from_dict({"frames": 3})


def test_clip_loader_eval(clips: dict[str, Path]) -> None:
    loader = ClipLoader(VideoProtocol(**SMALL))
    loaded = loader.load_clip(VideoRef(clips["mp4"]))
    assert loaded.indices.tolist() == [2, 9, 16]  # segment midpoints of 20 frames
    clip = loader.load(VideoRef(clips["mp4"]))
    assert clip.shape == (3, 3, 32, 32) and clip.dtype == torch.float32
    assert torch.equal(clip, loaded.frames)
    # channel 0, ImageNet-normalised solid grey levels of frames 2, 9, 16
    expected = [(level(i) / 255 - 0.485) / 0.229 for i in (2, 9, 16)]
    assert np.allclose(clip[:, 0].mean(dim=(1, 2)).numpy(), expected, atol=TOL / 255 / 0.229)


def test_clip_loader_window(clips: dict[str, Path]) -> None:
    loader = ClipLoader(VideoProtocol(**SMALL))
    # 0.5 s - 1.0 s at 10 fps = frames [5, 10)
    loaded = loader.load_clip(VideoRef(clips["mp4"], start=0.5, end=1.0))
    assert loaded.indices.tolist() == [5, 6, 8]


def test_clip_loader_train_is_seeded(clips: dict[str, Path]) -> None:
    loader = ClipLoader(VideoProtocol(sampling="rand", **SMALL), train=True)
    a = loader.load_clip(VideoRef(clips["avi"]), np.random.default_rng(4))
    b = loader.load_clip(VideoRef(clips["avi"]), np.random.default_rng(4))
    assert a.indices.tolist() == b.indices.tolist() and torch.equal(a.frames, b.frames)
    assert a.frames.shape == (3, 3, 32, 32)
    assert loader.load(VideoRef(clips["avi"])).shape == (3, 3, 32, 32)  # falls back to the loader's own rng


def test_clip_loader_gif_and_frames_keep_native_size(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(np.full((40, 80, 3), level(i), np.uint8)).save(folder / f"{i:05d}.jpg")
    loader = ClipLoader(VideoProtocol(**SMALL), frames_fps=3.0)
    loaded = loader.load_clip(VideoRef(folder, kind="frames"))
    assert loaded.frames.shape == (3, 3, 32, 32) and loaded.info.height == 40  # not squashed to 64
    assert loader.load_clip(VideoRef(folder, kind="frames", start=1.0, end=2.0)).indices.tolist() == [3, 4, 5]
    with pytest.raises(DataError, match="fps"):
        ClipLoader(VideoProtocol(**SMALL)).load(VideoRef(folder, kind="frames", start=1.0))


def test_clip_loader_bad_file(tmp_path: Path) -> None:
    with pytest.raises(VideoDecodeError, match="missing.mp4"):
        ClipLoader(VideoProtocol(**SMALL)).load(VideoRef(tmp_path / "missing.mp4"))
