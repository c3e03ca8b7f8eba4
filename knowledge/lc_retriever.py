"""The knowledge base as a LangChain `BaseRetriever`, for users who build LangChain chains.

Imported only by `Retriever.as_langchain()`, so langchain_core loads on demand.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict


class KnowledgeRetriever(BaseRetriever):
    """Documents whose page_content is the filled resolution; metadata adds score, id and request."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any  # knowledge.retriever.Retriever
    k: int = 5
    filters: dict[str, str] = {}

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun
                                ) -> list[Document]:
        hits = self.retriever.search(query, self.k, filters=self.filters)
        return [
            Document(
                page_content=hit.text,
                id=hit.id,
                metadata={**hit.to_json()["metadata"], "id": hit.id, "score": hit.score,
                          "request": hit.record.request},
            )
            for hit in hits
        ]
