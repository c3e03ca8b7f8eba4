"""An agent token holds only while the account that signed in still stands.

A token carries a tag of its account (channels.auth.AgentAuth.account_tag: name,
password hash, inboxes). `assistant agents remove` deletes the account and
`assistant agents add --replace` stores a new argon2 hash (a new salt each time),
so either one makes the stored account's tag differ from the token's, and the
token is refused with `token_revoked`.

The CLI runs in another process and a server may have several workers, so the
check reads the store; each worker remembers an answer for ACCOUNT_CHECK_SECONDS
so a busy console does not read the store on every frame. That is the bound on
how long a revoked token keeps working on a worker, and the cadence at which an
open /ws/agent socket is checked when its agent sends nothing.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

from assistant.store.base import ConversationStore
from channels.auth import Agent, AgentAuth
from channels.errors import AccessError

ACCOUNT_CHECK_SECONDS = 5.0  # revocation delay per worker; also the open sockets' check cadence
_MAX_REMEMBERED = 4096  # (name, tag) answers kept before the stale ones are dropped


class AccountCheck:
    """Verifies agent tokens against the store's accounts, with a short per-process memory."""

    def __init__(self, auth: AgentAuth, store: ConversationStore, *, seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.auth = auth
        self.store = store
        # Read at construction, not at import: tests shorten it with monkeypatch.
        self.seconds = ACCOUNT_CHECK_SECONDS if seconds is None else seconds
        if self.seconds <= 0:  # every open console would read the store in a busy loop
            raise ValueError("the account check interval must be positive")
        self._clock = clock
        # Keyed by (name, tag), so a token from a fresh sign-in is looked up at once
        # instead of being refused on an older answer about the account's previous tag.
        self._answers: dict[tuple[str, str], tuple[float, bool]] = {}

    async def verify(self, token: str, *, fresh: bool = False) -> Agent:
        """The agent of a valid token whose account stands; AccessError(unauthorized) for a
        bad or expired token, AccessError(token_revoked) for a removed or reset account.
        `fresh` reads the store even when a remembered answer is young enough."""
        agent = self.auth.verify_agent_token(token)
        if not await self._stands(agent, fresh):
            raise AccessError("Your account was removed or its password was changed; sign in again.",
                              code="token_revoked")
        return agent

    async def _stands(self, agent: Agent, fresh: bool) -> bool:
        key = (agent.name, agent.account_tag)
        now = self._clock()
        known = self._answers.get(key)
        if known is not None and not fresh and now - known[0] < self.seconds:
            return known[1]
        # `now` is taken before the read: an answer is never trusted past `seconds` after it.
        account = await self.store.get_agent(agent.name)
        stands = account is not None and hmac.compare_digest(
            self.auth.account_tag(account), agent.account_tag)
        if len(self._answers) >= _MAX_REMEMBERED:
            self._forget_stale(now)
        self._answers[key] = (now, stands)
        return stands

    def _forget_stale(self, now: float) -> None:
        for key in [k for k, (at, _) in self._answers.items() if now - at >= self.seconds]:
            del self._answers[key]
        if len(self._answers) >= _MAX_REMEMBERED:  # all fresh: a burst of sign-ins; start over
            self._answers.clear()
