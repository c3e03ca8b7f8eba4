"""Policy documents: Markdown split on its headings, plain text, both chunked to a size."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from knowledge.errors import FormatError, KnowledgeError
from knowledge.importers import common
from knowledge.importers.common import ReadOptions, RowProblem, first_line, redacted, slug
from knowledge.records import Record

Item = Record | RowProblem
_HEADINGS = [("#" * n, f"h{n}") for n in range(1, 7)]


def read_markdown(path: Path, opts: ReadOptions) -> Iterator[Item]:
    """Chunks of each section; subject = the heading path, "Returns / Damaged items"."""
    text = _read(path)
    splitter = common.text_splitter(opts.chunk_size, opts.chunk_overlap)
    sections = _markdown_sections(text)
    seen: Counter[str] = Counter()
    for subject, body in sections:
        key = slug(subject) or (common.text_key(subject)[:8] if subject else "intro")
        seen[key] += 1
        if seen[key] > 1:  # two sections under the same headings
            key = f"{key}~{seen[key]}"
        for i, chunk in enumerate(splitter.split_text(body)):
            yield _policy(f"{opts.source}:{key}:{i}", subject, chunk, opts)


def read_text(path: Path, opts: ReadOptions) -> Iterator[Item]:
    """Chunks of the whole file; subject = its first line, which is usually a title."""
    text = _read(path)
    subject = first_line(text)
    splitter = common.text_splitter(opts.chunk_size, opts.chunk_overlap)
    for i, chunk in enumerate(splitter.split_text(text)):
        yield _policy(f"{opts.source}:{i}", subject, chunk, opts)


def _policy(record_id: str, subject: str, chunk: str, opts: ReadOptions) -> Record:
    record = Record(
        id=record_id, request=subject or first_line(chunk), resolution=chunk.strip(), subject=subject,
        source=opts.source, kind="policy",
    )
    return redacted(record, opts.redactor)


def _markdown_sections(text: str) -> list[tuple[str, str]]:
    try:
        from langchain_text_splitters import MarkdownHeaderTextSplitter
    except ImportError:
        raise KnowledgeError(
            "langchain-text-splitters is not installed: pip install langchain-text-splitters"
        ) from None
    docs = MarkdownHeaderTextSplitter(_HEADINGS, strip_headers=True).split_text(text)
    sections = []
    for doc in docs:
        path = [doc.metadata[name] for _, name in _HEADINGS if doc.metadata.get(name)]
        if doc.page_content.strip():
            sections.append((" / ".join(path), doc.page_content))
    return sections


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path.name} is not UTF-8 text (byte {exc.start} is invalid)") from None
