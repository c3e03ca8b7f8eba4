"""The seams between the service and the rest: what channels call, never import.

`create_app` gets a runtime factory from its caller (the CLI passes
assistant.runtime.build_runtime); the runtime's `dialogue` satisfies
ChatHandlers, its `knowledge` KnowledgeSearch. Agent and customer identities are
checked by an Authenticator (channels.auth). Nothing here imports the dialogue
manager or torch.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Protocol

from channels.errors import AccessError


class AgentIdentity(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def inboxes(self) -> Sequence[str]: ...  # "*" = every inbox


class Authenticator(Protocol):
    def verify_agent_token(self, token: str) -> AgentIdentity:
        """The agent; raises AccessError(unauthorized) for a bad or expired token."""
        ...

    def verify_customer(self, user_id: str, user_hash: str) -> bool:
        """True when the site signed this user id (HMAC with server.identity_secret)."""
        ...


def may_see(agent: AgentIdentity, inbox: str) -> bool:
    return "*" in agent.inboxes or inbox in agent.inboxes


class IdentityOnly:
    """The authenticator used until channels.auth is configured: no agent token is valid;
    customer identities are checked with the HMAC secret (off when it is empty)."""

    def __init__(self, identity_secret: str) -> None:
        self.secret = identity_secret.encode()

    def verify_agent_token(self, token: str) -> AgentIdentity:
        raise AccessError("Agent sign-in is not configured on this server.", code="unauthorized")

    def verify_customer(self, user_id: str, user_hash: str) -> bool:
        if not self.secret:
            return False
        expected = hmac.new(self.secret, user_id.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, user_hash)
