"""The synthetic dataset a task runs on when no ``--data-root`` is given: written once, then reused.

``synthetic_cache_dir()/<adapter>/n<videos>-s<seed>/`` is filled through a temporary directory that is renamed
into place after the adapter's ``synthesize`` returned and a completion marker was written, so a crash midway
leaves no half-written set that later runs would trust.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from allinone_bench.engine import dist
from allinone_bench.paths import synthetic_cache_dir

COMPLETE_MARKER = ".complete"


def synthetic_root(adapter: str, num_videos: int, seed: int, base: Path | None = None) -> Path:
    return (base or synthetic_cache_dir()) / adapter / f"n{num_videos}-s{seed}"


def ensure_synthetic(adapter: str, num_videos: int, seed: int, *, base: Path | None = None) -> tuple[Path, bool]:
    """The data root holding ``adapter``'s synthetic set (generating it on rank 0 if needed).

    Returns ``(root, generated_now)``.
    """
    from allinone_bench.data.datasets import get_adapter

    from allinone_bench.data.synthetic import SYNTHETIC_FORMAT

    root = synthetic_root(adapter, num_videos, seed, base)
    marker = f"adapter={adapter} num_videos={num_videos} seed={seed} format={SYNTHETIC_FORMAT}\n"
    generated = False
    with dist.main_process_first():
        done = root / COMPLETE_MARKER
        if dist.is_main_process() and not (done.is_file() and done.read_text() == marker):  # stale formats redone
            adapter_cls = get_adapter(adapter)
            tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            try:
                adapter_cls.synthesize(tmp, num_videos=num_videos, seed=seed)
                (tmp / COMPLETE_MARKER).write_text(marker)
                shutil.rmtree(root, ignore_errors=True)
                os.replace(tmp, root)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            generated = True
    return root, generated
