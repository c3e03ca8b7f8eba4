"""A folder written whole: built beside its place, then swapped in, so a reader never sees
half of it (model adapters, the handoff classifier, training checkpoints)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path


def write_whole(out: Path, write: Callable[[Path], None]) -> Path:
    """`write(staging)` fills a fresh folder beside `out`, which then replaces `out` (the old one is
    moved aside first and deleted last, so `out` is always either the old folder or the new)."""
    staging = out.with_name(f".{out.name}.partial")  # hidden: nothing that lists folders takes it
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        write(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out
