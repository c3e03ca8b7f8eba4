"""A folder written whole (assistant.folders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.folders import write_whole


def test_a_new_folder_replaces_the_old_one_whole(tmp_path: Path) -> None:
    out = tmp_path / "adapter"
    write_whole(out, lambda d: (d / "a.txt").write_text("first"))
    write_whole(out, lambda d: (d / "b.txt").write_text("second"))
    assert [p.name for p in out.iterdir()] == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]  # nothing left beside it


def test_a_failed_write_leaves_the_old_folder_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "adapter"
    write_whole(out, lambda d: (d / "a.txt").write_text("first"))

    def broken(d: Path) -> None:
        (d / "half.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_whole(out, broken)
    assert (out / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]
