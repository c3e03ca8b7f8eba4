"""What every importer shares: the bad-row report, the read options, stable ids, chunking."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from knowledge.config import ColumnMapping
from knowledge.errors import KnowledgeError
from knowledge.records import Record
from knowledge.redact import Redactor

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter


@dataclass(frozen=True)
class RowProblem:
    """A row that was skipped: where it starts (1-based line) and why, in one sentence."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class ReadOptions:
    """How one file is read; built by read_records from its keyword arguments."""

    source: str  # Record.source, and the prefix of every id from this file
    mapping: ColumnMapping = ColumnMapping()  # generic CSV/JSONL columns
    redactor: Redactor | None = None  # None: records are not redacted
    chunk_size: int = 800  # characters per policy chunk
    chunk_overlap: int = 100  # characters shared by neighbouring chunks


@dataclass
class IdMaker:
    """Stable ids for one file: `source:key`, with `~2`, `~3` for repeats of the same key.

    Repeats keep their order in the file, so re-importing an unchanged file gives the same ids.
    """

    source: str
    seen: Counter[str] = field(default_factory=Counter)

    def make(self, key: str) -> str:
        self.seen[key] += 1
        n = self.seen[key]
        return f"{self.source}:{key}" if n == 1 else f"{self.source}:{key}~{n}"


def text_key(*parts: str) -> str:
    """A short hash of texts, blind to case and whitespace edits ("Hi  there" == "hi there")."""
    norm = "\x1f".join(" ".join(p.split()).lower() for p in parts)
    return hashlib.sha256(norm.encode()).hexdigest()[:16]


def slug(text: str) -> str:
    """"Initiate Refund" -> "initiate_refund"."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def clean(text: object) -> str:
    """Field text with Windows newlines and outer whitespace gone."""
    if text is None:
        return ""
    return str(text).replace("\r\n", "\n").replace("\r", "\n").strip()


def split_tags(value: str) -> tuple[str, ...]:
    """A comma- or space-separated tag cell -> distinct tags, in order."""
    return tuple(dict.fromkeys(t for t in re.split(r"[,;\s]+", value) if t))


def redacted(record: Record, redactor: Redactor | None) -> Record:
    """The record with every free-text field redacted (labels like intent are left alone)."""
    if redactor is None:
        return record
    r = redactor.redact
    return replace(
        record,
        request=r(record.request), resolution=r(record.resolution), subject=r(record.subject),
        product=r(record.product), transcript=r(record.transcript),
        tags=tuple(r(t) for t in record.tags),
    )


def text_splitter(size: int, overlap: int) -> RecursiveCharacterTextSplitter:
    """A RecursiveCharacterTextSplitter, imported only when a document is chunked."""
    if overlap >= size:
        raise KnowledgeError(f"chunk_overlap ({overlap}) must be smaller than chunk_size ({size})")
    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter
    except ImportError:
        raise KnowledgeError(
            "langchain-text-splitters is not installed: pip install langchain-text-splitters"
        ) from None
    return RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap)


def first_line(text: str, limit: int = 120) -> str:
    """The first non-empty line, cut at a word boundary: the title of an untitled chunk."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = line.lstrip("#").strip()
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0] + "…"
