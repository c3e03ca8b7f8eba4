"""Thin adapters that let Chroma and LangChain call the project's one `Embedder`.

The two libraries disagree on `embed_query` (Chroma takes a list, LangChain a
string), so one class cannot serve both: each gets a wrapper of a few lines.
"""

from __future__ import annotations

from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from langchain_core.embeddings import Embeddings as _LCEmbeddings

from knowledge.config import EmbeddingConfig
from knowledge.embeddings import Embedder

CHROMA_NAME = "support-assistant"


class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's embedding-function protocol over an Embedder (never Chroma's downloading default)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embedder.embed(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        return self(input)

    @staticmethod
    def name() -> str:
        return CHROMA_NAME

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine", "ip", "l2"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
        # Chroma rebuilds the function from what get_config stored; the model loads lazily.
        return ChromaEmbeddingFunction(Embedder(EmbeddingConfig(**config)))

    def get_config(self) -> dict[str, Any]:
        return self.embedder.describe()

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if old_config.get("model") != new_config.get("model"):
            raise ValueError("the embedding model of a collection cannot change; delete and re-ingest")


class LangChainEmbeddings(_LCEmbeddings):
    """langchain_core's Embeddings interface over an Embedder."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_one(text).tolist()
