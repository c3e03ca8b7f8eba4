"""The channels' errors, and the one table from an error code to what a client gets.

Every error of every layer is a knowledge.errors.SupportError with a stable `code`
and one human sentence. An HTTP endpoint answers it as `{"code", "message"}` with
the status below (400 when the code is not listed); a websocket sends it as an
`error` frame, and closes the socket after it when the table gives a close code.

    SupportError (knowledge.errors)
    ├── KnowledgeError, AssistantError  (their own modules)
    └── ChannelError
        ├── ProtocolError       bad_json, unknown_type, bad_field, frame_too_large,
        │                       binary_not_supported, hello_required, empty_message
        ├── LimitError          message_too_long, too_many_attachments, rate_limited
        ├── AccessError         unauthorized, token_revoked, bad_credentials, forbidden,
        │                       identity_invalid, origin_not_allowed
        └── UploadError         upload_empty, upload_too_large, unsupported_type
    plus conversation_not_found, attachment_not_found, not_ready, shutting_down
"""

from __future__ import annotations

from typing import NamedTuple

from knowledge.errors import SupportError


class Outcome(NamedTuple):
    status: int  # HTTP status of the {code, message} answer
    close: int | None = None  # websocket close code sent after the error frame (None: stays open)


# Every code whose outcome is not a 400 that leaves the socket open.
ERRORS: dict[str, Outcome] = {
    "unauthorized": Outcome(401, 4401),
    "token_revoked": Outcome(401, 4401),  # the token's account was removed or its password reset
    "bad_credentials": Outcome(401),
    "identity_invalid": Outcome(403),
    "forbidden": Outcome(403),
    "origin_not_allowed": Outcome(403, 4403),
    "conversation_not_found": Outcome(404),
    "attachment_not_found": Outcome(404),
    "lesson_not_found": Outcome(404),
    "bad_transition": Outcome(409),
    "upload_too_large": Outcome(413),
    "unsupported_type": Outcome(415),
    "rate_limited": Outcome(429),
    "not_ready": Outcome(503),
    "shutting_down": Outcome(503),
    "model_busy": Outcome(503),
    "model_unavailable": Outcome(503),
    "embedding_error": Outcome(503),
    "vector_store_error": Outcome(503),
}
DEFAULT = Outcome(400)


def outcome(error: SupportError) -> Outcome:
    return ERRORS.get(error.code, DEFAULT)


def http_status(error: SupportError) -> int:
    return outcome(error).status


def close_code(error: SupportError) -> int | None:
    """The websocket close code that follows this error's frame, or None (the socket stays usable)."""
    return outcome(error).close


class ChannelError(SupportError):
    code = "channel_error"


class ProtocolError(ChannelError):
    code = "bad_frame"


class LimitError(ChannelError):
    code = "limit_exceeded"


class AccessError(ChannelError):
    code = "forbidden"


class UploadError(ChannelError):
    code = "bad_upload"
