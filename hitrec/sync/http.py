"""HTTP for the sync client: one transport interface, two transports, and the rules above them.

    Transport.open(Request) -> Stream      one request; the body is read as it arrives
    LeanTransport                          keep-alive ``http.client`` connections, for http:// origins
    HttpxTransport                         httpx (imported on first use), for https:// origins
    Http                                   picks a transport per origin once, then follows redirects and
                                           retries refusals (429, 5xx) the way git-lfs does

The model is httpx's ``BaseTransport.handle_request``: a transport only moves bytes, and translates its
own failures (http.client, ssl, OSError, httpx) into :class:`TransportError` at its boundary, as httpx's
``map_httpcore_exceptions`` does; everything above sees one error type and one response type.

Why two transports: a hub on 127.0.0.1 or the local network speaks plain HTTP, and there ``http.client``
does all the work: per 4 KB object it costs a third of httpx's client CPU (measured 0.13-0.19 ms vs
0.40 ms a GET), which is what bounds 1,000 small objects on two cores, and importing httpx costs
95-140 ms (its command-line module pulls in click and rich), a quarter of a whole small push.

Rules (``Http.open``):
- redirects (301, 302, 303, 307, 308) are followed up to 3 times, as git-lfs does, resending the same
  method and body (303: GET). ``Authorization`` goes only to the origin it was meant for: a redirect to
  another origin is followed only when the caller allows it (object downloads), without it; a
  redirect from https:// to http:// is never followed.
- 429 (after ``Retry-After``, seconds or a date, plus up to half again so that workers told the same
  wait do not come back together) and 500/502/503/504 (exponential backoff from 0.25 s)
  are retried up to 8 times, each wait at most 10 s (git-lfs's ``lfs.transfer.maxretries`` and
  ``maxretrydelay`` defaults), when the body can be sent again.
"""

from __future__ import annotations

import http.client
import json as jsonlib
import os
import random
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin, urlsplit

from hitrec.errors import UsageError
from hitrec.sync.remotes import origin_of

if TYPE_CHECKING:
    import httpx

CHUNK = 1 << 20
USER_AGENT = "hitrec"
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 3
RETRIED = (429, 500, 502, 503, 504)
MAX_RETRIES = 8
MAX_RETRY_DELAY = 10.0
FIRST_BACKOFF = 0.25
Body = bytes | Iterable[bytes | memoryview] | Callable[[], Iterable[bytes | memoryview]] | None


class TransportError(Exception):
    """The hub could not be reached, or the connection failed mid-request (the foreign error is its
    ``__cause__``)."""


def describe(exc: BaseException) -> str:
    """``ClassName: message`` of the failure underneath a TransportError."""
    inner = exc.__cause__ if isinstance(exc, TransportError) and exc.__cause__ else exc
    return f"{inner.__class__.__name__}: {inner}"


def _foreign() -> tuple[type[BaseException], ...]:
    """What a transport translates: the network's failures (httpx's only once it is imported) and
    ValueError (http.client refusing a header)."""
    httpx_module = sys.modules.get("httpx")
    extra = (httpx_module.HTTPError, httpx_module.StreamError) if httpx_module is not None else ()
    return (OSError, http.client.HTTPException, ValueError, *extra)


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: Body = None  # a function that starts a stream: the request can be sent again

    def replayable(self) -> bool:
        return self.body is None or isinstance(self.body, bytes) or callable(self.body)

    def content(self) -> bytes | Iterable[bytes | memoryview] | None:
        return self.body() if callable(self.body) else self.body


class Response:
    """A whole response: status, headers (lower-case names) and body."""

    def __init__(self, status: int, content: bytes, headers: Mapping[str, str] | None = None,
                 url: str = "") -> None:
        self.status_code = status
        self.content = content
        self.headers = dict(headers or {})
        self.url = url

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class Stream(Protocol):
    """An open response. Reads raise TransportError; ``close`` frees the connection for the next
    request when the whole body was read (and drops it otherwise)."""

    status_code: int
    headers: dict[str, str]
    url: str
    zero_copy: bool  # readinto fills the caller's buffer straight from the socket (no block objects)

    @property
    def finished(self) -> bool: ...

    def readinto(self, buffer: Any) -> int: ...

    def read1(self, size: int) -> bytes: ...

    def read(self) -> bytes: ...

    def close(self) -> None: ...


