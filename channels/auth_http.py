"""The HTTP side of agent accounts: login, the agent dependency, CORS for the widget's origins.

    POST /api/agents/login {name, password} -> {token, expires_at, agent}
    GET  /api/agents/me    (Authorization: Bearer <token>) -> the agent

Wrong credentials are a 401 `bad_credentials` whether the name exists or not; a
client IP gets `LOGIN_PER_MINUTE` attempts a minute (argon2 makes each one slow
on purpose, so this also keeps a guesser from pinning the CPU). A token whose
account was removed or reset since is a 401 `token_revoked` (channels.accounts).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware

from channels.accounts import Agent, AgentIdentity, agent_from_header, check_login
from channels.errors import AccessError, LimitError
from channels.limits import IpBuckets
from channels.outbox import client_ip

LOGIN_PER_MINUTE = 10

router = APIRouter()


class Login(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    password: Annotated[str, Field(min_length=1, max_length=1000)]


async def require_agent(request: Request,
                        authorization: Annotated[str | None, Header()] = None) -> AgentIdentity:
    """FastAPI dependency of every agent endpoint: the agent of a valid token, else 401."""
    return await agent_from_header(request.app.state.service, authorization)


@router.post("/api/agents/login", tags=["agents"])
async def login(request: Request, body: Login) -> dict[str, Any]:
    """Exchange an agent's name and password for a token (lifetime server.token_minutes)."""
    service = request.app.state.service
    if not _login_buckets(request).take(client_ip(request)):
        raise LimitError("Too many sign-in attempts; wait a minute.", code="rate_limited")
    issue = getattr(service.auth, "issue", None)
    if issue is None:
        raise AccessError("Agent sign-in is not configured on this server.", code="unauthorized")
    account = await service.store.get_agent(body.name)
    # argon2 takes tens of milliseconds of CPU: off the event loop.
    account = await run_in_threadpool(check_login, account, body.password)
    return issue(account).to_json()  # type: ignore[no-any-return]


@router.get("/api/agents/me", tags=["agents"])
async def me(agent: Annotated[AgentIdentity, Depends(require_agent)]) -> dict[str, Any]:
    """The agent the token names (the console checks a saved token with it)."""
    if isinstance(agent, Agent):
        return agent.to_json()
    return {"name": agent.name, "display_name": agent.name, "inboxes": list(agent.inboxes)}


def _login_buckets(request: Request) -> IpBuckets:
    state = request.app.state
    if not hasattr(state, "login_buckets"):
        state.login_buckets = IpBuckets(LOGIN_PER_MINUTE)
    return state.login_buckets  # type: ignore[no-any-return]


def add_cors(app: FastAPI, allowed_origins: list[str]) -> None:
    """Browsers on these origins may call the HTTP API ([] = any). Tokens travel in
    headers, never cookies, so no credentials mode is needed."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(allowed_origins) or ["*"],
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Resume-Token"],
        max_age=600,
    )
