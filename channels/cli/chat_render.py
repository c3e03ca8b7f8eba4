"""How `assistant chat` shows each server frame as terminal text."""

from __future__ import annotations

from typing import Any

from assistant.events import (
    AgentMessage,
    AnswerCompleted,
    AnswerDelta,
    AnswerStarted,
    ErrorEvent,
    ImageText,
    StatusChanged,
    UserMessage,
    VoiceTranscript,
)
from channels.frames import Ready, ServerError

_STATES = {
    "waiting_human": "waiting for a person to join",
    "bot": "back with the assistant",
    "closed": "the conversation is closed; write to reopen it",
}


def describe(frame: Any, mine: set[str]) -> tuple[str | None, bool]:
    """(text to print or None, whether the reply to what was sent has arrived)."""
    if isinstance(frame, AnswerStarted):
        return "assistant: ", False
    if isinstance(frame, AnswerDelta):
        return frame.text, False
    if isinstance(frame, AnswerCompleted):
        return _answer_end(frame), True
    if isinstance(frame, UserMessage):
        if frame.client_msg_id in mine:
            return None, False
        shown = frame.text or f"[{len(frame.attachments)} attachment(s)]"
        return f"you: {shown}\n", False  # from another tab, or replayed on resume
    if isinstance(frame, VoiceTranscript):
        return f"  (voice note: {frame.text})\n", False
    if isinstance(frame, ImageText):
        text = " ".join(frame.text.split())
        return f"  (image: {text[:120]}{'…' if len(text) > 120 else ''})\n", False
    if isinstance(frame, StatusChanged):
        return f"[{_status(frame)}]\n", frame.state != "bot"
    if isinstance(frame, AgentMessage):
        return f"{frame.agent}: {frame.text}\n", True
    if isinstance(frame, (ErrorEvent, ServerError)):
        return f"error [{frame.code}]: {frame.message}\n", True
    if isinstance(frame, Ready) and frame.resumed:
        return "[reconnected]\n", False
    return None, False


def _answer_end(frame: AnswerCompleted) -> str:
    end = " [interrupted]\n" if frame.interrupted else "\n"
    if frame.sources:
        names = ", ".join(f"{s.intent or s.id} ({s.score:.2f})" for s in frame.sources[:3])
        end += f"  sources: {names}\n"
    return end


def _status(frame: StatusChanged) -> str:
    if frame.state == "human":
        return f"{frame.agent or 'a person'} has joined"
    return _STATES.get(frame.state, frame.state)
