"""Telling a file's format from its name and its first bytes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from knowledge.errors import FormatError

FORMATS: tuple[str, ...] = (
    "bitext", "csv", "jsonl", "abcd-conversations", "abcd-guidelines", "markdown", "text",
)
BITEXT_COLUMNS = frozenset({"instruction", "intent", "category", "response"})
_HEAD_BYTES = 65_536  # enough for a header line and the first records


def sniff_format(path: Path) -> str:
    """One of FORMATS for the file; FormatError saying why when it cannot tell."""
    path = Path(path)
    head = _head(path)
    ext = path.suffix.lower()
    if ext in (".csv", ".tsv"):
        return "bitext" if set(header_columns(head)) >= BITEXT_COLUMNS else "csv"
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext in (".md", ".markdown"):
        return "markdown"
    if ext in (".txt", ".text"):
        return "text"
    if ext == ".json" or head.lstrip()[:1] in ("[", "{"):
        return _sniff_json(path, head)
    if ext:
        raise FormatError(
            f"cannot tell the format of {path.name}: '{ext}' files are not supported "
            f"(supported formats: {', '.join(FORMATS)})"
        )
    return "markdown" if any(ln.startswith("# ") for ln in head.splitlines()) else "text"


def _head(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            raw = f.read(_HEAD_BYTES)
    except FileNotFoundError:
        raise FormatError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise FormatError(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror}") from None
    if not raw.strip():
        raise FormatError(f"{path.name} is empty")
    if b"\x00" in raw:
        raise FormatError(f"{path.name} is a binary file, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3 and len(raw) == _HEAD_BYTES:
            return raw[: exc.start].decode("utf-8-sig")  # a character cut by the read limit
        raise FormatError(f"{path.name} is not UTF-8 text (byte {exc.start} is invalid)") from None


def header_columns(head: str) -> list[str]:
    """The column names of a CSV/TSV header, stripped."""
    first = head.splitlines()[0] if head else ""
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    row = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
    return [c.strip() for c in row]


def _sniff_json(path: Path, head: str) -> str:
    start = head.lstrip()[:1]
    if start == "[" and '"original"' in head:
        return "abcd-conversations"
    if start == "{" and '"subflows"' in head:
        return "abcd-guidelines"
    if start == "{" and '"original"' in head and not _first_line_is_object(head):
        return "abcd-conversations"  # the full ABCD release: {"train": [...], "dev": [...], ...}
    if start == "{" and _first_line_is_object(head):
        return "jsonl"
    raise FormatError(
        f"cannot tell the format of {path.name}: a JSON file must be ABCD conversations (a list of "
        "objects with 'original' turns), ABCD guidelines (flows with 'subflows'), or JSON Lines"
    )


def _first_line_is_object(head: str) -> bool:
    line = head.lstrip().splitlines()[0]
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
