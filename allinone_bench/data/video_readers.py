"""Backend readers for one clip: decord, PyAV (also GIFs and MPEG-TS), torchcodec and directories of frames.

Each reader wraps one decoding library behind :class:`FrameReader`: constructing it opens and indexes the file,
:attr:`FrameReader.info` gives the container's :class:`VideoInfo` (read from the index, not by decoding) and
:meth:`FrameReader.read` returns the requested frames as ``uint8 (T, H, W, 3)`` RGB. Kept apart from
:mod:`allinone_bench.data.video`, which chooses among them (:data:`BACKENDS`) and turns their failures into
one error, because each reader is about one library's quirks and nothing else.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from allinone_bench.errors import VideoDecodeError

__all__ = [
    "BACKENDS",
    "IMAGE_SUFFIXES",
    "DecordReader",
    "FrameDirReader",
    "FrameReader",
    "PyAVReader",
    "Size",
    "TorchCodecApproxReader",
    "TorchCodecReader",
    "VideoInfo",
]

Size = tuple[int, int]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


@dataclass(frozen=True)
class VideoInfo:
    """What a container says about its video stream: frame count, ``fps`` (``None`` when unknown, e.g. frame
    directories) and the height/width of the frames the reader returns (the decode size when one is set)."""

    num_frames: int
    fps: float | None
    height: int
    width: int
    backend: str


def _reason(err: BaseException) -> str:
    """First line of a library error, which is all that is useful (decord appends C++ stack traces)."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


class FrameReader(ABC):
    """One opened clip. Subclasses wrap a decoding library; constructing one opens (and indexes) the file."""

    name: ClassVar[str]

    def __init__(self, path: Path, size: Size | None = None) -> None:
        self.path = path
        self.size = size

    @property
    @abstractmethod
    def info(self) -> VideoInfo:
        """Frame count and fps of the clip."""

    @abstractmethod
    def _read(self, indices: list[int]) -> np.ndarray:
        """Decode the frames at sorted, unique, in-range ``indices`` -> uint8 (len, H, W, 3)."""

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) as uint8 ``(T, H, W, 3)`` RGB."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = self.info.num_frames
        if idx.size == 0:
            raise ValueError(f"{self.path}: no frame indices requested")
        if idx.min() < 0 or idx.max() >= n:
            raise ValueError(f"{self.path}: frame indices {idx.tolist()} out of range [0, {n})")
        unique, inverse = np.unique(idx, return_inverse=True)
        frames = self._read([int(i) for i in unique])
        if frames.shape[0] != len(unique) or frames.ndim != 4 or frames.shape[-1] != 3:
            raise VideoDecodeError(
                self.path, f"{self.name} returned frames of shape {frames.shape} for {len(unique)} indices"
            )
        return np.ascontiguousarray(frames[inverse], dtype=np.uint8)

    def close(self) -> None:
        """Release the file handle."""

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DecordReader(FrameReader):
    """decord (the official decoder): indexes keyframes at open and seeks accurately, one decode thread as in
    the reference. decord 0.6 fails its own copy check for some small output widths (8-24, 48, 72 px seen);
    under ``auto`` such clips are decoded by PyAV instead. On HEVC with B-frames its seeks can land a few frames
    late (4 of 16 sampled frames on a re-encoded bigbuckbunny; README "Performance"): use PyAV there."""

    name = "decord"

    def __init__(self, path: Path, size: Size | None = None) -> None:
        super().__init__(path, size)
        try:
            import decord
        except ImportError as err:  # decord has no wheels for some platforms
            raise VideoDecodeError(path, f"decord is not installed ({err})") from err
        h, w = size if size is not None else (-1, -1)
        try:
            self._vr = decord.VideoReader(str(path), ctx=decord.cpu(0), width=w, height=h, num_threads=1)
            num_frames = len(self._vr)
            fps = float(self._vr.get_avg_fps())
            first_shape = (self._vr[0].shape if num_frames > 0 else (0, 0, 3))
        except Exception as err:  # decord raises DECORDError/RuntimeError with a C++ trace
            raise VideoDecodeError(path, f"decord cannot open it ({_reason(err)})") from err
        if num_frames <= 0:
            raise VideoDecodeError(path, "decord found no video frames")
        height, width = int(first_shape[0]), int(first_shape[1])
        self._info = VideoInfo(num_frames, fps if fps > 0 else None, height, width, self.name)

    @property
    def info(self) -> VideoInfo:
        return self._info

    def _read(self, indices: list[int]) -> np.ndarray:
        try:
            batch = self._vr.get_batch(indices)
        except Exception as err:
            raise VideoDecodeError(self.path, f"decord cannot decode frames {indices} ({_reason(err)})") from err
        # The global decord bridge may have been switched to torch by other code.
        return batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)

    def close(self) -> None:
        self.__dict__.pop("_vr", None)


