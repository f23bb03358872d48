"""The hub's HTTP protocol: uvicorn's httptools protocol, with the limits uvicorn lacks and big request
bodies received straight into the app's own buffers.

Limits (each found by an attack on a running hub, tests/test_hub_security.py): a request line and
headers, or a chunked body's framing, over 64 KiB get a 400; a connection that has not sent a whole
request head ``HEAD_TIMEOUT`` seconds after it could begin one is closed, and so is one whose body, while
the hub reads it, brings less than ``MIN_BODY_RATE`` bytes a second over such a window.

Bodies: uvicorn hands an ASGI app each piece of a request body after four copies in Python: the socket read,
httptools' ``on_body`` slice, uvicorn's ``bytearray +=`` and its ``bytes(...)`` in ``receive()``; the
hub then copied each piece once more into the aligned buffers it writes with O_DIRECT. For a 1 GiB
upload those copies and the ~16,000 trips through the event loop were about half of the hub's CPU time
(bench/sync_big.py, docs/benchmarks.md).

``HubHttpProtocol`` offers one addition to the ASGI app. A request with a Content-Length
on a plain TCP connection carries a scope extension, ``EXTENSION``: a coroutine function the app may
call, once and before any ``receive()``, with a ``BodyTarget``. It switches the connection to an
``asyncio.BufferedProtocol`` that ``recv_into``s the rest of the body directly into the target's free
space, pausing the socket whenever the target has none, and hands the connection back to uvicorn when
the last byte arrived (with a fresh parser: the old one never saw those bytes). If the target fails
midway (a full disk) the rest of the body is read and dropped, so the answer arrives on a connection
still in step; on any other trouble the connection closes after the response.

TLS connections, chunked bodies and any other server simply do not offer the extension; the app falls
back to ``receive()``.

All this leans on uvicorn's private httptools protocol, so pyproject.toml accepts only the uvicorn
releases it was tested with, and ``uvicorn_mismatches`` lists what changed in the installed one (the
hub checks it at start and, if anything did, serves with uvicorn's own protocol and says so;
tests/test_hub_protocol_contract.py fails on it).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, Protocol

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from hitrec.hub.app import DIRECT_BODY as EXTENSION

_SCRATCH = 256 << 10  # where the rest of a failed body is read, to be dropped
_MAX_HEAD = 64 << 10  # a request line and headers (git and git-lfs send < 4 KiB); httptools has no limit
# seconds a connection may take to send a request's head (uvicorn has no such limit)
HEAD_TIMEOUT = float(os.environ.get("HITREC_HUB_HEAD_TIMEOUT") or 30)
# bytes a second a request body must average over each HEAD_TIMEOUT window while the hub is reading it
MIN_BODY_RATE = 1024


class BodyTarget(Protocol):
    """Where a body is received: free space, bytes filled, and a wake-up once space frees again."""

    def view(self) -> memoryview | None:
        """Writable free space (never empty), or None while every buffer is busy."""

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more bytes were written at the start of the last view."""

    def when_free(self, callback: Callable[[BaseException | None], None]) -> None:
        """Call ``callback(None)`` once ``view()`` has space again, or ``callback(error)`` if the
        target failed (a write error: the upload cannot go on)."""


# What HubHttpProtocol and _Receiver use of uvicorn's private classes: methods (with the parameters they
# are called with) and the attributes their __init__ / connection_made assign.
_PROTOCOL_METHODS = {
    "connection_made": ["transport"], "connection_lost": ["exc"], "data_received": ["data"],
    "eof_received": [], "on_message_complete": [], "on_headers_complete": [], "on_body": ["body"],
    "send_400_response": ["msg"], "pause_writing": [], "resume_writing": [],
}
_PROTOCOL_ATTRIBUTES = ("loop", "transport", "flow", "cycle", "scope", "scheme", "headers", "parser")
_CYCLE_ATTRIBUTES = ("scope", "transport", "flow", "disconnected", "keep_alive", "waiting_for_100_continue",
                     "body", "more_body", "response_complete")
_FLOW_MEMBERS = ("read_paused", "pause_reading", "resume_reading")


