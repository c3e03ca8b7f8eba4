"""Small real Bitext files for the knowledge-base tests (a stratified slice of demo/bitext)."""

from __future__ import annotations

import csv
from pathlib import Path

BITEXT = Path(__file__).parent.parent / "demo" / "bitext" / "records.csv"


def bitext_rows(every: int = 15, limit: int | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and every n-th row: the file is sorted by intent, so this spans all 27 intents."""
    with BITEXT.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [row for i, row in enumerate(reader) if i % every == 0]
    return header, rows[:limit]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path
