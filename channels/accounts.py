"""Agents: who they are, how they sign in, and how each request proves it is one of them.

    auth = AgentAuth.from_settings(settings)
    token = auth.issue(check_login(account, password))
    agent = await AccountCheck(auth, store).verify(token.token)  # every agent frame and endpoint
    may_see(agent, inbox)                                         # an agent's conversations
    auth.verify_customer(user_id, user_hash)  # hex HMAC-SHA256(identity_secret, user_id)

Passwords are argon2id hashes (the store keeps AgentAccount records and never sees a
password). Tokens are HS256 JWTs with the agent's name, inboxes and a tag of the
account they were issued for, so they stop working once that account is removed or
reset; with several workers they must share `server.token_secret`, or a token from
one worker is refused by the next.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from assistant.errors import ConfigError
from assistant.store.base import AgentAccount, ConversationInfo, ConversationStore
from channels.errors import AccessError

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from assistant.settings import Settings

ISSUER = "assistant"
_ALGORITHM = "HS256"


# -- who an agent is -----------------------------------------------------------------

class AgentIdentity(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def inboxes(self) -> Sequence[str]: ...  # "*" = every inbox


class Authenticator(Protocol):
    """Agent tokens and customer identities; AgentAuth, or a test's stand-in."""

    def verify_agent_token(self, token: str) -> AgentIdentity:
        """The agent; raises AccessError(unauthorized) for a bad or expired token."""
        ...

    def verify_customer(self, user_id: str, user_hash: str) -> bool:
        """True when the site signed this user id (HMAC with server.identity_secret)."""
        ...


def may_see(agent: AgentIdentity, inbox: str) -> bool:
    return "*" in agent.inboxes or inbox in agent.inboxes


# -- passwords -----------------------------------------------------------------------

@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher  # argon2-cffi; defaults are argon2id (RFC 9106 low-memory)

    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash with its own random salt and parameters."""
    if not password:
        raise ValueError("a password cannot be empty")
    return str(_hasher().hash(password))


def check_password(password_hash: str, password: str) -> bool:
    """True when the password matches; False for a wrong one or a damaged hash."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def check_login(account: AgentAccount | None, password: str) -> AgentAccount:
    """The account if the password is right, else AccessError(bad_credentials).

    An unknown name costs one hash verification too, so the response time does not
    tell which names exist."""
    stored = account.password_hash if account is not None else _dummy_hash()
    if check_password(stored, password) and account is not None:
        return account
    raise AccessError("Wrong name or password.", code="bad_credentials")


# -- tokens and customer identities --------------------------------------------------

@dataclass(frozen=True)
class Agent:
    """A signed-in agent as a token names them (an AgentIdentity)."""

    name: str
    inboxes: tuple[str, ...]  # "*" = every inbox
    display_name: str = ""
    account_tag: str = ""  # AgentAuth.account_tag of the account at sign-in

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "display_name": self.display_name or self.name,
                "inboxes": list(self.inboxes)}


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: float  # seconds since the epoch
    agent: Agent

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "expires_at": self.expires_at, "agent": self.agent.to_json()}