def uvicorn_mismatches() -> list[str]:
    """What the installed uvicorn no longer has of the private internals this module relies on
    (empty: all there, with the expected parameters)."""
    import inspect
    import re

    try:
        from uvicorn.protocols.http import flow_control, httptools_impl
    except ImportError as exc:  # pragma: no cover - only on an incompatible uvicorn
        return [f"cannot import uvicorn's httptools protocol: {exc}"]
    problems: list[str] = []
    protocol = getattr(httptools_impl, "HttpToolsProtocol", None)
    cycle = getattr(httptools_impl, "RequestResponseCycle", None)
    if protocol is None or cycle is None:
        return ["uvicorn.protocols.http.httptools_impl has no HttpToolsProtocol / RequestResponseCycle"]
    for name, params in _PROTOCOL_METHODS.items():
        method = getattr(protocol, name, None)
        if not callable(method):
            problems.append(f"HttpToolsProtocol.{name} is gone")
            continue
        got = [p for p in inspect.signature(method).parameters if p != "self"]
        if got != params:
            problems.append(f"HttpToolsProtocol.{name} takes ({', '.join(got)}), not ({', '.join(params)})")

    def assigned(cls: type) -> set[str]:
        # from each method's own source: inspect.getsource of a class parses its module with ast,
        # which CPython 3.11 can fail with "AST constructor recursion depth mismatch" in a busy thread
        names: set[str] = set()
        for value in vars(cls).values():
            if inspect.isfunction(value):
                try:
                    source = inspect.getsource(value)
                except (OSError, TypeError):
                    continue
                names |= set(re.findall(r"self\.(\w+)\s*(?::[^=\n]+)?=", source))
        return names

    for cls, wanted in ((protocol, _PROTOCOL_ATTRIBUTES), (cycle, _CYCLE_ATTRIBUTES)):
        have = assigned(cls)
        problems += [f"{cls.__name__} no longer sets self.{name}" for name in wanted if name not in have]
    flow = getattr(flow_control, "FlowControl", None)
    flow_have = assigned(flow) | set(dir(flow)) if flow is not None else set()
    problems += [f"FlowControl has no {name}" for name in _FLOW_MEMBERS if name not in flow_have]
    if not hasattr(httptools_impl, "HIGH_WATER_LIMIT"):
        problems.append("httptools_impl.HIGH_WATER_LIMIT is gone")
    return problems


def _plain_asyncio_transport(transport: Any) -> bool:
    # asyncio's own socket transport switches to recv_into for a BufferedProtocol (set_protocol); TLS
    # transports and other event loops are left on the ordinary path.
    return type(transport).__module__ == "asyncio.selector_events" and hasattr(transport, "set_protocol")


class HubHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, offering ``EXTENSION`` on requests whose body can be received
    directly."""

    _body_seen = 0  # body bytes of the current request that went through the parser
    _in_body = False  # between a request's headers and its end
    _head_bytes = 0  # bytes received since the last request's headers, while not in a body
    _head_timer: asyncio.TimerHandle | None = None
    _framing = 0  # bytes of the current body that were not body: chunk sizes, a trailer
    _requests = 0  # requests whose headers were read on this connection
    _window_bytes = 0  # body bytes since the timer was last armed

    # A connection that never finishes a request's head (one byte now and then cancels uvicorn's
    # keep-alive timeout) was held for ever: 1,100 such sockets sat on the hub for good, and enough of
    # them use up its file descriptors. It is closed HEAD_TIMEOUT seconds after it could have begun one.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._in_body:
            # A body trickled a byte now and then held the connection (and on a public hub nobody
            # needs a token to start one): it must bring MIN_BODY_RATE bytes a second, unless the
            # hub itself is not reading (uvicorn paused for the app, or a direct receive's buffers
            # are all being written).
            if (self._window_bytes >= MIN_BODY_RATE * HEAD_TIMEOUT or self.flow.read_paused
                    or self.transport.get_protocol() is not self):
                self._window_bytes = 0
                self._arm_head_timer()
            else:
                self.transport.close()
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_head_timer()  # still answering: the next request may wait for it
            return
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        # httptools buffers a request line and headers whatever their size (and joins them in quadratic
        # time): 300 MiB of one header took an idle hub to 685 MB, before any token was asked for.
        # The same for a chunked body's trailer (headers after the last chunk; 50 MiB of one took a
        # public hub to 180 MB): what arrives in a body beyond its bytes is framing, which stays small.
        counted = not self._in_body
        request, seen = self._requests, self._body_seen
        if counted:
            self._head_bytes += len(data)
        super().data_received(data)
        if self.transport.is_closing():
            return
        if counted and not self._in_body and self._head_bytes > _MAX_HEAD:
            self.send_400_response("Request line and headers are too large.")
        elif not counted and self._in_body and request == self._requests:
            self._framing += len(data) - (self._body_seen - seen)
            if self._framing > _MAX_HEAD + self._body_seen // 16:
                self.send_400_response("Request trailer or chunk framing is too large.")

    def on_message_complete(self) -> None:
        self._in_body = False
        self._arm_head_timer()
        super().on_message_complete()

    def on_headers_complete(self) -> None:
        self._body_seen = self._window_bytes = 0
        self._in_body, self._head_bytes, self._framing = True, 0, 0
        self._requests += 1
        self._arm_head_timer()  # from here on it watches the body's pace
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None or cycle.scope is not self.scope or self.scheme != "http":
            return
        if not _plain_asyncio_transport(self.transport):
            return
        headers = dict(self.headers)
        length = headers.get(b"content-length", b"")
        if not length.isdigit() or b"transfer-encoding" in headers:
            return

        async def receive_into(target: BodyTarget) -> int:
            return await self._receive_into(cycle, int(length), target)

        extensions: dict[str, Any] = dict(self.scope.get("extensions") or {})
        extensions[EXTENSION] = receive_into
        self.scope["extensions"] = extensions

    def on_body(self, body: bytes) -> None:
        self._body_seen += len(body)
        self._window_bytes += len(body)
        super().on_body(body)

    async def _receive_into(self, cycle: RequestResponseCycle, length: int, target: BodyTarget) -> int:
        """Receive the whole body of ``cycle`` into ``target``; returns its length. Raises
        ConnectionError if the client goes away, or the target's own error."""
        if cycle.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        if cycle.disconnected:
            raise ConnectionError("client disconnected")
        arrived, cycle.body = bytes(cycle.body), bytearray()  # what the parser already took (< ~1 MiB)
        await _copy_into(target, arrived)
        remaining = length - self._body_seen if cycle is self.cycle else 0
        if remaining <= 0 or not cycle.more_body:
            cycle.more_body = False
            return length
        while target.view() is None:  # the receiver's get_buffer() needs space from its first read
            await _free(target)
        receiver = _Receiver(self, cycle, target, remaining)
        self.transport.set_protocol(receiver)
        self.flow.resume_reading()  # uvicorn may have paused it with a full body buffer
        try:
            await receiver.done
        except BaseException:
            receiver.give_back(clean=False)
            raise
        return length


