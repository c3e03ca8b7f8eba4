"""Reading support records from files: Bitext, CSV, JSONL, ABCD, Markdown, plain text.

`read_records(path)` yields redacted Records, and a RowProblem for each bad row
instead of stopping the file. Ids are stable across re-imports, so re-reading an
edited file replaces changed records rather than duplicating them:

    bitext               bitext:<hash of instruction + intent>
    csv / jsonl          <source>:<id column>, or <source>:<hash of request>
    abcd-conversations   abcd:<convo_id>
    abcd-guidelines      abcd:guidelines:<flow>/<subflow>:<chunk>
    markdown             <source>:<heading path>:<chunk>
    text                 <source>:<chunk>

A repeated hash gets "~2", "~3" in file order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from knowledge.config import ColumnMapping
from knowledge.errors import FormatError
from knowledge.importers.abcd import read_conversations, read_guidelines
from knowledge.importers.common import ReadOptions, RowProblem
from knowledge.importers.documents import read_markdown, read_text
from knowledge.importers.sniff import FORMATS, sniff_format
from knowledge.importers.tabular import read_bitext, read_csv, read_jsonl
from knowledge.records import Record
from knowledge.redact import Redactor

__all__ = ["FORMATS", "READERS", "RowProblem", "default_source", "read_records", "sniff_format"]

_NO_MAPPING = ColumnMapping()  # frozen, so one shared default is safe

Reader = Callable[[Path, ReadOptions], Iterator[Record | RowProblem]]

READERS: dict[str, Reader] = {
    "bitext": read_bitext,
    "csv": read_csv,
    "jsonl": read_jsonl,
    "abcd-conversations": read_conversations,
    "abcd-guidelines": read_guidelines,
    "markdown": read_markdown,
    "text": read_text,
}


def default_source(path: Path, format: str) -> str:
    """"bitext" and "abcd" for those datasets (guidelines: "abcd:guidelines"), else the file name."""
    return {"bitext": "bitext", "abcd-conversations": "abcd", "abcd-guidelines": "abcd:guidelines"}.get(
        format, Path(path).name
    )


def read_records(
    path: Path,
    *,
    format: str | None = None,
    mapping: ColumnMapping = _NO_MAPPING,
    redactor: Redactor | None = None,
    chunk_size: int = 800,
    chunk_overlap: int = 100,
    source: str | None = None,
    redact: bool = True,
) -> Iterator[Record | RowProblem]:
    """Records of one file (redacted with `redactor`, or a default Redactor), and RowProblems.

    `format` is sniffed when not given. A file that cannot be read at all, or whose
    header lacks a mapped column, raises FormatError; a bad row is a RowProblem.
    `redact=False` stores the text as it is (for data that is already clean).
    """
    path = Path(path)
    if format is None:
        format = sniff_format(path)
    elif format not in READERS:
        raise FormatError(f"unknown format '{format}': use one of {', '.join(FORMATS)}")
    elif not path.is_file():
        raise FormatError(f"no such file: {path}")
    opts = ReadOptions(
        source=source or default_source(path, format),
        mapping=mapping,
        redactor=(redactor or Redactor()) if redact else None,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
    )
    return READERS[format](path, opts)
