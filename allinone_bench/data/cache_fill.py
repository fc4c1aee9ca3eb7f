"""Fill the frame cache for a task's evaluation splits ahead of time, in parallel (``allinone-bench data cache``).

Every distinct video of the task's test split (and its selection split) is decoded once under the task's
evaluation protocol by a pool of worker processes, each writing its entries with atomic renames, so several
fills (or evaluations) may run at once against one cache folder.
"""

from __future__ import annotations

from collections.abc import Callable
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allinone_bench.data.frame_cache import FrameCache
from allinone_bench.data.types import VideoRef
from allinone_bench.errors import VideoDecodeError


@dataclass
class FillReport:
    videos: int = 0
    cached: int = 0
    present: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def _fill_one(args: tuple[Any, VideoRef, str, int]) -> tuple[str, str]:
    """Worker: ``("present"|"cached"|"failed", reason)`` for one video."""
    from allinone_bench.data.pipeline import ClipLoader

    protocol, video, root, max_bytes = args
    cache = FrameCache(root, max_bytes)
    loader = ClipLoader(protocol, train=False, frame_cache=cache)
    if cache.get(loader.cache_key(video)) is not None:
        return "present", ""
    try:
        loader.load_clip(video)
    except (VideoDecodeError, OSError) as err:
        return "failed", str(err).splitlines()[0]
    return "cached", ""


def task_videos(task: str, data_root: Path | None) -> tuple[Any, list[VideoRef]]:
    """(evaluation protocol, distinct videos of the test and selection splits) of ``task``."""
    from allinone_bench.data.datasets import drop_missing_videos, get_adapter
    from allinone_bench.engine.synthetic import ensure_synthetic
    from allinone_bench.tasks import load_task

    cfg = load_task(task, synthetic=data_root is None)
    if data_root is None:
        data_root, _ = ensure_synthetic(cfg.dataset.adapter, cfg.synthetic.num_videos, cfg.synthetic.seed)
    adapter = get_adapter(cfg.dataset.adapter)(Path(data_root), **cfg.dataset.options)
    names = dict.fromkeys(n for n in (cfg.dataset.splits.name("test"), cfg.dataset.splits.name(cfg.selection.split))
                          if n)
    videos: dict[VideoRef, None] = {}
    for name in names:
        for sample in drop_missing_videos(adapter.load(name))[0].samples:
            videos.setdefault(sample.video, None)
    return cfg.protocol.video.to_protocol(train=False), list(videos)


def fill_cache(task: str, data_root: Path | None, cache: FrameCache, *, workers: int = 1,
               progress: Callable[[int, int], None] | None = None) -> FillReport:
    """Decode every evaluation video of ``task`` into ``cache``; ``progress(done, total)`` after each video."""
    protocol, videos = task_videos(task, data_root)
    report = FillReport(videos=len(videos))
    jobs = [(protocol, v, str(cache.root), cache.max_bytes) for v in videos]
    if workers <= 1:
        results = map(_fill_one, jobs)
        pool = None
    else:
        # spawn: forking a process whose torch thread pools have run can hang or crash the child
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        results = pool.map(_fill_one, jobs, chunksize=4)
    try:
        for i, (video, (status, reason)) in enumerate(zip(videos, results, strict=True), 1):
            if status == "failed":
                report.failed[str(video.path)] = reason
            else:
                setattr(report, status, getattr(report, status) + 1)
            if progress:
                progress(i, len(videos))
    finally:
        if pool is not None:
            pool.shutdown()
    return report