async def _copy_into(target: BodyTarget, data: bytes) -> None:
    view = memoryview(data)
    while view:
        space = target.view()
        if space is None:
            await _free(target)
            continue
        take = min(len(space), len(view))
        space[:take] = view[:take]
        target.advance(take)
        view = view[take:]


async def _free(target: BodyTarget) -> None:
    freed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake(error: BaseException | None) -> None:
        if not freed.done():
            freed.set_exception(error) if error is not None else freed.set_result(None)

    target.when_free(wake)
    await freed


def _fresh_parser(http: HubHttpProtocol) -> httptools.HttpRequestParser:
    parser = httptools.HttpRequestParser(http)
    if hasattr(parser, "set_dangerous_leniencies"):  # as uvicorn sets up its own
        parser.set_dangerous_leniencies(lenient_data_after_close=True)
    return parser


class _Receiver(asyncio.BufferedProtocol):
    """The connection's protocol while a body is received into a target."""

    def __init__(self, http: HubHttpProtocol, cycle: RequestResponseCycle, target: BodyTarget,
                 remaining: int) -> None:
        self.http = http
        self.cycle = cycle
        self.target = target
        self.remaining = remaining
        self.transport = http.transport
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._paused = False
        self._error: BaseException | None = None  # the target failed: the rest is read and dropped
        self._scratch = memoryview(b"")

    def get_buffer(self, sizehint: int) -> memoryview:
        view = self.target.view() if self._error is None else self._scratch
        assert view is not None  # reading is paused whenever the target is full
        return view[:self.remaining] if len(view) > self.remaining else view

    def buffer_updated(self, nbytes: int) -> None:
        self.remaining -= nbytes
        if self._error is None:
            self.target.advance(nbytes)
        if not self.remaining:
            self.give_back(clean=True)
            if not self.done.done():
                if self._error is None:
                    self.done.set_result(None)
                else:
                    self.done.set_exception(self._error)
        elif self._error is None and self.target.view() is None:
            self.transport.pause_reading()
            self._paused = True
            self.target.when_free(self._freed)

    def _freed(self, error: BaseException | None) -> None:
        if self.done.done():
            return
        if error is not None:
            # A failed write (a full disk): read the rest of the body and drop it, so the client,
            # still sending, gets the hub's answer instead of a reset connection.
            self._error = error
            self._scratch = memoryview(bytearray(_SCRATCH))
        if self._paused and not self.transport.is_closing():
            self._paused = False
            self.transport.resume_reading()

    def give_back(self, *, clean: bool) -> None:
        """Return the connection to uvicorn. After a whole body the next request starts on a fresh
        parser; otherwise the connection closes once the response is sent."""
        if self.transport.get_protocol() is not self:
            return
        self.transport.set_protocol(self.http)
        if clean:
            self.http.parser = _fresh_parser(self.http)
            self.cycle.more_body = False
            self.http._in_body, self.http._head_bytes = False, 0  # (the old parser never saw the end)
            self.http._arm_head_timer()
        else:
            self.cycle.keep_alive = False
            if self._paused and not self.transport.is_closing():
                self.transport.resume_reading()  # uvicorn drops the rest (the response is sent)
        self._paused = False

    def pause_writing(self) -> None:
        self.http.pause_writing()  # an earlier response still being written: uvicorn's flow control

    def resume_writing(self) -> None:
        self.http.resume_writing()

    def eof_received(self) -> bool | None:
        # uvicorn closes on EOF; say so before the app hears of it, or it would answer a 500
        self.cycle.disconnected = True
        self._fail()
        self.http.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail()
        self.http.connection_lost(exc)

    def _fail(self) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError("client disconnected"))
