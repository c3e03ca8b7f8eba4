"""Transcription for the server: off the event loop, a bounded number at a time.

Whisper is CPU-bound for seconds; run on the loop it would freeze every other
conversation. Here it runs in worker threads, at most `concurrency` at once;
the rest wait their turn without blocking the loop.

The work a note can cost is bounded by its length (`speech.max_seconds`, checked
before Whisper sees it) and its turn by `speech.timeout`: past that the turn ends
with `audio_timeout`. Whisper runs in this process and cannot be stopped mid-way,
so the abandoned transcription still finishes (within the length bound) before the
next one starts: the thread pool, not the turn, keeps the concurrency bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from assistant.errors import AudioError
from assistant.speech.base import Transcriber, Transcript
from assistant.speech.vocabulary import prompt_for

if TYPE_CHECKING:
    from assistant.settings import Settings

log = logging.getLogger(__name__)


class SpeechService:
    def __init__(self, transcriber: Transcriber, *, concurrency: int = 1,
                 vocabulary: Iterable[str] = (),
                 vocabulary_source: Callable[[], Iterable[str]] | None = None,
                 timeout: float = 60.0) -> None:
        self.transcriber = transcriber
        self.concurrency = concurrency
        self.timeout = timeout
        self.vocabulary = tuple(vocabulary)  # for every note, e.g. kb_vocabulary(kb)
        # Computed once, in a worker thread, before the first note: reading the knowledge
        # base's words at start-up would slow every start for a feature not yet used.
        self._vocabulary_source = vocabulary_source
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="whisper")
        self._slots: asyncio.Semaphore | None = None  # made on the loop that first uses it

    @classmethod
    def from_settings(cls, settings: Settings, *, vocabulary: Iterable[str] = (),
                      vocabulary_source: Callable[[], Iterable[str]] | None = None) -> SpeechService:
        """The configured backend; its model loads on the first transcription (or warm_up).

        `vocabulary`: words for every note; `kb_vocabulary(kb)` gives the knowledge
        base's (with them, spoken requests found the right intent as often as typed ones).
        """
        from assistant.speech import TRANSCRIBERS

        transcriber = TRANSCRIBERS.create(settings.speech.backend, settings)
        return cls(transcriber, concurrency=settings.speech.concurrency,
                   vocabulary=vocabulary, vocabulary_source=vocabulary_source,
                   timeout=settings.speech.timeout)

    async def transcribe(self, audio: bytes, *, language: str | None = None,
                         vocabulary: Iterable[str] = ()) -> Transcript:
        """The transcript of a voice note; bad audio raises AudioError with its code.

        `vocabulary`: words this conversation makes likely (the customer's order
        numbers, products), put before the service's own so they survive the cut.
        """
        await self._load_vocabulary()
        prompt = prompt_for([*vocabulary, *self.vocabulary])
        # Waiting here rather than in the pool's queue: a customer who leaves
        # while queued (a cancelled task) never costs a transcription.
        async with self._semaphore():
            loop = asyncio.get_running_loop()
            work = loop.run_in_executor(
                self._pool, lambda: self.transcriber.transcribe(audio, language=language, prompt=prompt))
            try:
                return await asyncio.wait_for(work, self.timeout)
            except TimeoutError:
                log.warning("transcription gave up after %.0f s (%d bytes)", self.timeout, len(audio))
                raise AudioError("This voice note took too long to understand. Please send a shorter one, "
                                 "or type your question.", code="audio_timeout") from None

    async def _load_vocabulary(self) -> None:
        source, self._vocabulary_source = self._vocabulary_source, None
        if source is None:
            return
        try:
            words = await asyncio.get_running_loop().run_in_executor(self._pool, lambda: tuple(source()))
        except Exception as exc:  # an empty or unreachable knowledge base: transcribe without its words
            log.warning("no knowledge-base vocabulary for voice notes: %s", exc)
            return
        self.vocabulary = (*self.vocabulary, *words)

    async def warm_up(self) -> None:
        """Load the model now (e.g. in the server's lifespan) rather than on the first voice note."""
        load = getattr(self.transcriber, "load", None)
        if load is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, load)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        return self._slots