def token_secret(settings: Settings, workers: int | None = None) -> str:
    """server.token_secret; a random one for a single process, ConfigError where tokens
    must work across processes (several workers, or the Redis bus)."""
    s = settings.server
    if s.token_secret:
        return str(s.token_secret)
    if (workers or s.workers) > 1 or settings.bus.backend == "redis":
        raise ConfigError(
            "config key 'server.token_secret': set a shared secret (ASSISTANT_SERVER__TOKEN_SECRET) "
            "when several workers serve agents, or a token signed by one is refused by another; "
            "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return secrets.token_urlsafe(32)


def _key(secret: str, purpose: str) -> bytes:
    # A 32-byte key per purpose: a short configured secret still makes a full-length
    # HMAC key, and the token key never equals the identity key.
    return hashlib.sha256(f"{purpose}:{secret}".encode()).digest()


class AgentAuth:
    """The service's Authenticator: signed agent tokens and customer identities."""

    def __init__(self, token_secret: str, *, token_minutes: int = 60, identity_secret: str = "") -> None:
        if not token_secret:
            raise ValueError("token_secret cannot be empty")
        self._key = _key(token_secret, "agent-token")
        self._tag_key = _key(token_secret, "account-tag")
        self.token_minutes = token_minutes
        self._identity = identity_secret.encode()

    @classmethod
    def from_settings(cls, settings: Settings) -> AgentAuth:
        return cls(token_secret(settings), token_minutes=settings.server.token_minutes,
                   identity_secret=settings.server.identity_secret)

    def issue(self, account: AgentAccount, *, now: float | None = None) -> IssuedToken:
        import jwt

        issued = int(now if now is not None else time.time())
        expires = issued + self.token_minutes * 60
        agent = Agent(name=account.name, inboxes=tuple(account.inboxes),
                      display_name=account.display_name, account_tag=self.account_tag(account))
        claims = {"iss": ISSUER, "sub": agent.name, "iat": issued, "exp": expires,
                  "inboxes": list(agent.inboxes), "display_name": agent.display_name,
                  "acc": agent.account_tag}
        return IssuedToken(jwt.encode(claims, self._key, algorithm=_ALGORITHM), float(expires), agent)

    def verify_agent_token(self, token: str) -> Agent:
        """The agent the token names; AccessError(unauthorized) if forged, damaged or expired.
        Whether its account still stands is the store's to say (AccountCheck)."""
        import jwt

        try:
            claims = jwt.decode(token, self._key, algorithms=[_ALGORITHM], issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "iss", "acc"]})
        except jwt.ExpiredSignatureError:
            raise AccessError("Your session has expired; sign in again.", code="unauthorized") from None
        except jwt.InvalidTokenError:
            raise AccessError("The agent token is not valid; sign in again.", code="unauthorized") from None
        inboxes = claims.get("inboxes")
        if not isinstance(inboxes, list) or not all(isinstance(i, str) for i in inboxes):
            raise AccessError("The agent token is not valid; sign in again.", code="unauthorized")
        return Agent(name=str(claims["sub"]), inboxes=tuple(inboxes),
                     display_name=str(claims.get("display_name", "")), account_tag=str(claims["acc"]))

    def account_tag(self, account: AgentAccount) -> str:
        """A keyed digest of what a token may not outlive: the name, the password hash
        (a new salt on every reset) and the inboxes. It tells nothing about the hash."""
        fields = json.dumps([account.name, account.password_hash, list(account.inboxes)])
        digest = hmac.new(self._tag_key, fields.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")

    def verify_customer(self, user_id: str, user_hash: str) -> bool:
        return _site_signed(self._identity, user_id, user_hash)


class IdentityOnly:
    """An Authenticator for a service without agent sign-in: no agent token is valid;
    customer identities are checked with the HMAC secret (off when it is empty)."""

    def __init__(self, identity_secret: str) -> None:
        self.secret = identity_secret.encode()

    def verify_agent_token(self, token: str) -> AgentIdentity:
        raise AccessError("Agent sign-in is not configured on this server.", code="unauthorized")

    def verify_customer(self, user_id: str, user_hash: str) -> bool:
        return _site_signed(self.secret, user_id, user_hash)


def sign_user_id(identity_secret: str | bytes, user_id: str) -> str:
    """What the site's backend computes and puts in the widget: hex HMAC-SHA256(secret, user_id)."""
    key = identity_secret.encode() if isinstance(identity_secret, str) else identity_secret
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()


def _site_signed(identity_secret: bytes, user_id: str, user_hash: str) -> bool:
    """True when the site signed this user id; always False with no identity secret."""
    if not identity_secret:
        return False
    expected = sign_user_id(identity_secret, user_id).encode()
    return hmac.compare_digest(expected, user_hash.strip().lower().encode())


# -- accounts that still stand -------------------------------------------------------

ACCOUNT_CHECK_SECONDS = 5.0  # revocation delay per worker; also the open sockets' check cadence
_MAX_REMEMBERED = 4096  # (name, tag) answers kept before the stale ones are dropped


class AccountCheck:
    """Verifies agent tokens against the store's accounts, with a short per-process memory.

    `assistant agents remove` deletes an account and `agents add --replace` stores a
    new hash, so either one makes the stored account's tag differ from the token's,
    and the token is refused with `token_revoked`. The CLI runs in another process and
    a server may have several workers, so the check reads the store; each worker
    remembers an answer for ACCOUNT_CHECK_SECONDS so a busy console does not read the
    store on every frame. That is the bound on how long a revoked token keeps working
    on a worker, and the cadence at which an idle /ws/agent socket is checked."""

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


# -- the agent behind a request ------------------------------------------------------

async def verify_agent(token: str, auth: Authenticator, accounts: AccountCheck | None) -> AgentIdentity:
    """The agent of a valid token whose account still stands, else AccessError
    (unauthorized, or token_revoked once the account is removed or reset). Without an
    AccountCheck (an authenticator whose tokens name no store account) the token alone decides."""
    if accounts is not None:
        return await accounts.verify(token)
    return auth.verify_agent_token(token)


class AgentVerifier(Protocol):
    """What verifies a token for a request (channels.service.Service, with verify_agent above)."""

    async def verify_agent(self, token: str) -> AgentIdentity: ...


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or AccessError(unauthorized)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AccessError("Send an agent token: Authorization: Bearer <token>.", code="unauthorized")
    return token.strip()


async def agent_from_header(service: AgentVerifier, authorization: str | None) -> AgentIdentity:
    """The agent behind `Authorization: Bearer <token>`, if the account still stands;
    AccessError (401 unauthorized or token_revoked) otherwise."""
    return await service.verify_agent(bearer_token(authorization))


async def agent_conversation(store: ConversationStore, agent: AgentIdentity,
                             conversation_id: str) -> ConversationInfo:
    """The conversation, if this agent may act on it (else AccessError forbidden)."""
    info = await store.get(conversation_id)
    if not may_see(agent, info.inbox):
        raise AccessError("This conversation belongs to an inbox you do not handle.", code="forbidden")
    return info
