"""The job cache (`/job-cache`): one folder per queue, shared by that queue's jobs on this worker, with a
quota kept by removing the least recently used entries after each attempt.

Jobs of one queue can read and change what earlier jobs of that queue left there (that is what a cache is
for); jobs of other queues never see it.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from asman.core.names import check_queue


def queue_cache(data_dir: Path, queue: str) -> Path:
    """The cache folder of `queue` under the worker's data dir (queue names are safe file names)."""
    return data_dir / "cache" / check_queue(queue)


def _usage(entry: Path) -> tuple[int, float]:
    """An entry's size in bytes and when it was last used (the newest access or change in it)."""
    try:
        status = entry.lstat()
    except OSError:
        return 0, 0.0
    used = max(status.st_atime, status.st_mtime)
    size = 0 if stat.S_ISDIR(status.st_mode) else status.st_size  # file contents only, as a quota counts them
    if stat.S_ISDIR(status.st_mode):
        for folder, _dirs, files in os.walk(entry):
            for name in files:
                try:
                    inner = (Path(folder) / name).lstat()
                except OSError:
                    continue
                size += inner.st_size
                used = max(used, inner.st_atime, inner.st_mtime)
    return size, used


def trim(cache: Path, quota: int) -> list[str]:
    """Remove the least recently used top-level entries of `cache` until it holds at most `quota` bytes;
    returns the names removed."""
    try:
        entries = list(cache.iterdir())
    except OSError:
        return []
    usage = {entry: _usage(entry) for entry in entries}
    total = sum(size for size, _ in usage.values())
    removed: list[str] = []
    for entry in sorted(entries, key=lambda item: usage[item][1]):
        if total <= quota:
            break
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        total -= usage[entry][0]
        removed.append(entry.name)
    return removed
