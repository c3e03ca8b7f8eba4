"""The FastAPI app, built by a factory from Settings and a runtime factory.

    app = create_app(settings, build_runtime)

The lifespan enters the runtime (models, store, knowledge base) and the bus, and
closes them on shutdown after `drain`: new messages are refused, turns in flight
get `server.shutdown_grace` seconds to finish and are then cancelled, which
stores their answers as interrupted. Nothing heavy happens before the lifespan.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.ports import RuntimeFactory
from assistant.settings import Settings
from channels.accounts import AccountCheck, AgentAuth, Authenticator
from channels.auth_http import add_cors
from channels.body_limit import BodyLimit, limits_from_settings
from channels.bus import Bus
from channels.errors import http_status
from channels.limits import IpBuckets, Limits
from channels.metrics import Metrics
from channels.recovery import sweeping
from channels.service import Service
from knowledge.errors import SupportError

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

def create_app(settings: Settings, runtime_factory: RuntimeFactory, *,
               authenticator: Authenticator | None = None,
               bus_factory: Callable[[Settings], Bus] | None = None) -> FastAPI:
    """The service. `runtime_factory(settings)` is an async context manager yielding the
    runtime; `bus_factory(settings)` a bus (default: the one [bus] names)."""
    metrics = Metrics()
    # Built now, not in the lifespan: a missing shared token secret fails before serving.
    auth = authenticator or AgentAuth.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            runtime = await stack.enter_async_context(runtime_factory(settings))
            bus = await stack.enter_async_context(_opened(bus_factory or default_bus, settings))
            accounts = AccountCheck(auth, runtime.store) if isinstance(auth, AgentAuth) else None
            service = Service(settings=settings, runtime=runtime, bus=bus,
                              auth=auth, accounts=accounts,
                              metrics=metrics, limits=Limits.from_settings(settings),
                              ip_buckets=IpBuckets(settings.server.messages_per_minute_ip))
            app.state.service = service
            try:
                async with sweeping(service):  # answers cut off by dead workers get closed
                    yield
            finally:
                await drain(service, settings.server.shutdown_grace)
                await service.summaries.flush()

    app = FastAPI(title="Support assistant", version="1", lifespan=lifespan,
                  description="Customer chat, agents' console and knowledge search. "
                              "Websocket protocol: docs/protocol.md.")
    app.state.metrics = metrics
    add_cors(app, settings.server.allowed_origins)
    app.add_middleware(BodyLimit, limit_for=limits_from_settings(settings))  # before any body is read
    _routes(app)
    return app


async def drain(service: Service, grace: float) -> None:
    """Refuse new messages, let turns in flight finish within `grace` s, cancel the rest."""
    if service.shutting_down and not service.turns.running:
        return
    service.shutting_down = True
    log.info("draining %d turn(s), grace %.1fs", service.turns.running, grace)
    await service.turns.drain(grace)


def _routes(app: FastAPI) -> None:
    from channels.auth_http import router as auth_router
    from channels.http import router
    from channels.ws_agent import agent_socket
    from channels.ws_chat import chat_socket

    app.include_router(router)
    app.include_router(auth_router)
    # The console's and widget's extra endpoints (POST /api/kb/records, GET /api/uploads/{id},
    # GET /api/reports).
    from channels import kb_http, media_http, reports_http
    app.include_router(kb_http.router)
    app.include_router(media_http.router)
    app.include_router(reports_http.router)
    app.add_api_websocket_route("/ws/chat", chat_socket)
    app.add_api_websocket_route("/ws/agent", agent_socket)
    # Every layer's errors (a blank search, Chroma down, a bad token) answer {code, message}.
    app.add_exception_handler(SupportError, _error_response)  # type: ignore[arg-type]
    # FastAPI's own refusals answer in the documented shape too, {"code", "message"}.
    app.add_exception_handler(RequestValidationError, _validation_response)  # type: ignore[arg-type]
    from channels.openapi import document_errors
    document_errors(app)  # the document lists the statuses and {code, message} bodies really sent
    app.add_exception_handler(StarletteHTTPException, _http_response)  # type: ignore[arg-type]
    _static(app)


async def _error_response(request: Request, exc: SupportError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=http_status(exc))


async def _validation_response(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    message = f"{where}: {first.get('msg', 'invalid')}"
    return JSONResponse({"code": "bad_request", "message": message}, status_code=400)


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
               415: "unsupported_type"}


async def _http_response(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else "The request was refused."
    return JSONResponse({"code": code, "message": message}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def _static(app: FastAPI) -> None:
    pages = {"/widget.js": "widget.js", "/demo": "demo.html", "/console": "console.html"}
    for url, name in pages.items():
        app.add_api_route(url, _file_route(STATIC / name), methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")


def _file_route(path: Path) -> Callable[[], Any]:
    async def serve() -> Any:
        if not path.is_file():
            return JSONResponse({"code": "not_found", "message": f"{path.name} is not installed."},
                                status_code=404)
        return FileResponse(path)
    return serve


def default_bus(settings: Settings) -> Bus:
    """The bus [bus] backend names (memory in one process, redis between workers)."""
    from channels.bus import create_bus

    return create_bus(settings)


@asynccontextmanager
async def _opened(factory: Callable[[Settings], Bus], settings: Settings) -> AsyncIterator[Bus]:
    bus = factory(settings)
    await bus.open()
    try:
        yield bus
    finally:
        await bus.close()
