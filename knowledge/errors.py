"""Errors of the knowledge base, each with a stable code and one human sentence.

    KnowledgeError (code "knowledge_error")
    ├── RecordError        bad_record           a row that cannot become a record
    ├── RedactPatternError bad_redact_pattern   a configured redaction regex is unusable
    ├── FormatError        unknown_format       a file whose format is unknown or unreadable
    ├── EmbeddingError     embedding_error      the embedding model failed to load or run
    ├── VectorStoreError   vector_store_error   Chroma is unreachable or refused a write
    └── QueryError         bad_query            an empty search, an unknown filter, a bad k
"""

from __future__ import annotations

from typing import ClassVar


class KnowledgeError(Exception):
    code: ClassVar[str] = "knowledge_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RecordError(KnowledgeError):
    code = "bad_record"


class FormatError(KnowledgeError):
    code = "unknown_format"


class EmbeddingError(KnowledgeError):
    code = "embedding_error"


class VectorStoreError(KnowledgeError):
    code = "vector_store_error"


class QueryError(KnowledgeError):
    code = "bad_query"


class RedactPatternError(KnowledgeError):
    """A configured redaction regex that does not compile or matches the empty string."""

    code = "bad_redact_pattern"