class PyAVReader(FrameReader):
    """PyAV (FFmpeg): demuxes the packet index at open (no decoding), then seeks to the keyframe before each
    wanted frame and decodes forward to it. Also reads GIFs (FFmpeg composites them to full RGB frames).

    Frames are identified by presentation timestamp: frame ``i`` is the ``i``-th smallest packet pts. Seeking is
    verified: if a demuxer lands past the wanted frame (MPEG-TS seeks by dts, some GIFs cannot seek) the file is
    decoded from its start instead, which is slower but never returns the wrong frame.
    """

    name = "pyav"

    def __init__(self, path: Path, size: Size | None = None) -> None:
        super().__init__(path, size)
        self._seek_works = True  # cleared once a seek lands past its target; then we only decode forward
        self._container = self._open()
        try:
            if not self._container.streams.video:
                raise VideoDecodeError(path, "no video stream in the container")
            stream = self._container.streams.video[0]
            self._pts, self._key_ts = self._index_packets(stream)
            if not self._pts:
                raise VideoDecodeError(path, "PyAV found no video frames")
            rate = stream.average_rate or stream.guessed_rate
            ctx = stream.codec_context
            h, w = size if size is not None else (int(ctx.height), int(ctx.width))
            self._info = VideoInfo(len(self._pts), float(rate) if rate else None, h, w, self.name)
        except VideoDecodeError:
            self.close()
            raise
        except Exception as err:
            self.close()
            raise VideoDecodeError(path, f"PyAV cannot index it ({_reason(err)})") from err

    def _open(self) -> Any:
        import av

        try:
            return av.open(str(self.path), mode="r")
        except Exception as err:
            raise VideoDecodeError(self.path, f"PyAV cannot open it ({_reason(err)})") from err

    @property
    def _stream(self) -> Any:
        return self._container.streams.video[0]

    def _index_packets(self, stream: Any) -> tuple[list[int], list[tuple[int, int]]]:
        """Sorted presentation timestamps of all frames, and (pts, seek timestamp) of keyframes, from packets."""
        pts: list[int] = []
        keys: list[tuple[int, int]] = []
        for packet in self._container.demux(stream):
            if packet.size == 0:  # flush packet at end of stream
                continue
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is None:
                raise VideoDecodeError(self.path, "packets carry no timestamps; cannot locate frames")
            pts.append(stamp)
            if packet.is_keyframe:
                keys.append((stamp, min(stamp, packet.dts) if packet.dts is not None else stamp))
        pts.sort()
        keys.sort()
        return pts, keys

    @property
    def info(self) -> VideoInfo:
        return self._info

    def _to_rgb(self, frame: Any) -> np.ndarray:
        kwargs: dict[str, object] = {"format": "rgb24"}
        if self.size is not None:  # bilinear, in the YUV->RGB conversion, as decord's FFmpeg 4 `scale` filter does
            kwargs.update(height=self.size[0], width=self.size[1], interpolation="BILINEAR")
        return frame.to_ndarray(**kwargs)

    def _from_start(self) -> Iterator[Any]:
        """Reopen and decode from the first frame (always correct, used when a seek overshoots)."""
        self._container.close()
        self._container = self._open()
        return iter(self._container.decode(self._stream))

    def _jump(self, want: int) -> Iterator[Any]:
        """A frame iterator whose first frame is at or before pts ``want``."""
        pos = bisect_right(self._key_ts, (want, float("inf"))) - 1
        if pos >= 0:
            self._container.seek(self._key_ts[pos][1], backward=True, any_frame=False, stream=self._stream)
            frames = iter(self._container.decode(self._stream))
            first = next(frames, None)
            if first is not None and first.pts is not None and first.pts <= want:
                return chain([first], frames)
            self._seek_works = False
        return self._from_start()

    def _read(self, indices: list[int]) -> np.ndarray:
        out: list[np.ndarray] = []
        frames: Iterator[Any] | None = None
        last_pts: int | None = None
        try:
            for index in indices:
                want = self._pts[index]
                # Decode forward while no keyframe lies between the last decoded frame and the target;
                # otherwise jump to the keyframe just before the target.
                pos = bisect_right(self._key_ts, (want, float("inf"))) - 1
                nearest_key = self._key_ts[pos][0] if pos >= 0 else None
                skip_ahead = self._seek_works and nearest_key is not None and last_pts is not None
                if frames is None or last_pts is None or (skip_ahead and nearest_key > last_pts):
                    frames = self._jump(want)
                found = None
                for frame in frames:
                    if frame.pts is None:
                        raise VideoDecodeError(self.path, "decoded frame has no timestamp")
                    last_pts = frame.pts
                    if frame.pts >= want:
                        found = frame
                        break
                if found is None:
                    raise VideoDecodeError(
                        self.path, f"frame {index} of {len(self._pts)} could not be decoded (stream ended early)"
                    )
                out.append(self._to_rgb(found))
        except VideoDecodeError:
            raise
        except Exception as err:
            raise VideoDecodeError(self.path, f"PyAV cannot decode frames {indices} ({_reason(err)})") from err
        return np.stack(out)

    def close(self) -> None:
        container = self.__dict__.pop("_container", None)
        if container is not None:
            container.close()


