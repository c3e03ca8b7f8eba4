"""Who may do what: agents sign in with a password for a short-lived token; customers
may bring an identity their site signed.

    auth = AgentAuth.from_settings(settings)
    token = auth.issue(account)                 # after check_password
    agent = auth.verify_agent_token(token.token)  # every agent frame and endpoint,
                                                  # with the account check of channels.revocation
    auth.verify_customer(user_id, user_hash)    # hex HMAC-SHA256(identity_secret, user_id)

Passwords are argon2id hashes (the store never sees a password). Tokens are HS256
JWTs with the agent's name, inboxes and a tag of the account they were issued for
(channels.revocation refuses them once the account is removed or reset); with
several workers they must share `server.token_secret`, or a token from one worker
is refused by the next.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from assistant.errors import ConfigError
from assistant.store.base import AgentAccount
from channels.errors import AccessError

ISSUER = "assistant"
_ALGORITHM = "HS256"


# -- passwords -----------------------------------------------------------------------

@lru_cache(maxsize=1)
def _hasher() -> Any:
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


# -- agent tokens --------------------------------------------------------------------

@dataclass(frozen=True)
class Agent:
    """A signed-in agent as a token names them (satisfies channels.handlers.AgentIdentity)."""

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


def token_secret(settings: Any, workers: int | None = None) -> str:
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
    """The service's Authenticator (channels.handlers): tokens and customer identities."""

    def __init__(self, token_secret: str, *, token_minutes: int = 60, identity_secret: str = "") -> None:
        if not token_secret:
            raise ValueError("token_secret cannot be empty")
        self._key = _key(token_secret, "agent-token")
        self._tag_key = _key(token_secret, "account-tag")
        self.token_minutes = token_minutes
        self._identity = identity_secret.encode()

    @classmethod
    def from_settings(cls, settings: Any) -> AgentAuth:
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
        Whether its account still stands is the store's to say (channels.revocation)."""
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
        """True when the site signed this user id; always False with no identity secret."""
        if not self._identity:
            return False
        expected = sign_user_id(self._identity, user_id).encode()
        return hmac.compare_digest(expected, user_hash.strip().lower().encode())


def sign_user_id(identity_secret: str | bytes, user_id: str) -> str:
    """What the site's backend computes and puts in the widget: hex HMAC-SHA256(secret, user_id)."""
    key = identity_secret.encode() if isinstance(identity_secret, str) else identity_secret
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()
