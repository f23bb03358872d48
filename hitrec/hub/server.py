"""Run the hub: the ASGI app under uvicorn, on a socket we bind (so ``--port 0`` picks a free port)."""

from __future__ import annotations

import socket
from collections.abc import Callable

from hitrec.errors import HubError
from hitrec.hub.app import HubApp, HubConfig


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are
    # TCP, and with Nagle on every response written in two parts waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise HubError(f"cannot listen on {host}:{port} ({exc.strerror}). Pick another --port.") from exc
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(config: HubConfig, host: str = "127.0.0.1", port: int = 8642,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted (SIGINT / SIGTERM). ``on_ready(url)`` is called once listening."""
    import uvicorn

    app = HubApp(config)
    sock = bind(host, port)
    uv_config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,  # the app logs each request itself, without query strings or userinfo
        lifespan="off",
        timeout_keep_alive=30,
        timeout_graceful_shutdown=5,
        server_header=False,
        h11_max_incomplete_event_size=64 * 1024,
    )
    server = uvicorn.Server(uv_config)
    if on_ready is not None:
        on_ready(url_of(sock))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
