"""The grounding guard: any chat model's answer, checked sentence by sentence as it streams.

    llm = GroundedBackend(TransformersChat(...), company=settings.company)

Text is held back until a sentence is complete, then judged by assistant.grounding:
a sentence that invents a specific (a phone number, a link, an amount, a name…),
holds code, markup or a sign-off placeholder, or is mostly not in the evidence is
dropped; a sentence said twice stops the model (a loop); the last sentence is
dropped when the model stopped in the middle of it. If nothing survives, the
answer is the best reference composed for the customer (assistant.compose), so
the customer always reads something true. The evidence is the request itself:
its references, the customer's messages and the [company] values.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing

from assistant.grounding import (
    Evidence,
    check_sentence,
    evidence_texts,
    is_cut_off,
    normalized,
    split_sentences,
    strip_markdown,
)
from assistant.llm.base import ChatRequest, Delta, LLMBackend
from assistant.llm.extractive import ExtractiveBackend

log = logging.getLogger(__name__)


class GroundedBackend:
    """Wraps a backend; its stream yields only sentences the evidence supports."""

    def __init__(self, inner: LLMBackend, *, company: Mapping[str, str] | None = None) -> None:
        self.inner = inner
        self.company = dict(company or {})
        self.fallback = ExtractiveBackend(company=self.company)
        self.name = inner.name
        self.supports_images = inner.supports_images

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        said = [m.content for m in request.messages if m.role == "user"]
        evidence = Evidence(evidence_texts(request.references, said, self.company))
        references = "\n".join(h.text for h in request.references)
        markdown_ok = strip_markdown(references) != references
        seen: set[str] = set()  # sentences said so far: one said twice is a loop
        kept = 0
        buffer = ""
        async with aclosing(self.inner.stream(request)) as deltas:  # type: ignore[type-var]
            async for delta in deltas:
                buffer += delta.text
                # The last piece may still grow: it waits for the next delta or the end.
                *complete, buffer = split_sentences(buffer) or [""]
                for sentence in complete:
                    norm = normalized(sentence)
                    if len(norm.split()) >= 4 and norm in seen:
                        log.info("grounding: the model repeats itself; answer stopped")
                        buffer = ""
                        break
                    seen.add(norm)
                    text = self._judge(sentence, evidence, references, markdown_ok)
                    if text:
                        kept += 1
                        yield Delta(text)
                else:
                    continue
                break  # a loop: stop the model (closing the stream stops generation)
        if buffer.strip() and not is_cut_off(buffer):
            text = self._judge(buffer, evidence, references, markdown_ok)
            if text:
                kept += 1
                yield Delta(text)
        elif buffer.strip():
            log.info("grounding: dropped a sentence cut off at the token limit: %r", buffer.strip()[:80])
        if not kept:
            log.info("grounding: no sentence of the model was supported; answering from the best record")
            async for delta in self.fallback.stream(request):
                yield delta

    def _judge(self, sentence: str, evidence: Evidence, references: str, markdown_ok: bool) -> str:
        """The sentence as it may be sent, or "" when it must not be."""
        if not markdown_ok:
            sentence = strip_markdown(sentence)
        if not sentence.strip():
            return sentence
        verdict = check_sentence(sentence, evidence, references)
        if verdict.ok:
            return sentence
        log.info("grounding: dropped a sentence (%s): %r", verdict.problem(), sentence.strip()[:120])
        return ""
