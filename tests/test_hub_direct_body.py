"""Big uploads received straight into the hub's buffers (hitrec.hub.protocol), on raw connections:
the bytes land whole, the connection is handed back to HTTP in step (keep-alive, pipelining, 100
Continue), and a client that goes away or sends wrong bytes leaves nothing behind."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hub_git import auth_header
from hub_process import HubProcess, module_hub

BIG = (20 << 20) + 12_345  # more than the hub's four 4 MiB buffers, and not a whole number of them


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with module_hub(tmp_path_factory.mktemp("directbody"), "ada", collaborations=("film",)) as running:
        yield running


def _media(seed: int, size: int = BIG) -> tuple[bytes, str]:
    data = hashlib.sha256(str(seed).encode()).digest() * (size // 32) + b"x" * (size % 32)
    return data, hashlib.sha256(data).hexdigest()


def _connection(hub: HubProcess) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", int(hub.url.rsplit(":", 1)[1]), timeout=30)


def _headers(hub: HubProcess, size: int | None = None) -> dict[str, str]:
    name, value = auth_header("ada", hub.tokens["ada"]).split(": ", 1)
    headers = {name: value}
    if size is not None:
        headers["Content-Length"] = str(size)
    return headers


def _path(oid: str) -> str:
    return f"/film.git/info/lfs/objects/{oid}"


def _tmp_is_empty(hub: HubProcess) -> bool:
    tmp = hub.collaboration_path("film") / "lfs" / "tmp"
    deadline = time.monotonic() + 5
    while list(tmp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(tmp.iterdir()) == []


def test_a_big_upload_is_received_directly_and_the_connection_goes_on(hub: HubProcess) -> None:
    data, oid = _media(1)
    conn = _connection(hub)
    conn.request("PUT", _path(oid), body=data, headers=_headers(hub, len(data)))
    answer = conn.getresponse()
    assert (answer.status, answer.read()) == (200, b"{}")
    assert hub.media_path("film", oid).read_bytes() == data
    assert f'"PUT /film.git/info/lfs/objects/{oid}" 200 in={len(data)}' in hub.log_text()
    assert f"{oid}\" 200 in={len(data)} out=2" in hub.log_text()
    line = next(x for x in hub.log_text().splitlines() if f"PUT /film.git/info/lfs/objects/{oid}" in x)
    assert line.endswith(" direct")  # the body did not go through uvicorn's receive()
    # the same connection, with a fresh parser, serves the next requests
    conn.request("GET", _path(oid), headers=_headers(hub))
    got = conn.getresponse()
    assert got.status == 200 and hashlib.sha256(got.read()).hexdigest() == oid
    conn.close()


def test_a_request_pipelined_behind_a_big_body_is_answered(hub: HubProcess) -> None:
    data, oid = _media(2)
    auth = auth_header("ada", hub.tokens["ada"])
    put = (f"PUT {_path(oid)} HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Length: {len(data)}\r\n\r\n").encode()
    head = f"HEAD {_path(oid)} HTTP/1.1\r\nHost: x\r\n{auth}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", int(hub.url.rsplit(":", 1)[1])), timeout=30) as sock:
        sock.sendall(put + data + head)  # the HEAD arrives right behind the body's last byte
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    responses = received.split(b"HTTP/1.1 ")[1:]
    assert [r.split(b" ", 1)[0] for r in responses] == [b"200", b"200"]
    assert f"content-length: {len(data)}".encode() in responses[1].lower()
    assert hub.media_path("film", oid).read_bytes() == data


def test_expect_100_continue_is_answered_before_the_body(hub: HubProcess) -> None:
    data, oid = _media(3)
    auth = auth_header("ada", hub.tokens["ada"])
    with socket.create_connection(("127.0.0.1", int(hub.url.rsplit(":", 1)[1])), timeout=30) as sock:
        sock.sendall(f"PUT {_path(oid)} HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Length: {len(data)}\r\n"
                     "Expect: 100-continue\r\nConnection: close\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 ")
    assert hub.media_path("film", oid).read_bytes() == data


def test_wrong_big_bytes_are_refused_and_the_connection_goes_on(hub: HubProcess) -> None:
    data, oid = _media(4)
    wrong = bytearray(data)
    wrong[len(wrong) // 2] ^= 1
    conn = _connection(hub)
    conn.request("PUT", _path(oid), body=bytes(wrong), headers=_headers(hub, len(wrong)))
    answer = conn.getresponse()
    assert answer.status == 422 and b"nothing was kept" in answer.read()
    assert not hub.media_path("film", oid).exists() and _tmp_is_empty(hub)
    conn.request("PUT", _path(oid), body=data, headers=_headers(hub, len(data)))
    answer = conn.getresponse()
    assert (answer.status, answer.read()) == (200, b"{}")
    assert hub.media_path("film", oid).read_bytes() == data
    conn.close()


@pytest.mark.parametrize("sent", [(1 << 20), (13 << 20) + 7])
def test_a_client_gone_mid_body_leaves_nothing_and_the_hub_serves_on(hub: HubProcess, sent: int) -> None:
    data, oid = _media(5 + sent)
    auth = auth_header("ada", hub.tokens["ada"])
    with socket.create_connection(("127.0.0.1", int(hub.url.rsplit(":", 1)[1])), timeout=30) as sock:
        sock.sendall(f"PUT {_path(oid)} HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Length: {len(data)}\r\n"
                     "\r\n".encode() + data[:sent])
        time.sleep(0.2)
    assert _tmp_is_empty(hub) and not hub.media_path("film", oid).exists()
    conn = _connection(hub)
    conn.request("PUT", _path(oid), body=data, headers=_headers(hub, len(data)))
    answer = conn.getresponse()
    assert (answer.status, answer.read()) == (200, b"{}")
    assert hub.media_path("film", oid).read_bytes() == data
    conn.close()


def test_a_body_shorter_than_its_length_is_not_kept(hub: HubProcess) -> None:
    """The client half-closes after too few bytes: the hub stops waiting and keeps nothing."""
    data, oid = _media(6)
    auth = auth_header("ada", hub.tokens["ada"])
    with socket.create_connection(("127.0.0.1", int(hub.url.rsplit(":", 1)[1])), timeout=30) as sock:
        sock.sendall(f"PUT {_path(oid)} HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Length: {len(data)}\r\n"
                     "\r\n".encode() + data[:-1000])
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(10)
        assert sock.recv(100) == b""  # no answer: the hub closed the connection
    assert _tmp_is_empty(hub) and not hub.media_path("film", oid).exists()
    assert os.path.isdir(hub.collaboration_path("film"))


def _read_response(sock: socket.socket, received: bytes = b"") -> tuple[bytes, bytes, bytes]:
    """One response with a Content-Length from ``sock``: (head, body, what came after it)."""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {received!r}"
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.lower().split(b"\r\n")
                      if line.startswith(b"content-length:")))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        rest += chunk
    return head, rest[:length], rest[length:]


def test_a_big_body_behind_a_slowly_read_response_is_answered(hub: HubProcess) -> None:
    """The client reads the rest of an earlier response only while the hub receives the next body
    directly: the transport's "write buffer drained" news must reach uvicorn, or the upload's answer
    waits for it forever."""
    earlier, earlier_oid = _media(7, 12 << 20)  # more than the socket's buffers hold
    conn = _connection(hub)
    conn.request("PUT", _path(earlier_oid), body=earlier, headers=_headers(hub, len(earlier)))
    assert conn.getresponse().read() == b"{}"
    conn.close()
    data, oid = _media(8)
    auth = auth_header("ada", hub.tokens["ada"])
    get = f"GET {_path(earlier_oid)} HTTP/1.1\r\nHost: x\r\n{auth}\r\n\r\n".encode()
    put = f"PUT {_path(oid)} HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", int(hub.url.rsplit(":", 1)[1])), timeout=15) as sock:
        first = 6 << 20
        sender = threading.Thread(target=sock.sendall, args=(get + put + data[:first],))
        sender.start()
        received = b""
        while len(received) < first:  # half the GET's answer: the rest waits in the hub's write buffer
            chunk = sock.recv(first - len(received))
            assert chunk, "the hub closed the connection"
            received += chunk
        time.sleep(1)  # meanwhile the GET is done and the PUT's body is being received directly
        head, body, rest = _read_response(sock, received)
        assert head.startswith(b"HTTP/1.1 200 ") and body == earlier
        sender.join()
        sock.sendall(data[first:])
        head, body, _ = _read_response(sock, rest)
        assert head.startswith(b"HTTP/1.1 200 ") and body == b"{}"
    assert hub.media_path("film", oid).read_bytes() == data


@pytest.mark.parametrize("sent", [0, 100_000])
def test_a_client_that_half_closes_early_gets_no_internal_error(hub: HubProcess, sent: int) -> None:
    """EOF before any buffer was written: the upload ends as a dropped connection (499), not with a 500
    sent to the client and an error in the hub's log."""
    data, oid = _media(9 + sent)
    auth = auth_header("ada", hub.tokens["ada"])
    with socket.create_connection(("127.0.0.1", int(hub.url.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(f"PUT {_path(oid)} HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Length: {len(data)}\r\n"
                     "\r\n".encode())
        time.sleep(0.2)  # the body is being received directly
        sock.sendall(data[:sent])
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(100) == b""
    assert _tmp_is_empty(hub) and not hub.media_path("film", oid).exists()
    assert f"{oid}\" 499 in=" in hub.log_text()
    assert "without starting response" not in hub.log_text()


class _FullDisk:
    """A body target whose first write fails as a full disk would (the hub's MediaSink does the same
    through its flushes): 64 KiB are taken, then every wait for free space reports ENOSPC."""

    def __init__(self) -> None:
        self.buffer = bytearray(64 << 10)
        self.filled = 0

    def view(self) -> memoryview | None:
        return memoryview(self.buffer)[self.filled:] if self.filled < len(self.buffer) else None

    def advance(self, nbytes: int) -> None:
        self.filled += nbytes

    def when_free(self, callback) -> None:  # type: ignore[no-untyped-def]
        import asyncio
        import errno

        asyncio.get_running_loop().call_later(0.05, callback, OSError(errno.ENOSPC, "No space left on device"))


def test_a_target_failing_mid_body_still_answers_and_keeps_the_connection() -> None:
    """The target fails while the client is still sending: the rest of the body is read and dropped,
    so the client gets the app's answer (not a reset connection) and the connection goes on."""
    import threading

    import uvicorn

    from hitrec.hub.app import DIRECT_BODY
    from hitrec.hub.protocol import HubHttpProtocol
    from hitrec.hub.server import bind

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        status, body = 200, b"ok"
        if scope["method"] == "PUT":
            try:
                await scope["extensions"][DIRECT_BODY](_FullDisk())
            except OSError as exc:
                status, body = 507, exc.strerror.encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, http=HubHttpProtocol, loop="asyncio", lifespan="off",
                                           log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        conn = http.client.HTTPConnection("127.0.0.1", sock.getsockname()[1], timeout=30)
        data = os.urandom(64 << 20)
        conn.request("PUT", "/x", body=data, headers={"Content-Length": str(len(data))})
        answer = conn.getresponse()
        assert (answer.status, answer.read()) == (507, b"No space left on device")
        assert not answer.will_close  # the body was read whole: the connection is still in step
        first = conn.sock
        conn.request("GET", "/x")
        answer = conn.getresponse()
        assert (answer.status, answer.read()) == (200, b"ok")
        assert conn.sock is first
        conn.close()
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
