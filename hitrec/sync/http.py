"""HTTP for the sync client: keep-alive ``http.client`` connections for http:// hubs, httpx for https://.

A hub on 127.0.0.1 or the local network speaks plain HTTP, and there ``http.client`` does all the work:
per 4 KB object it costs a third of httpx's client CPU (measured 0.13-0.19 ms vs 0.40 ms a GET), which
is what bounds 1,000 small objects on two cores, and importing httpx costs 95-140 ms (its command-line
module pulls in click and rich), a quarter of a whole small push. So httpx is imported only when an
https:// URL is used, and built once per ``Http``.
"""

from __future__ import annotations

import http.client
import json as jsonlib
import os
import ssl
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hitrec.errors import UsageError
from hitrec.sync.remotes import origin_of

if TYPE_CHECKING:
    import httpx

CHUNK = 1 << 20
USER_AGENT = "hitrec"
Body = bytes | Iterable[bytes | memoryview] | None


class TransportError(Exception):
    """The hub could not be reached, or the connection failed mid-request."""


def transport_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "the network failed", for an ``except`` clause (httpx's only once it
    has been imported, so naming them never imports it)."""
    return (OSError, http.client.HTTPException, TransportError, *httpx_errors())


def httpx_errors() -> tuple[type[BaseException], ...]:
    """httpx's network failure, once httpx is imported (nothing before: no request could have used it)."""
    httpx_module = sys.modules.get("httpx")
    return (httpx_module.HTTPError,) if httpx_module is not None else ()


def describe(exc: BaseException) -> str:
    """``ClassName: message`` of the failure underneath a TransportError."""
    inner = exc.__cause__ if isinstance(exc, TransportError) and exc.__cause__ else exc
    return f"{inner.__class__.__name__}: {inner}"


class Response:
    """A whole response: status and body."""

    def __init__(self, status: int, content: bytes) -> None:
        self.status_code = status
        self.content = content

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class Lean:
    """Keep-alive ``http.client`` connections to one http:// origin, one per thread."""

    CONNECT_TIMEOUT = 15.0
    TIMEOUT = 120.0

    def __init__(self, origin: str) -> None:
        parts = urlsplit(origin)
        self.host = parts.hostname or ""
        self.port = parts.port or 80
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[http.client.HTTPConnection] = []

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.CONNECT_TIMEOUT,
                                              blocksize=CHUNK)
            conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(self.TIMEOUT)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def drop(self) -> None:
        """Close this thread's connection (after an error, its state is unknown)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            conn.close()

    def request(self, method: str, href: str, headers: dict[str, str],
                body: Body | Callable[[], Iterable[bytes | memoryview]] = None) -> http.client.HTTPResponse:
        """Send one request; a keep-alive connection the hub closed meanwhile is replaced once (every
        request sent here is idempotent: ref listings, batch questions, verifies, and GET and PUT of
        content-addressed objects). A streamed body is given as a function that starts the stream, so
        a retry can start it again."""
        parts = urlsplit(href)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (0, 1):
            reused = getattr(self._local, "conn", None) is not None
            conn = self._connection()
            try:
                conn.request(method, target, body=body() if callable(body) else body, headers=headers)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.drop()
                if attempt or not reused or not (body is None or isinstance(body, bytes) or callable(body)):
                    raise
            except BaseException:
                self.drop()
                raise
        raise AssertionError("unreachable")

    def fetch(self, method: str, href: str, headers: dict[str, str],
              body: Body | Callable[[], Iterable[bytes | memoryview]] = None) -> Response:
        """A request whose whole answer is read."""
        response = self.request(method, href, headers, body)
        try:
            data = response.read()
        except BaseException:
            self.drop()
            raise
        if response.will_close:
            self.drop()
        return Response(response.status, data)

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


class Http:
    """One sync conversation's HTTP: lean connections per http:// origin, one httpx client for the rest."""

    def __init__(self, connections: int = 10) -> None:
        self._connections = connections
        self._lock = threading.Lock()
        self._lean: dict[str, Lean] = {}
        self._httpx: httpx.Client | None = None

    def lean_for(self, url: str) -> Lean | None:
        """The lean transport for a plain-http URL (None: use ``httpx_client()``)."""
        if not url.startswith("http://"):
            return None
        origin = origin_of(url)
        with self._lock:
            lean = self._lean.get(origin)
            if lean is None:
                lean = self._lean[origin] = Lean(origin)
        return lean

    def httpx_client(self) -> httpx.Client:
        with self._lock:
            if self._httpx is None:
                self._httpx = _new_httpx_client(self._connections)
            return self._httpx

    def request(self, method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> Response:
        """Send a request and read its whole answer; a network failure raises TransportError."""
        headers = {"User-Agent": USER_AGENT, **headers}
        try:
            lean = self.lean_for(url)
            if lean is not None:
                return lean.fetch(method, url, headers, body)
            answer = self.httpx_client().request(method, url, headers=headers, content=body)
            return Response(answer.status_code, answer.content)
        except (*transport_errors(), ValueError) as exc:  # ValueError: http.client refusing a header
            if isinstance(exc, TransportError):
                raise
            raise TransportError(str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            leans, self._lean = list(self._lean.values()), {}
            client, self._httpx = self._httpx, None
        for lean in leans:
            lean.close()
        if client is not None:
            client.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _new_httpx_client(connections: int) -> httpx.Client:
    _import_httpcore_without_trio()
    import httpx

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    verify: ssl.SSLContext | bool = True  # httpx's own CA bundle
    ca_file = os.environ.get("SSL_CERT_FILE")
    if ca_file:  # OpenSSL's variable: a hub with a private CA (git gets it as GIT_SSL_CAINFO)
        try:
            verify = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot load the certificates in SSL_CERT_FILE={ca_file} ({exc})") from exc
    return httpx.Client(
        headers={"User-Agent": USER_AGENT},
        verify=verify,
        timeout=httpx.Timeout(120.0, connect=15.0),
        follow_redirects=False,
        trust_env=False,
        limits=limits,
    )


def _import_httpcore_without_trio() -> None:
    """httpcore imports trio when it is installed (~100 ms) only to support async code under trio. hitrec's
    client is synchronous, so trio is hidden while httpcore loads; it stays importable afterwards."""
    if "httpcore" in sys.modules or "trio" in sys.modules:
        return
    sys.modules["trio"] = None  # type: ignore[assignment]
    try:
        import httpcore  # noqa: F401
    except ImportError:  # httpx reports a missing httpcore itself
        pass
    finally:
        del sys.modules["trio"]