class Transport(Protocol):
    def open(self, request: Request) -> Stream: ...

    def close(self) -> None: ...


# -- plain http: http.client ---------------------------------------------------------------------


class _LeanStream:
    zero_copy = True

    def __init__(self, transport: LeanTransport, response: http.client.HTTPResponse, url: str) -> None:
        self._transport = transport
        self._response = response
        self.status_code = response.status
        self.headers = {k.lower(): v for k, v in response.getheaders()}
        self.url = url
        self._done = False
        self._closed = False

    @property
    def finished(self) -> bool:
        return self._done

    def _ended(self) -> int:
        if self._response.length:  # the hub closed the connection mid-body
            raise TransportError("the connection closed early") from ConnectionError("the connection closed early")
        self._done = True
        return 0

    def readinto(self, buffer: Any) -> int:
        if self._done:
            return 0
        try:
            n = self._response.readinto(buffer)
        except _foreign() as exc:
            raise TransportError(str(exc)) from exc
        if not n:
            return self._ended()
        if self._response.length == 0:
            self._done = True
        return n

    def read1(self, size: int) -> bytes:
        if self._done:
            return b""
        try:
            block = self._response.read1(size)  # whatever one recv brings, up to a block
        except _foreign() as exc:
            raise TransportError(str(exc)) from exc
        if not block:
            self._ended()
        return block

    def read(self) -> bytes:
        try:
            data = self._response.read()
        except _foreign() as exc:
            raise TransportError(str(exc)) from exc
        self._done = True
        return data

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._done or self._response.will_close:
            self._transport.drop()
        else:
            self._response.close()  # a finished body left open: the connection is free


