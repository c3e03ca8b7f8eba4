"""The root of every error of the product, and the knowledge base's own branch.

Every error that can reach a customer, an agent or an operator is a SupportError:
a stable `code` and one human sentence (`message`) a client may show. The root
lives here, in the lowest layer, so that the knowledge base, the assistant
(assistant.errors) and the channels (channels.errors, which also holds the one
table from code to HTTP status and websocket close code) all share it.

    SupportError (code "internal")
    ├── KnowledgeError (code "knowledge_error")
    │   ├── RecordError        bad_record           a row that cannot become a record
    │   ├── RedactPatternError bad_redact_pattern   a configured redaction regex is unusable
    │   ├── FormatError        unknown_format       a file whose format is unknown or unreadable
    │   ├── EmbeddingError     embedding_error      the embedding model failed to load or run
    │   ├── VectorStoreError   vector_store_error   Chroma is unreachable or refused a write
    │   └── QueryError         bad_query            an empty search, an unknown filter, a bad k
    ├── AssistantError         (assistant.errors)
    └── ChannelError           (channels.errors)
"""

from __future__ import annotations

from typing import ClassVar


class SupportError(Exception):
    code: ClassVar[str] = "internal"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class KnowledgeError(SupportError):
    code = "knowledge_error"


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
