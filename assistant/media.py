"""Turning a turn's attachments into words: voice notes into transcripts, images into text.

Each attachment becomes one event (VoiceTranscript, ImageText, or an ErrorEvent
with the input error's code), yielded as soon as it is ready so the customer sees
the transcript before the answer. Bad input ends that attachment, not the turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from assistant.errors import AssistantError, InputError
from assistant.events import ErrorEvent, Event, ImageText, VoiceTranscript
from assistant.images import sniff_image_type, validate_image
from assistant.speech.base import Transcript
from assistant.store.base import Attachment
from assistant.vision import ImageReader

log = logging.getLogger(__name__)


class Speech(Protocol):
    """What the dialogue needs of assistant.speech.service.SpeechService."""

    async def transcribe(self, audio: bytes, *, language: str | None = None,
                         vocabulary: Iterable[str] = ()) -> Transcript: ...


@dataclass
class Understood:
    """What a turn's attachments said, gathered while their events are yielded."""

    transcript: str = ""
    language: str = ""
    image_texts: list[str] = field(default_factory=list)
    images: list[bytes] = field(default_factory=list)  # validated bytes, for vision-capable models


def is_image(attachment: Attachment) -> bool:
    # The bytes decide; a declared image/* that is not one still goes to validation (and is refused).
    return sniff_image_type(attachment.data) is not None or attachment.content_type.startswith("image/")


class MediaReader:
    def __init__(self, *, speech: Speech | None, image_reader: ImageReader, max_image_bytes: int,
                 max_image_pixels: int, language: str = "") -> None:
        self.speech = speech
        self.image_reader = image_reader
        self.max_image_bytes = max_image_bytes
        self.max_image_pixels = max_image_pixels
        self.language = language or None

    async def read(self, attachments: Iterable[Attachment], message_id: str,
                   into: Understood) -> AsyncGenerator[Event, None]:
        """Unstored events, one per attachment; `into` collects the text for the query."""
        for attachment in attachments:
            try:
                if is_image(attachment):
                    event = await self._image(attachment, message_id, into)
                else:
                    event = await self._audio(attachment, message_id, into)
            except AssistantError as exc:
                log.info("attachment %s refused: %s: %s", attachment.id, exc.code, exc.message)
                event = ErrorEvent(conversation_id=attachment.conversation_id, code=exc.code,
                                   message=_for_customer(exc), message_id=message_id)
            yield event

    async def _image(self, attachment: Attachment, message_id: str, into: Understood) -> Event:
        # Decoding a large image takes a moment: off the loop, like the OCR after it.
        await asyncio.to_thread(validate_image, attachment.data, max_bytes=self.max_image_bytes,
                                max_pixels=self.max_image_pixels)
        reading = await self.image_reader.read(attachment.data)
        into.images.append(attachment.data)
        if reading.text:
            into.image_texts.append(reading.text)
        return ImageText(conversation_id=attachment.conversation_id, message_id=message_id,
                         attachment=attachment.id, text=reading.text, method=reading.method)

    async def _audio(self, attachment: Attachment, message_id: str, into: Understood) -> Event:
        if self.speech is None:
            raise InputError("Voice notes are not enabled on this service.", code="audio_unsupported")
        transcript = await self.speech.transcribe(attachment.data, language=self.language)
        into.transcript = " ".join(filter(None, [into.transcript, transcript.text.strip()]))
        into.language = transcript.language
        return VoiceTranscript(conversation_id=attachment.conversation_id, message_id=message_id,
                               text=transcript.text.strip(), language=transcript.language,
                               duration=transcript.duration)


def _for_customer(exc: AssistantError) -> str:
    """What the customer (and the agent) read: a refusal of their input says what was wrong with
    it; a failure of ours (a model, a missing program) is not theirs to read about (it is logged)."""
    if isinstance(exc, InputError):
        return exc.message
    return ("Something went wrong on our side while reading this attachment. Please try again, "
            "or type your question.")