class LeanTransport:
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

    def open(self, request: Request) -> Stream:
        """Send one request; a keep-alive connection the hub closed meanwhile is replaced once (every
        request sent here is idempotent: ref listings, batch questions, verifies, and GET and PUT of
        content-addressed objects)."""
        parts = urlsplit(request.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (0, 1):
            reused = getattr(self._local, "conn", None) is not None
            try:
                conn = self._connection()
                conn.request(request.method, target, body=request.content(), headers=request.headers)
                return _LeanStream(self, conn.getresponse(), request.url)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.drop()
                if attempt or not reused or not request.replayable():
                    raise TransportError(str(exc)) from exc
            except _foreign() as exc:
                self.drop()
                raise TransportError(str(exc)) from exc
            except BaseException:  # the body's own errors (a local file) pass through
                self.drop()
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


# -- https: httpx ---------------------------------------------------------------------------------


class _HttpxStream:
    zero_copy = False

    def __init__(self, response: httpx.Response, url: str) -> None:
        self._response = response
        self.status_code = response.status_code
        self.headers = {k.lower(): v for k, v in response.headers.items()}
        self.url = url
        self._blocks: Iterator[bytes] = response.iter_raw()
        self._pending = b""
        self._done = False

    @property
    def finished(self) -> bool:
        return self._done

    def read1(self, size: int) -> bytes:
        if not self._pending and not self._done:
            try:
                self._pending = next(self._blocks, b"")
            except _foreign() as exc:
                raise TransportError(str(exc)) from exc
            if not self._pending:
                self._done = True
        block, self._pending = self._pending[:size], self._pending[size:]
        return block

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as view:
            block = self.read1(len(view))
            view[:len(block)] = block
        return len(block)

    def read(self) -> bytes:
        parts: list[bytes] = []
        while block := self.read1(CHUNK):
            parts.append(block)
        return b"".join(parts)

    def close(self) -> None:
        self._response.close()


class HttpxTransport:
    """One httpx client (its own pool) for https:// origins."""

    def __init__(self, connections: int) -> None:
        self._client = _new_httpx_client(connections)

    def open(self, request: Request) -> Stream:
        content = request.content()
        try:
            req = self._client.build_request(request.method, request.url, headers=request.headers,
                                             content=content)  # type: ignore[arg-type]
            return _HttpxStream(self._client.send(req, stream=True), request.url)
        except _foreign() as exc:
            raise TransportError(str(exc)) from exc

    def close(self) -> None:
        self._client.close()


# -- the rules above the transports ---------------------------------------------------------------


@dataclass
class Retries:
    """How refusals are retried (one per ``Http``; tests may shorten the waits)."""

    attempts: int = MAX_RETRIES
    max_delay: float = MAX_RETRY_DELAY
    first_backoff: float = FIRST_BACKOFF
    sleep: Callable[[float], None] = field(default=time.sleep)

    def delay(self, status: int, headers: Mapping[str, str], attempt: int) -> float:
        after = _retry_after(headers.get("retry-after", ""))
        if after is not None and status == 429:  # at least what the server asked, spread so that many
            after *= random.uniform(1.0, 1.5)    # workers told the same do not all come back at once
        else:
            after = self.first_backoff * 2 ** attempt * random.uniform(0.75, 1.25)
        return max(0.0, min(self.max_delay, after))


def _retry_after(value: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    import email.utils  # an HTTP date: rare, and the email package costs ~6 ms to import

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


class Http:
    """One sync conversation's HTTP: a transport per origin (chosen once), redirects and retries."""

    def __init__(self, connections: int = 10, retries: Retries | None = None) -> None:
        self._connections = connections
        self.retries = retries or Retries()
        self._lock = threading.Lock()
        self._transports: dict[str, Transport] = {}
        self._httpx: HttpxTransport | None = None

    def transport(self, url: str) -> Transport:
        """The transport for a URL's origin: plain http:// through http.client, the rest through httpx."""
        origin = origin_of(url)
        with self._lock:
            transport = self._transports.get(origin)
            if transport is None:
                if url.startswith("http://"):
                    transport = LeanTransport(origin)
                else:
                    if self._httpx is None:
                        self._httpx = HttpxTransport(self._connections)
                    transport = self._httpx
                self._transports[origin] = transport
        return transport

    def open(self, method: str, url: str, headers: dict[str, str], body: Body = None, *,
             cross_origin: bool = False, retry: bool = True) -> Stream:
        """Send a request, following redirects and retrying refusals (see the module doc); the answer's
        body is left to read. A redirect to another origin is followed only with ``cross_origin``, and
        never carries ``Authorization``."""
        request = Request(method, url, {"User-Agent": USER_AGENT, **headers}, body)
        redirects = 0
        attempt = 0
        while True:
            stream = self.transport(request.url).open(request)
            status = stream.status_code
            if status in REDIRECTS and "location" in stream.headers and redirects < MAX_REDIRECTS:
                follow = _redirected(request, stream.headers["location"], status, cross_origin)
                if follow is not None and (follow.replayable() or follow.body is None):
                    _discard(stream)
                    request = follow
                    redirects += 1
                    continue
            if retry and status in RETRIED and attempt < self.retries.attempts and request.replayable():
                wait = self.retries.delay(status, stream.headers, attempt)
                _discard(stream)
                attempt += 1
                self.retries.sleep(wait)
                continue
            return stream

    def request(self, method: str, url: str, headers: dict[str, str], body: Body = None, *,
                cross_origin: bool = False, retry: bool = True) -> Response:
        """``open`` and read the whole answer; a network failure raises TransportError."""
        stream = self.open(method, url, headers, body, cross_origin=cross_origin, retry=retry)
        try:
            data = stream.read()
        finally:
            stream.close()
        return Response(stream.status_code, data, stream.headers, stream.url)

    def close(self) -> None:
        with self._lock:
            transports, self._transports = list(self._transports.values()), {}
            self._httpx = None
        for transport in {id(t): t for t in transports}.values():
            transport.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _redirected(request: Request, location: str, status: int, cross_origin: bool) -> Request | None:
    """The request to send after a redirect, or None when it must not be followed."""
    target = urljoin(request.url, location)
    if urlsplit(target).scheme not in ("http", "https"):
        return None
    if request.url.startswith("https://") and target.startswith("http://"):
        return None  # never from TLS to clear text
    headers = dict(request.headers)
    if origin_of(target) != origin_of(request.url):
        if not cross_origin:
            return None
        headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
    if status == 303 or (status in (301, 302) and request.method == "HEAD"):
        return Request("GET", target, headers)
    return Request(request.method, target, headers, request.body)


def _discard(stream: Stream) -> None:
    """Read a small answer we will not use (so the connection can be reused), then close it."""
    try:
        if int(stream.headers.get("content-length", "0") or 0) <= 65536:
            stream.read()
    except (TransportError, ValueError):
        pass
    stream.close()


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
        follow_redirects=False,  # Http follows them, with its own rules for credentials
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
