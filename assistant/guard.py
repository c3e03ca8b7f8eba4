"""The grounding guard: any chat model's answer, checked sentence by sentence as it streams.

    llm = GroundedBackend(TransformersChat(...), company=settings.company)

Text is held back until a sentence is complete, then judged by assistant.grounding:
a sentence that invents a specific (a phone number, a link, an amount, a name…),
holds code, markup or a sign-off placeholder, or is mostly not in the evidence is
dropped; a sentence said twice stops the model (a loop); the last sentence is
dropped when the model stopped in the middle of it, and a sentence that announces
what follows ("Here are the steps:") goes out only with it. If nothing of substance
survives, the best reference composed for the customer follows (assistant.compose), so
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
    content_words,
    evidence_texts,
    is_cut_off,
    normalized,
    renumbered,
    split_sentences,
    strip_markdown,
)
from assistant.llm.base import ChatRequest, Delta, LLMBackend
from assistant.llm.extractive import ExtractiveBackend
from knowledge.placeholders import fill, numbered_values

log = logging.getLogger(__name__)


class GroundedBackend:
    """Wraps a backend; its stream yields only sentences the evidence supports."""

    def __init__(self, inner: LLMBackend, *, company: Mapping[str, str] | None = None,
                 floor: float = 0.0) -> None:
        self.inner = inner
        self.company = dict(company or {})
        # the record read when nothing is supported: as the extractive backend chooses it
        self.fallback = ExtractiveBackend(company=self.company, floor=floor)
        self.name = inner.name
        self.supports_images = inner.supports_images
        self.reads_prompt = inner.reads_prompt

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        gate = _Gate(request, self.company)
        buffer = ""
        async with aclosing(self.inner.stream(request)) as deltas:  # type: ignore[type-var]
            async for delta in deltas:
                buffer += delta.text
                # The last piece may still grow: it waits for the next delta or the end.
                *complete, buffer = split_sentences(buffer) or [""]
                for sentence in complete:
                    text = gate.take(sentence)
                    if text is None:  # a loop: stop the model (closing the stream stops generation)
                        buffer = ""
                        break
                    if text:
                        yield Delta(text)
                else:
                    continue
                break
        text = gate.finish(buffer)
        if text:
            yield Delta(text)
        if not gate.sent:
            # Nothing, or only courtesy ("I'm glad you reached out."), survived: the record says it.
            log.info("grounding: no sentence of substance was supported; answering from the best record")
            async for delta in self.fallback.stream(request):
                yield delta


SUBSTANCE = 3  # content words that make a sentence more than courtesy


class _Gate:
    """Judges one answer's sentences in order and says what may be sent of each."""

    def __init__(self, request: ChatRequest, company: Mapping[str, str]) -> None:
        said = [m.content for m in request.messages if m.role == "user"]
        # A tuned model writes the history's placeholders ("{{Order Number}}"): filled like a
        # composed answer's, from [company] and what the customer said, else generic words.
        self.values = {**company, **numbered_values(said)}
        self.evidence = Evidence(evidence_texts(request.references, said, company))
        self.references = "\n".join(h.text for h in request.references)
        self.markdown_ok = strip_markdown(self.references) != self.references
        self.seen: set[str] = set()  # sentences said so far: one said twice is a loop
        self.pending = ""  # "Follow these steps:" waits for what it announces
        self.sent = 0  # sentences of substance sent
        self.steps = 0  # numbered list items sent: a dropped step does not leave a gap ("1., 3.")

    def take(self, sentence: str) -> str | None:
        """What to send now ("" for nothing yet); None when the model repeats itself."""
        norm = normalized(sentence)
        if len(norm.split()) >= 4 and norm in self.seen:
            log.info("grounding: the model repeats itself; answer stopped")
            return None
        self.seen.add(norm)
        text = self._judge(sentence)
        if not text.strip():
            return ""
        if text.rstrip().endswith(":"):
            self.pending += text
            return ""
        text, self.pending = self.pending + self._renumbered(text), ""
        self.sent += len(content_words(text)) >= SUBSTANCE
        return text

    def _renumbered(self, text: str) -> str:
        """List items numbered on from the last one sent (a "1." starts a new list)."""
        text, self.steps = renumbered(text, self.steps)
        return text

    def finish(self, rest: str) -> str:
        """The last piece when the model stopped: dropped when cut off mid-sentence."""
        if rest.strip() and is_cut_off(rest):
            log.info("grounding: dropped a sentence cut off at the token limit: %r", rest.strip()[:80])
        elif rest.strip():
            text = self.take(rest)
            if text:
                return text
        if self.pending:
            log.info("grounding: dropped %r: nothing it announces was supported", self.pending.strip()[:80])
        return ""

    def _judge(self, sentence: str) -> str:
        """The sentence as it may be sent, or "" when it must not be."""
        if "{{" in sentence:
            sentence = fill(sentence, self.values)
        if not self.markdown_ok:
            sentence = strip_markdown(sentence)
        if not sentence.strip():
            return sentence
        verdict = check_sentence(sentence, self.evidence, self.references)
        if verdict.ok:
            return sentence
        log.info("grounding: dropped a sentence (%s): %r", verdict.problem(), sentence.strip()[:120])
        return ""
