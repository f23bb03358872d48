"""Run the hub: the ASGI app under uvicorn, on a socket we bind (so ``--port 0`` picks a free port)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hitrec.errors import HubError
from hitrec.hub.app import HubApp, HubConfig

_MMAP_THRESHOLD = 16 << 20  # blocks up to this size come from the heap, and are reused
_TRIM_THRESHOLD = 64 << 20  # free memory kept at the top of a heap before any is given back
_BODY_BUFFER = 1 << 20  # request body uvicorn may hold before it pauses reading
LOOPBACK = ["127.0.0.1", "::1"]  # the proxies trusted unless told otherwise (a TLS proxy on this machine)


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


def keep_freed_memory() -> None:
    """Ask glibc to keep and reuse the big blocks an upload churns through, instead of returning each
    to the kernel and faulting fresh pages in for the next (on these VMs a fresh page is slow to touch).
    Bodies arrive as 256 KiB-4 MiB Python objects; without this a 1 GiB upload spent ~15% of the hub's
    time in page faults and unmapping (perf, bench/sync_big.py). A no-op off glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or "libc" not in name:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, _MMAP_THRESHOLD)
    mallopt(m_trim_threshold, _TRIM_THRESHOLD)


def _buffer_more_of_each_body() -> None:
    """Let uvicorn buffer up to 1 MiB of a request body before it stops reading the socket (its own
    limit is 64 KiB, which every 256 KiB read passes, so a 1 GiB upload paused and resumed reading
    4,000 times, two epoll_ctl calls and a trip through the app each). Measured on a bare 1 GiB PUT
    to the hub, interleaved: 583-652 MB/s at 64 KiB, mostly 650-716 at 1 MiB (bench notes in
    docs/benchmarks.md). uvicorn has no setting for it; if a later release renames the constant this
    does nothing."""
    try:
        from uvicorn.protocols.http import httptools_impl
    except ImportError:
        return
    if hasattr(httptools_impl, "HIGH_WATER_LIMIT"):
        httptools_impl.HIGH_WATER_LIMIT = max(httptools_impl.HIGH_WATER_LIMIT, _BODY_BUFFER)


log = logging.getLogger("hitrec.hub")


def http_protocol() -> Any:
    """The hub's HTTP protocol class (hitrec.hub.protocol), or uvicorn's own ``"httptools"`` with a
    warning when the installed uvicorn's private internals it builds on changed: then the hub still
    serves, without the direct body path and without its limits on request heads and slow bodies."""
    try:
        from hitrec.hub.protocol import HubHttpProtocol, uvicorn_mismatches
    except ImportError as exc:
        problems = [str(exc)]
    else:
        problems = uvicorn_mismatches()
        if not problems:
            return HubHttpProtocol
    import uvicorn

    log.warning("uvicorn %s is not one the hub was tested with (%s): serving with uvicorn's own "
                "protocol, WITHOUT the hub's limits on request heads and slow bodies; install a uvicorn "
                "that pyproject.toml accepts", getattr(uvicorn, "__version__", "?"), "; ".join(problems[:5]))
    return "httptools"


def url_of(sock: socket.socket, scheme: str = "http") -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _check_tls(tls: tuple[Path, Path]) -> None:
    """Load the certificate and key once here, so a bad file is one clear error before serving."""
    import ssl

    for path in tls:
        if not path.is_file():
            raise HubError(f"cannot read {path}: no such file.")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:  # a passphrase is never asked for (the hub runs unattended): an encrypted key fails here
        context.load_cert_chain(str(tls[0]), str(tls[1]), password=lambda: b"")
    except (ssl.SSLError, OSError) as exc:
        raise HubError(f"cannot use {tls[0]} with key {tls[1]} for HTTPS ({exc}). The key must be PEM "
                       "without a passphrase (`openssl pkey -in KEY -out PLAIN`).") from exc


def serve(config: HubConfig, host: str = "127.0.0.1", port: int = 8642,
          on_ready: Callable[[str], None] | None = None, tls: tuple[Path, Path] | None = None,
          workers: int = 1, trusted_proxies: list[str] | None = None) -> None:
    """Serve until interrupted (SIGINT / SIGTERM). ``on_ready(url)`` is called once listening.
    ``tls`` is (certificate, key), both PEM files: the hub then speaks HTTPS. ``workers`` > 1 forks that
    many processes serving the one socket (hitrec.hub.workers). ``trusted_proxies``: the addresses whose
    ``X-Forwarded-Proto`` / ``X-Forwarded-For`` the hub believes (uvicorn's ``forwarded_allow_ips``;
    None: loopback only, uvicorn's default; ``[]``: none)."""
    import uvicorn

    if workers < 1:
        raise HubError(f"--workers must be at least 1, not {workers}.")

    if tls is not None:
        _check_tls(tls)

    keep_freed_memory()
    _buffer_more_of_each_body()
    protocol = http_protocol()

    app = HubApp(config)
    sock = bind(host, port)
    uv_config = uvicorn.Config(
        app,
        http=protocol,  # uvicorn's httptools protocol + big bodies received into our buffers
        loop="asyncio",  # direct bodies switch asyncio's own transports (uvloop measured no faster)
        log_config=None,
        access_log=False,  # the app logs each request itself, without query strings or userinfo
        lifespan="off",
        timeout_keep_alive=30,
        timeout_graceful_shutdown=5,
        server_header=False,
        h11_max_incomplete_event_size=64 * 1024,
        proxy_headers=trusted_proxies != [],
        forwarded_allow_ips=",".join(trusted_proxies or LOOPBACK),
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    url = url_of(sock, "https" if tls else "http")
    try:
        if workers == 1:
            if on_ready is not None:
                on_ready(url)
            uvicorn.Server(uv_config).run(sockets=[sock])
        else:
            from hitrec.hub.workers import supervise

            supervise(lambda: uvicorn.Server(uv_config).run(sockets=[sock]), workers,
                      on_ready=(lambda: on_ready(url)) if on_ready is not None else None)
    finally:
        sock.close()
