"""Everything a running assistant holds, built once from Settings and closed in reverse.

    async with build_runtime(settings) as rt:
        async for event in rt.dialogue.handle(UserMessage(conversation_id=cid, text="hi")): ...

AssistantRuntime satisfies assistant.ports.Runtime (what channels use). Used by the
CLI (`ask`, `eval`) and by the server's lifespan. A chat model that cannot be
loaded is replaced by the extractive backend, with a warning, so the service
still answers from its records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant import heap
from assistant.agent_knowledge import AgentKnowledge
from assistant.dialogue import DialogueManager
from assistant.errors import AssistantError
from assistant.guard import GroundedBackend
from assistant.handoff_model import PersonClassifier, classifier_folder
from assistant.llm.base import LLMBackend
from assistant.llm.extractive import ExtractiveBackend
from assistant.llm.local import TransformersChat
from assistant.settings import Settings
from assistant.store.base import ConversationStore
from assistant.vision import ImageReader
from knowledge.redact import Redactor

if TYPE_CHECKING:
    from assistant.speech.service import SpeechService
    from knowledge.base import KnowledgeBase  # imported when a runtime is built: it loads Chroma

log = logging.getLogger(__name__)


@dataclass
class AssistantRuntime:
    settings: Settings
    store: ConversationStore
    knowledge: KnowledgeBase
    agent_knowledge: AgentKnowledge
    llm: LLMBackend
    speech: SpeechService | None  # None when speech cannot start
    image_reader: ImageReader
    dialogue: DialogueManager
    fallback_reason: str = ""  # why the configured chat model is not the one answering
    llm_adapter: str = ""  # the `assistant tune` adapter the local chat model runs with, if any

    def readiness(self) -> dict[str, str | bool]:
        """Each component and what runs it; every value is truthy once built (a fallback
        chat model still answers, so it still counts as ready, and says so)."""
        llm = self.llm.name + (f" (fallback: {self.fallback_reason})" if self.fallback_reason else "")
        speech = type(self.speech.transcriber).__name__ if self.speech is not None else "disabled"
        parts: dict[str, str | bool] = {"store": type(self.store).__name__, "knowledge": True, "llm": llm,
                 "vision": self.image_reader.name, "speech": speech}
        return {**parts, "llm_adapter": self.llm_adapter} if self.llm_adapter else parts


@contextlib.asynccontextmanager
async def build_runtime(settings: Settings, *, load_llm: bool = True,
                        llm: LLMBackend | None = None, warm: bool = False) -> AsyncIterator[AssistantRuntime]:
    """Store, knowledge base, chat model, speech, image reader and the dialogue manager.

    `load_llm=False` skips loading the chat model (e.g. `eval --retrieve-only`);
    `llm` replaces the configured backend (tests, benchmarks) and is used as given. A
    configured backend answers through the grounding guard unless `dialogue.grounding`
    is "off" (assistant.guard: no sentence its sources lack reaches a customer). `warm=True` (the
    server) also loads the embedding model and Chroma now, so the first customer
    does not wait for them, then settles the heap (assistant.heap)."""
    from assistant.store import STORES
    from knowledge.base import KnowledgeBase

    async with contextlib.AsyncExitStack() as stack:
        store: ConversationStore = STORES.create(settings.store.backend, settings)
        await store.open()
        stack.push_async_callback(store.close)
        knowledge = KnowledgeBase(settings.knowledge, settings.data_dir, settings.company,
                                  settings.dialogue.intent_labels, settings.dialogue.intent_examples)
        stack.callback(knowledge.close)
        fallback = ""
        if llm is None:
            model, fallback = await _chat_backend(settings, load=load_llm)
            # The extractive backend says only what a record says: there is nothing to check.
            generates = not isinstance(model, ExtractiveBackend)
            strict = settings.dialogue.grounding == "strict" and generates
            llm = (GroundedBackend(model, company=settings.company, floor=settings.dialogue.min_score)
                   if strict else model)
        else:
            model = llm
        stack.push_async_callback(llm.aclose)
        speech = _speech(settings, knowledge)
        if speech is not None:
            stack.callback(speech.close)
        reader = _image_reader(settings, model)
        if callable(getattr(reader, "close", None)):  # OCR: kill tesseract processes still running
            stack.callback(reader.close)  # type: ignore[attr-defined]
        # loads on first use; runs in onnxruntime from an export kept beside the other models
        person = PersonClassifier(classifier_folder(settings.data_dir), cache=settings.path("models", "onnx"))
        dialogue = DialogueManager(settings, store=store, knowledge=knowledge, llm=llm, speech=speech,
                                   image_reader=reader, person=person)
        if warm:
            await asyncio.to_thread(_warm_knowledge, knowledge, person)
            heap.settle()
        agents = AgentKnowledge(knowledge, Redactor(settings.knowledge.redact_patterns))
        yield AssistantRuntime(settings=settings, store=store, knowledge=knowledge, agent_knowledge=agents,
                      llm=llm, speech=speech,
                      image_reader=reader, dialogue=dialogue, fallback_reason=fallback,
                      llm_adapter=model.adapter if isinstance(model, TransformersChat) else "")


async def _chat_backend(settings: Settings, *, load: bool) -> tuple[LLMBackend, str]:
    """The configured backend, loaded; or the extractive one and the reason why."""
    from assistant.llm import LLM_BACKENDS

    try:
        backend = LLM_BACKENDS.create(settings.llm.backend, settings)
        loader = getattr(backend, "load", None)
        if load and loader is not None:
            await asyncio.to_thread(loader)
        return backend, ""
    except AssistantError as exc:
        if settings.llm.backend == "extractive":
            raise
        log.warning("chat model %r (%s) cannot be loaded, answering with the extractive backend "
                    "(the best record's resolution): %s", settings.llm.model, settings.llm.backend,
                    exc.message)
        return ExtractiveBackend.from_settings(settings), exc.message


def _warm_knowledge(knowledge: KnowledgeBase, person: PersonClassifier) -> None:
    """Load the embedding model and the handoff classifier and open Chroma with one
    search; a knowledge base that cannot search yet (none ingested, Chroma server
    down) is only logged: the turns that need it will say so to the customer."""
    started = time.perf_counter()
    try:
        person.load()
        knowledge.search("hello", 1)
    except Exception as exc:  # noqa: BLE001 - the server starts anyway; turns report the error
        log.warning("the knowledge base could not be warmed up: %s", exc)
        return
    log.info("knowledge base warm in %.1f s", time.perf_counter() - started)


def _speech(settings: Settings, knowledge: KnowledgeBase) -> SpeechService | None:
    from assistant.speech.service import SpeechService
    from assistant.speech.vocabulary import kb_vocabulary

    try:
        # The knowledge base's own words prime Whisper: spoken requests then find the right
        # intent as often as typed ones (benchmarks/speech.py). The model loads on first use.
        return SpeechService.from_settings(settings, vocabulary_source=lambda: kb_vocabulary(knowledge))
    except AssistantError as exc:
        log.warning("voice notes are disabled: %s", exc.message)
        return None


def _image_reader(settings: Settings, llm: LLMBackend) -> ImageReader:
    from assistant.vision import IMAGE_READERS

    # A vision-capable chat backend is reused to read images rather than loaded twice.
    return IMAGE_READERS.create(settings.vision.backend, settings, backend=llm)
