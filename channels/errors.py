"""Errors a client of the service is told about, each with a stable code.

They extend the assistant's tree (assistant.errors) so every error that reaches a
socket or an HTTP response has the same shape: `code` and one human sentence.

    AssistantError
    └── ChannelError            (the codes below)
        ├── ProtocolError       bad_json, unknown_type, bad_field, frame_too_large,
        │                       binary_not_supported, hello_required, empty_message
        ├── LimitError          message_too_long, too_many_attachments, rate_limited
        ├── AccessError         unauthorized, token_revoked, bad_credentials, forbidden,
        │                       identity_invalid, origin_not_allowed
        └── UploadError         upload_empty, upload_too_large, unsupported_type
    plus conversation_not_found, attachment_not_found, not_ready, shutting_down
"""

from __future__ import annotations

from assistant.errors import AssistantError

# HTTP status for each code an HTTP endpoint can raise (anything else is a 400).
HTTP_STATUS: dict[str, int] = {
    "unauthorized": 401,
    "token_revoked": 401,  # the token's account was removed or its password reset
    "bad_credentials": 401,
    "identity_invalid": 403,
    "forbidden": 403,
    "origin_not_allowed": 403,
    "conversation_not_found": 404,
    "attachment_not_found": 404,
    "upload_too_large": 413,
    "unsupported_type": 415,
    "rate_limited": 429,
    "not_ready": 503,
    "shutting_down": 503,
}


class ChannelError(AssistantError):
    code = "channel_error"

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)


class ProtocolError(ChannelError):
    code = "bad_frame"


class LimitError(ChannelError):
    code = "limit_exceeded"


class AccessError(ChannelError):
    code = "forbidden"


class UploadError(ChannelError):
    code = "bad_upload"
