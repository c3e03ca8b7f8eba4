"""One conversation event of every type, for the event, store and protocol tests."""

from __future__ import annotations

from assistant.events import (
    AgentMessage,
    AnswerCompleted,
    AnswerDelta,
    AnswerStarted,
    ErrorEvent,
    Event,
    Feedback,
    ImageText,
    Note,
    Source,
    StatusChanged,
    Suggestion,
    UserMessage,
    VoiceTranscript,
)


def every_event(cid: str = "c1") -> list[Event]:
    """One event of every type, with the optional fields filled in."""
    src = Source(id="r1", score=0.83, intent="cancel_order", category="ORDER", title="cancel my order")
    return [
        UserMessage(conversation_id=cid, message_id="m1", text="héllo", attachments=("a1", "a2"),
                    client_msg_id="k1", user_id="u1"),
        VoiceTranscript(conversation_id=cid, message_id="m1", text="hello", language="en", duration=2.5),
        ImageText(conversation_id=cid, message_id="m1", attachment="a1", text="Order #42", method="ocr"),
        AnswerStarted(conversation_id=cid, message_id="m2"),
        AnswerDelta(conversation_id=cid, message_id="m2", text="Sure"),
        AnswerCompleted(conversation_id=cid, message_id="m2", text="Sure, here is how.", sources=(src,),
                        interrupted=True),
        StatusChanged(conversation_id=cid, state="waiting_human", reason="customer_request"),
        AgentMessage(conversation_id=cid, message_id="m3", text="Hi, I am Ana", agent="ana"),
        Suggestion(conversation_id=cid, message_id="m4", text="Try this", sources=(src, src)),
        Note(conversation_id=cid, text="VIP customer", author="ana"),
        Feedback(conversation_id=cid, message_id="m2", rating="down", comment="not helpful"),
        # An error may name the customer's message (here: one of its images could not be read);
        # one naming a closed answer would be refused (assistant.store.leases).
        ErrorEvent(conversation_id=cid, code="image_corrupt", message="That image could not be read.",
                   message_id="m1"),
    ]
