"""Running the app under uvicorn, with a shutdown that lets answers finish.

uvicorn's own shutdown closes every websocket (1012) at once. DrainingServer
first stops accepting connections and drains the app (channels.app.drain):
answers in flight go on streaming to their open sockets for up to
`server.shutdown_grace` seconds, the rest end as `interrupted`; only then are
the sockets closed. Works with one process and with `--workers N`.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import uvicorn
from uvicorn.supervisors.multiprocess import Process

from assistant.settings import Settings

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections while draining
        service = _find_service(self.config.loaded_app)
        if service is not None and not self.force_exit:
            from channels.app import drain

            await drain(service, service.settings.server.shutdown_grace)
        await super().shutdown(sockets)


class DrainingProcess(Process):
    """A `--workers` worker process that runs a DrainingServer."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = DrainingServer(config=self.config)
        return self._server


def _find_service(app: Any) -> Any:
    """app.state.service of the FastAPI app under uvicorn's middleware wrappers."""
    for _ in range(10):
        service = getattr(getattr(app, "state", None), "service", None)
        if service is not None:
            return service
        app = getattr(app, "app", None)
    return None


def uvicorn_config(app: Any, settings: Settings, *, host: str, port: int, workers: int = 1,
                   factory: bool = False) -> uvicorn.Config:
    s = settings.server
    return uvicorn.Config(
        app, host=host, port=port, workers=workers, factory=factory,
        log_level=settings.log_level.lower(),
        ws_ping_interval=s.ping_interval,  # protocol pings keep proxies from cutting idle sockets
        ws_ping_timeout=s.ping_interval,
        # Frames a little too large get a friendly frame_too_large from the app; far too
        # large ones are cut by the websocket layer before they are read into memory.
        ws_max_size=s.max_frame_bytes * 16,
        # Frames are small JSON (a delta is ~150 bytes): compressing each one costs CPU on the
        # event loop and a zlib context per socket, and saves little (docs/deploy.md, load).
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=5,  # after the drain, for sockets that do not close
    )


def raise_open_files_limit() -> int | None:
    """Raise the soft limit on open files to the hard limit; the new soft limit.

    Every socket is a file: the usual soft limit (1024) stops a worker near a thousand
    customers with "Too many open files" while the hard limit allows far more. Worker
    processes inherit the raised limit. None where the platform has no such limit.
    """
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    if soft == unlimited or (hard != unlimited and soft >= hard):
        log.info("open files limit: %s (the hard limit)", "unlimited" if soft == unlimited else soft)
        return soft
    target = hard if hard != unlimited else max(soft, 1 << 20)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:  # e.g. macOS caps it below an unlimited hard limit
        log.warning("could not raise the open files limit from %d to %d: %s", soft, target, exc)
        return soft
    log.info("open files limit raised from %d to %d", soft, target)
    return target


def serve(app: Any, settings: Settings, *, host: str, port: int, workers: int = 1) -> None:
    """Run until SIGINT/SIGTERM. With workers > 1, `app` must be an import string of a
    factory ("module:function") that each worker process calls."""
    raise_open_files_limit()
    config = uvicorn_config(app, settings, host=host, port=port, workers=workers, factory=workers > 1)
    if workers == 1:
        DrainingServer(config).run()
        return
    from uvicorn.supervisors import Multiprocess, multiprocess

    # uvicorn builds each worker's Server in Process.server; have it build ours. This runs
    # in the supervising CLI process only, which serves nothing else.
    multiprocess.Process = DrainingProcess  # type: ignore[misc]
    sock = config.bind_socket()
    Multiprocess(config, sockets=[sock]).run()

