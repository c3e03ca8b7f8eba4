"""Options of the knowledge base: embeddings, the Chroma collection, ingestion.

Plain pydantic models with one comment a field; `assistant.settings` nests them
under `[knowledge]` so this package never reads config files itself.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddingConfig(_Options):
    # "packaged:minilm-int8" (int8 ONNX, fastest), "packaged:minilm" (fp32, sentence-transformers)
    # or a sentence-transformers hub id / local folder for users with internet.
    model: str = "packaged:minilm-int8"
    batch_size: int = Field(64, ge=1)  # texts per forward pass while ingesting
    threads: int = Field(0, ge=0)  # intra-op threads; 0 lets the runtime choose
    max_tokens: int = Field(256, ge=16)  # longer texts are truncated before embedding


class ChromaConfig(_Options):
    mode: Literal["embedded", "http"] = "embedded"  # PersistentClient under data_dir, or HttpClient
    host: str = "127.0.0.1"  # Chroma server host (mode = "http")
    port: int = Field(8000, ge=1, le=65535)  # Chroma server port (mode = "http")
    ssl: bool = False  # use https for the Chroma server
    collection: str = "support_records"  # collection name
    hnsw_ef_search: int = Field(512, ge=8)  # HNSW search breadth: recall against latency (retrieval.py)


class ColumnMapping(_Options):
    """Which columns of a generic CSV/JSONL hold which record field (empty = absent)."""

    id: str = ""  # stable id column; without it, a hash of the request (an edited answer keeps its id)
    request: str = "request"  # the customer's request
    resolution: str = "resolution"  # the agent's answer
    subject: str = ""
    intent: str = ""
    category: str = ""
    tags: str = ""  # comma- or space-separated
    product: str = ""
    created_at: str = ""
    audience: str = ""  # customer | internal ("" = every row is for customers)


class KnowledgeConfig(_Options):
    embeddings: EmbeddingConfig = EmbeddingConfig()
    chroma: ChromaConfig = ChromaConfig()
    mapping: ColumnMapping = ColumnMapping()  # for --format csv / jsonl
    chunk_size: int = Field(800, ge=100)  # characters per policy-document chunk
    chunk_overlap: int = Field(100, ge=0)  # characters shared by neighbouring chunks
    redact_patterns: list[str] = []  # extra regexes whose matches are replaced by [REDACTED]
    default_k: int = Field(5, ge=1, le=100)  # hits returned by a search when k is not given
    # Nearest records among which the best one of the intent predicted by the intent head is put
    # first (the head is learned from the records' intents at ingest); 0 = plain similarity order.
    rerank_depth: int = Field(20, ge=0, le=200)
