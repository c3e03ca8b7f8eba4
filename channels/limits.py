"""The limits a customer socket enforces, each breach a LimitError with a stable code.

Rates are token buckets: `messages_per_minute` tokens refill evenly over a
minute, so a burst of that size is allowed and then one message every
60/rate seconds. One bucket per connection, one shared per client IP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from channels.errors import LimitError, ProtocolError

if TYPE_CHECKING:
    from assistant.settings import Settings


class TokenBucket:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self.tokens = self.capacity
        self.clock = clock
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass
class IpBuckets:
    """Buckets per client IP, shared by all sockets of this worker."""

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def take(self, ip: str) -> bool:
        if len(self.buckets) > 10_000:  # forget idle IPs so the table cannot grow without end
            self.buckets = {k: b for k, b in self.buckets.items() if b.tokens < b.capacity}
        bucket = self.buckets.get(ip)
        if bucket is None:
            bucket = self.buckets[ip] = TokenBucket(self.per_minute, self.clock)
        return bucket.take()


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int  # largest text frame
    max_message_chars: int  # longest message text
    max_attachments: int  # attachment ids per message

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        s = settings.server
        return cls(s.max_frame_bytes, s.max_message_chars, s.max_attachments)

    def check_frame(self, raw: str) -> None:
        # Characters are at most 4 bytes: only measure the encoding when it could matter.
        if len(raw) * 4 > self.max_frame_bytes and len(raw.encode()) > self.max_frame_bytes:
            raise ProtocolError(f"A frame has at most {self.max_frame_bytes} bytes.", code="frame_too_large")

    def check_message(self, text: str, attachments: int) -> None:
        if not text.strip() and attachments == 0:
            raise ProtocolError("A message needs text or an attachment.", code="empty_message")
        if len(text) > self.max_message_chars:
            raise LimitError(f"A message has at most {self.max_message_chars} characters.",
                             code="message_too_long")
        if attachments > self.max_attachments:
            raise LimitError(f"A message has at most {self.max_attachments} attachments.",
                             code="too_many_attachments")


def rate_limited(scope: str) -> LimitError:
    return LimitError(f"Too many messages {scope}; wait a moment and send again.", code="rate_limited")
