"""The assistant's errors: one branch of the product's single tree, each with a stable code.

The root, SupportError, is in knowledge.errors (the lowest layer), so a channel
catches every error of every layer as one type and maps its code once
(channels.errors). Every message is one human sentence a client may show.

    SupportError (knowledge.errors)
    └── AssistantError (code "internal")
        ├── ConfigError            config_invalid      bad or unknown key, missing file
        ├── DependencyMissing      dependency_missing  an optional library is not installed
        ├── ModelError             model_error         a backend failed to load or generate
        │   ├── ModelUnavailable   model_unavailable   server down, weights absent
        │   ├── ModelTimeout       model_timeout       a stream stalled
        │   └── ModelBusy          model_busy          the generation queue is full
        ├── InputError             bad_input           the customer's input cannot be used
        │   ├── ImageError         image_*             unsupported_type, too_large, too_many_pixels,
        │   │                                          corrupt
        │   └── AudioError         audio_*             empty, silent, corrupt, too_long, too_large,
        │                                              unsupported
        ├── ConversationError      conversation_*      not_found, closed, bad_transition
        └── StoreError             store_error         the conversation store failed
            └── AnswerClosed       answer_closed       the answer was closed meanwhile (by another worker)
"""

from __future__ import annotations

from knowledge.errors import SupportError


class AssistantError(SupportError):
    code = "internal"


class ConfigError(AssistantError):
    code = "config_invalid"


class DependencyMissing(AssistantError):
    code = "dependency_missing"

    def __init__(self, module: str, install: str) -> None:
        super().__init__(f"{module} is not installed: pip install {install}")


class ModelError(AssistantError):
    code = "model_error"


class ModelUnavailable(ModelError):
    code = "model_unavailable"


class ModelTimeout(ModelError):
    code = "model_timeout"


class ModelBusy(ModelError):
    code = "model_busy"


class InputError(AssistantError):
    code = "bad_input"


class ImageError(InputError):
    code = "image_invalid"


class AudioError(InputError):
    code = "audio_invalid"


class ConversationError(AssistantError):
    code = "conversation_error"


class StoreError(AssistantError):
    code = "store_error"


class AnswerClosed(StoreError):
    """A delta or completion for an answer that is no longer open: another worker took this
    worker for dead (its lease ran out during a stall) and closed the answer as interrupted.
    The log already ends that answer; the writer should stop streaming it."""

    code = "answer_closed"
