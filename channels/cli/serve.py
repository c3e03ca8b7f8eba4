"""`assistant serve`: the web service (widget, agents' console, HTTP and websocket API).

With `--workers N` each worker process builds its own app from the same config:
--config and --data-dir reach them as ASSISTANT_CONFIG and ASSISTANT_DATA_DIR.
Several workers need the Redis bus ([bus] backend = "redis") to share live events.
"""

from __future__ import annotations

import argparse
import logging
import os
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from assistant.ports import Runtime
    from assistant.settings import Settings
    from channels.accounts import AgentAuth

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("serve", parents=[common], help="run the web service",
                              description="Serve the chat widget, the agents' console and the API.")
    p.add_argument("--host", default=None, help="bind address (default: server.host)")
    p.add_argument("--port", type=int, default=None, help="port (default: server.port)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: server.workers)")
    p.set_defaults(handler=cmd_serve)


def build_app(settings: Settings) -> FastAPI:
    """The app with the real runtime (models, store, knowledge base) built in its lifespan."""
    from channels.app import create_app

    return create_app(settings, warm_runtime, authenticator=_authenticator(settings))


def warm_runtime(settings: Settings) -> AbstractAsyncContextManager[Runtime]:
    """The assistant's runtime, as the app's port (type-checked against it), warmed: the
    embedding model and Chroma load before /readyz says ready, not on the first question."""
    from assistant.runtime import build_runtime

    return build_runtime(settings, warm=True)


def app_from_env() -> FastAPI:
    """Factory for worker processes: settings from $ASSISTANT_CONFIG and ASSISTANT_* variables."""
    from assistant.settings import load_settings

    return build_app(load_settings())


def _authenticator(settings: Settings) -> AgentAuth:
    from channels.accounts import AgentAuth

    return AgentAuth.from_settings(settings)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from channels.serving import serve

    host = args.host or settings.server.host
    port = args.port or settings.server.port
    workers = args.workers or settings.server.workers
    from channels.accounts import token_secret

    token_secret(settings, workers)  # several workers must share it: fail here, not in each worker
    if workers > 1 and settings.bus.backend == "memory":
        log.warning("%d workers with the memory bus: a socket only sees events of its own worker; "
                    "set [bus] backend = \"redis\"", workers)
    print(f"serving on http://{host}:{port} (widget demo: /demo, console: /console)", flush=True)
    if workers == 1:
        serve(build_app(settings), settings, host=host, port=port)
        return 0
    if getattr(args, "config", None):
        os.environ["ASSISTANT_CONFIG"] = os.path.abspath(args.config)
    os.environ["ASSISTANT_DATA_DIR"] = str(settings.data_dir.resolve())
    serve("channels.cli.serve:app_from_env", settings, host=host, port=port, workers=workers)
    return 0