TORCHCODEC_INSTALL = (
    "pip install 'allinone-bench[torchcodec]' and FFmpeg's shared libraries "
    "(Debian 12: apt-get install libavcodec59 libavformat59 libavutil57 libswscale6 libavfilter8 libavdevice59; "
    "elsewhere: apt-get install ffmpeg)"
)


class TorchCodecReader(FrameReader):
    """torchcodec (PyTorch's decoder, on the system's FFmpeg 4-8): ``seek_mode="exact"`` scans the file at open
    for an exact frame index, as decord does. Native-size frames match decord's bit for bit; ``size`` uses
    torchcodec's own resize (bilinear, antialiased, after the RGB conversion), which is not decord's
    (bilinear inside the YUV->RGB conversion), so squashed frames differ slightly (README "Performance")."""

    name = "torchcodec"
    seek_mode: ClassVar[str] = "exact"

    def __init__(self, path: Path, size: Size | None = None) -> None:
        super().__init__(path, size)
        try:
            from torchcodec.decoders import VideoDecoder
            from torchcodec.transforms import Resize
        except Exception as err:  # ImportError, or RuntimeError when FFmpeg's libraries cannot be loaded
            raise VideoDecodeError(path, f"torchcodec cannot load ({_reason(err)}); {TORCHCODEC_INSTALL}") from err
        try:
            self._dec = VideoDecoder(str(path), dimension_order="NHWC", num_ffmpeg_threads=1, device="cpu",
                                     seek_mode=self.seek_mode, transforms=[Resize(size)] if size else None)
            meta = self._dec.metadata
            num_frames, fps = int(meta.num_frames or 0), meta.average_fps
            h, w = size if size is not None else (int(meta.height or 0), int(meta.width or 0))
        except Exception as err:  # drop the C++ source location torchcodec puts before FFmpeg's reason
            reason = re.sub(r"\w+, \S+\.cpp:\d+, ", "", _reason(err))
            if "could not load libtorchcodec" in reason.lower():  # FFmpeg's libraries are loaded on first use
                raise VideoDecodeError(path, f"torchcodec cannot load FFmpeg; {TORCHCODEC_INSTALL}") from err
            raise VideoDecodeError(path, f"torchcodec cannot open it ({reason})") from err
        if num_frames <= 0:
            raise VideoDecodeError(path, "torchcodec found no video frames")
        self._info = VideoInfo(num_frames, float(fps) if fps else None, h, w, self.name)

    @property
    def info(self) -> VideoInfo:
        return self._info

    def _read(self, indices: list[int]) -> np.ndarray:
        try:
            return self._dec.get_frames_at(indices).data.numpy()
        except Exception as err:
            raise VideoDecodeError(self.path, f"torchcodec cannot decode frames {indices} ({_reason(err)})") from err

    def close(self) -> None:
        self.__dict__.pop("_dec", None)


class TorchCodecApproxReader(TorchCodecReader):
    """torchcodec with ``seek_mode="approximate"``: frame positions from the container header (fps and
    duration) instead of a scan at open; faster to open, exact only for constant-frame-rate files."""

    name = "torchcodec_approx"
    seek_mode = "approximate"


def _natural_key(name: str) -> list[object]:
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", name)]


class FrameDirReader(FrameReader):
    """A directory of extracted frames (TVQA, ActivityNet releases): images sorted by name, digits compared
    numerically so ``2.jpg`` precedes ``10.jpg``. Only the sampled images are opened."""

    name = "frames"

    def __init__(self, path: Path, size: Size | None = None, fps: float | None = None) -> None:
        super().__init__(path, size)
        if not path.is_dir():
            raise VideoDecodeError(path, "not a directory of frames")
        self._files = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
            key=lambda p: _natural_key(p.name),
        )
        if not self._files:
            raise VideoDecodeError(path, f"no image frames ({', '.join(sorted(IMAGE_SUFFIXES))}) in directory")
        first = self._load(0)
        self._info = VideoInfo(len(self._files), fps, int(first.shape[0]), int(first.shape[1]), self.name)

    @property
    def info(self) -> VideoInfo:
        return self._info

    def _load(self, index: int) -> np.ndarray:
        from PIL import Image

        file = self._files[index]
        try:
            with Image.open(file) as img:
                img = img.convert("RGB")
                if self.size is not None:
                    img = img.resize((self.size[1], self.size[0]), Image.Resampling.BICUBIC)
                return np.asarray(img, dtype=np.uint8)
        except Exception as err:
            raise VideoDecodeError(file, f"cannot read frame image ({_reason(err)})") from err

    def _read(self, indices: list[int]) -> np.ndarray:
        frames = [self._load(i) for i in indices]
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise VideoDecodeError(self.path, f"frames have different sizes {sorted(shapes)}; pass a decode size")
        return np.stack(frames)


BACKENDS: dict[str, type[FrameReader]] = {
    DecordReader.name: DecordReader,
    PyAVReader.name: PyAVReader,
    TorchCodecReader.name: TorchCodecReader,
    TorchCodecApproxReader.name: TorchCodecApproxReader,
    FrameDirReader.name: FrameDirReader,
}
