"""Who may act on one conversation: its customer, who holds the resume token, or an agent
who handles its inbox (channels.accounts).

The resume token is the anonymous customer's only proof, so it is always compared
in constant time: how long a refusal takes tells nothing of how much of a guess was right.
"""

from __future__ import annotations

import hmac

from assistant.store.base import ConversationInfo
from channels.accounts import agent_from_header
from channels.errors import AccessError
from channels.service import Service


def holds_resume_token(info: ConversationInfo, token: str | None) -> bool:
    """True when `token` is this conversation's resume token."""
    if not token:
        return False
    return hmac.compare_digest(token.encode(), info.resume_token.encode())


async def caller_is_agent(service: Service, conversation_id: str, resume_token: str | None,
                          authorization: str | None) -> bool:
    """True for an agent allowed on this conversation, False for its customer; else AccessError.
    An HTTP caller who sends `Authorization` is taken for an agent."""
    if authorization:
        await service.agent_conversation(await agent_from_header(service, authorization), conversation_id)
        return True
    info = await service.store.get(conversation_id)
    if not holds_resume_token(info, resume_token):
        raise AccessError("Send the conversation's resume token in X-Resume-Token.", code="forbidden")
    return False
