"""The hub's ASGI app: git smart HTTP and the Git LFS batch API for many collaborations.

Routes (``<name>`` is a validated collaboration name):

    GET  /<name>.git/info/refs?service=git-upload-pack|git-receive-pack
    POST /<name>.git/git-upload-pack            read
    POST /<name>.git/git-receive-pack           write (creates the collaboration on first push)
    POST /<name>.git/info/lfs/objects/batch     read for download, write for upload
    PUT  /<name>.git/info/lfs/objects/<oid>     write: streamed, hashed, verified, fsynced
    POST /<name>.git/info/lfs/verify/<oid>      the batch answer's verify action (media in S3)
    GET  /<name>.git/info/lfs/objects/<oid>     read (Range: bytes=N-M, N- or -S: 206 / 416)
    *    /<name>.git/info/lfs/locks...          404: this hub has no locks (git-lfs then skips them)
    GET  /, /-/...                               the gallery (hitrec.hub.gallery); `/` and /-/health
                                                 answer the plain-text health check to tools

Auth: HTTP Basic (any user name, the token as password) or ``Authorization: Bearer <token>``.
Writes always need a valid token; reads need one unless the hub runs with ``public_read``. The
object routes also take the action token a batch answer gave for exactly that object and operation
(hitrec.hub.actions); a batch answer never carries the client's own token.
Nothing here logs a token, a header or a URL's query. docs/hub.md describes it all.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitrec.errors import HubError, MissingMediaError, ObjectStoreError
from hitrec.hub import actions, files, git, lfs, repos
from hitrec.hub.gallery import Gallery, is_gallery_path
from hitrec.hub.gallery.headers import with_security_headers
from hitrec.hub.housekeeping import Housekeeper
from hitrec.hub.media import DirectBatch, MediaConfig, problem_of
from hitrec.hub.names import is_collaboration_name, is_oid
from hitrec.hub.priority import Priority
from hitrec.hub.ranges import ranged_answer, unsatisfiable_header, unsatisfiable_message
from hitrec.hub.users import User, UserStore, hash_token
from hitrec.private import make_private_dirs
from hitrec.store.format import ZERO_SHA, read_ref
from hitrec.store.media_store import MediaStore

log = logging.getLogger("hitrec.hub")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_ROUTE = re.compile(r"/(?P<name>[^/]+)\.git/(?P<rest>.*)")
_OBJECT = re.compile(r"info/lfs/objects/(?P<oid>[^/]+)")
_VERIFY = re.compile(r"info/lfs/verify/(?P<oid>[^/]+)")
_HOST = re.compile(r"[A-Za-z0-9.\-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CHUNK = 1 << 20
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # a full disk, a quota, a file-size limit
_SINK_BATCH = 1 << 20
GIB = 1 << 30


@dataclass
class HubConfig:
    root: Path
    public_read: bool = False
    max_object_size: int = 64 * GIB
    max_push_size: int = 4 * GIB
    max_json_size: int = 1 << 20  # a batch of 1,000 objects is ~100 KB; parsing is ~30x the body in memory
    max_batch_objects: int = 1000  # git-lfs and hitrec send 100 at a time
    action_ttl: int = lfs.ACTION_TTL  # seconds a batch answer's addresses and action tokens stay valid
    realm: str = "hitrec hub"
    repack_after: int = 2000  # git objects outside the bitmapped pack that start a gc (hub/housekeeping.py)
    media: MediaConfig = field(default_factory=MediaConfig)  # local lfs/ folders, or an S3 object store


# A scope extension hitrec.hub.protocol offers: receive the request body straight into a sink's buffers.
DIRECT_BODY = "hitrec.receive_body_into"


class Reply(Exception):
    """A finished answer to send instead of going on (errors, refusals)."""

    def __init__(self, status: int, message: str, *, headers: list[tuple[bytes, bytes]] | None = None,
                 lfs_json: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []
        self.lfs_json = lfs_json


@dataclass
class Request:
    scope: Scope
    receive: Receive
    send: Send
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    user: User | None = None
    token_digest: str = ""  # of the user's own token (what their action tokens are bound to)
    status: int = 0
    sent: int = 0
    received: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    body_done: bool = False  # the request body was read to its end

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        if not self.body_done and _has_body(self.headers):
            # uvicorn would read (and drop) the rest of an unread body at the client's pace: a client
            # refused with a 401 kept its connection for ever by sending a byte now and then
            headers = [*headers, (b"connection", b"close")]
        await self.send({"type": "http.response.start", "status": status, "headers": with_security_headers(headers)})

    async def body(self, data: bytes, more: bool = False) -> None:
        self.sent += len(data)
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def chunks(self) -> AsyncIterator[bytes]:
        """The request body as it arrives; raises ConnectionError if the client goes away."""
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("client disconnected")
            data = message.get("body", b"")
            self.received += len(data)
            if data:
                yield data
            if not message.get("more_body", False):
                self.body_done = True
                return


class HubApp:
    """ASGI app serving every collaboration under ``config.root``."""

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.root = Path(config.root).resolve()
        make_private_dirs(self.root)
        self.users = UserStore(self.root)
        self.action_key = actions.load_key(self.root)
        self.spool_dir = self.root / ".spool"  # not a valid collaboration name: no clash
        self.spool_dir.mkdir(exist_ok=True)
        self._receive_locks: dict[str, asyncio.Lock] = {}
        self._create_lock = asyncio.Lock()
        for name in repos.list_collaborations(self.root):
            path = repos.collaboration_path(self.root, name)
            repos.install_hook(path)
            repos.clear_dead_push_state_now(path)
            lfs.media_store(path).remove_stale_temp_files()  # a killed hub's uploads (dead writers only)
        repos.remove_stale_temp_files(self.spool_dir)
        problem = config.media.prepare()  # S3: boto3 loaded before the first request, the bucket asked
        if problem is not None:
            log.warning("media store: %s (serving anyway; media requests fail until it answers)", problem)
        self.gallery = Gallery(self)
        self.priority = Priority()
        self.housekeeper = Housekeeper(config.repack_after)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = {}
        for part in scope.get("query_string", b"").decode("latin-1").split("&"):
            key, _, value = part.partition("=")
            if key:
                query[key] = value
        request = Request(scope, receive, send, scope["method"], scope["path"], headers, query)
        started = time.perf_counter()
        try:
            await self._dispatch_in_turn(request)
        except Reply as reply:
            await self._reply(request, reply)
        except git.BodyTooLarge as exc:
            await self._reply(request, Reply(413, str(exc)))
        except lfs.UploadRejected as exc:
            await self._reply(request, Reply(exc.status, exc.message, lfs_json=True))
        except ConnectionError:
            request.status = request.status or 499
        except HubError as exc:
            await self._reply(request, Reply(500, str(exc)))
        except ObjectStoreError as exc:  # its message names no credential (hitrec.store.s3_media)
            log.error("object store: %s %s: %s", request.method, _loggable(request.path), exc)
            await self._reply(request, Reply(503, f"the hub's media store is unavailable: {exc}",
                                             lfs_json="/info/lfs/" in request.path))
        except OSError as exc:
            if exc.errno not in _FULL:
                log.exception("internal error on %s %s", request.method, _loggable(request.path))
                await self._reply(request, Reply(500, "internal hub error; see the hub's log"))
            else:  # the upload was removed; the client is told why and may retry later
                log.error("out of space: %s %s refused with 507 (%s)", request.method, _loggable(request.path),
                          exc.strerror or exc)
                await self._reply(request, Reply(507, f"the hub is out of space ({exc.strerror or exc}); "
                                                      "nothing was kept: ask its admin, then retry",
                                                 lfs_json="/info/lfs/" in request.path))
        except Exception:
            log.exception("internal error on %s %s", request.method, _loggable(request.path))
            await self._reply(request, Reply(500, "internal hub error; see the hub's log"))
        finally:
            user = request.user.name if request.user else "-"
            client = scope.get("client") or ("-", 0)
            log.info('%s %s "%s %s%s" %d in=%d out=%d %.3fs%s', client[0], user, request.method,
                     _loggable(request.path), request.extra.get("service", ""), request.status,
                     request.received, request.sent, time.perf_counter() - started,
                     request.extra.get("note", ""))

    async def _reply(self, request: Request, reply: Reply) -> None:
        if request.status:  # the response has started: all we can do is end it
            return
        if reply.lfs_json:
            body = json.dumps({"message": reply.message}).encode()
            ctype = lfs.LFS_JSON.encode()
        else:
            body = (reply.message + "\n").encode()
            ctype = b"text/plain; charset=utf-8"
        headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *reply.headers]
        try:
            await request.start(reply.status, headers)
            await request.body(body)
        except (OSError, RuntimeError):
            pass

    # -- routing --------------------------------------------------------------------------------
    async def _dispatch_in_turn(self, request: Request) -> None:
        """Git and LFS requests first: the gallery's are metered while any is in flight (hub.priority)."""
        if is_gallery_path(request.path):
            async with self.priority.gallery():
                await self._dispatch(request)
        else:
            with self.priority.transfer():
                await self._dispatch(request)

    async def _dispatch(self, request: Request) -> None:
        method, path = request.method, request.path
        if is_gallery_path(path):  # `/` (the health check for tools) and `/-/...`: hitrec.hub.gallery
            await self.gallery.handle(request)
            return
        match = _ROUTE.fullmatch(path)
        if not match:
            raise Reply(404, "not found: collaborations live at /<name>.git")
        name, rest = match.group("name"), match.group("rest")
        lfs_route = rest.startswith("info/lfs/")
        if not is_collaboration_name(name):
            raise Reply(400 if not lfs_route else 422, f"invalid collaboration name {name!r}",
                        lfs_json=lfs_route)
        if rest == "info/refs" and method == "GET":
            await self._info_refs(request, name)
        elif rest in git.SERVICES and method == "POST":
            await self._service(request, name, rest)
        elif rest == "info/lfs/objects/batch" and method == "POST":
            await self._batch(request, name)
        elif rest == "info/lfs/locks" or rest.startswith("info/lfs/locks/"):
            # The locking API (git-lfs docs/api/locking.md): "an LFS server that doesn't implement any
            # locking endpoints should return 404", which git-lfs takes as "not implemented" and stops
            # verifying locks for this remote, quietly (a 200 made it advise turning verification on).
            self._authorize(request, write=method != "GET", lfs_json=True)
            raise Reply(404, "this hub does not support Git LFS locks", lfs_json=True)
        elif (obj := _OBJECT.fullmatch(rest) or _VERIFY.fullmatch(rest)) and method in ("PUT", "GET", "HEAD", "POST"):
            oid = obj.group("oid")
            if not is_oid(oid):
                raise Reply(422, "invalid oid: expected 64 lowercase hex digits", lfs_json=True)
            verify = rest.startswith("info/lfs/verify/")
            if verify != (method == "POST"):
                raise Reply(404, "not supported by this hub", lfs_json=True)
            if verify:
                await self._verify(request, name, oid)
            elif self.config.media.direct:
                self._authorize(request, write=method == "PUT", lfs_json=True,
                                action=actions.Scope(name, oid, "upload" if method == "PUT" else "download"))
                raise Reply(404, "this hub keeps media in an object store: ask the batch API for its "
                                 "address (git lfs and hitrec do)", lfs_json=True)
            elif method == "PUT":
                await self._upload(request, name, oid)
            else:
                await self._download(request, name, oid)
        elif lfs_route:
            raise Reply(404, "not supported by this hub", lfs_json=True)
        else:
            raise Reply(404, "not found (this hub speaks git smart HTTP and Git LFS only)")

    # -- auth -----------------------------------------------------------------------------------
    def _authorize(self, request: Request, *, write: bool, lfs_json: bool = False,
                   action: actions.Scope | None = None) -> User | None:
        """The user a request speaks for (None: an anonymous read of a public hub); raises a 401.
        ``action``: the object route being served, where a matching action token also does."""
        token = _token(request.headers.get("authorization", ""))
        challenge = f'Basic realm="{self.config.realm}", charset="UTF-8"'.encode()
        ask = [(b"www-authenticate", challenge), (b"lfs-authenticate", challenge)]
        if token is None:
            if not write and self.config.public_read:
                return None
            raise Reply(401, "authentication required: log in with your hub user name and token",
                        headers=ask, lfs_json=lfs_json)
        if actions.is_action_token(token):
            name = actions.user_of(token) if action is not None else None
            found = self.users.active(name) if name is not None else None
            if found is None or action is None or not actions.check(self.action_key, token, action, found[1]):
                raise Reply(401, "this address has expired or is not for this object: ask the batch API "
                                 "again", headers=ask, lfs_json=lfs_json)
            request.user = found[0]
            return found[0]
        user = self.users.authenticate(token)
        if user is None:
            raise Reply(401, "invalid or revoked token: ask the hub's admin for a new one",
                        headers=ask, lfs_json=lfs_json)
        request.user = user
        request.token_digest = hash_token(token)
        return user

    def media_store_of(self, name: str) -> MediaStore:
        """The media store of collaboration ``name``: its ``lfs/`` folder, or its prefix in S3."""
        if self.config.media.direct:
            return self.config.media.store(name)
        return lfs.media_store(repos.collaboration_path(self.root, name))

    def _git_dir(self, name: str, *, lfs_json: bool = False) -> Path:
        path = repos.collaboration_path(self.root, name)
        if not (path / "HEAD").is_file():
            raise Reply(404, f"no collaboration named {name!r} on this hub", lfs_json=lfs_json)
        return path

    async def _git_dir_or_create(self, name: str) -> Path:
        path = repos.collaboration_path(self.root, name)
        if (path / "HEAD").is_file():
            return path
        async with self._create_lock:
            await asyncio.to_thread(repos.create, self.root, name, exist_ok=True)
        log.info("created collaboration %s", name)
        return path

    # -- git ------------------------------------------------------------------------------------
    async def _info_refs(self, request: Request, name: str) -> None:
        service = request.query.get("service", "")
        request.extra["service"] = f"?service={service}" if service in git.SERVICES else ""
        if service not in git.SERVICES:
            raise Reply(403, "this hub speaks the smart HTTP protocol only: use git 1.6.6 or newer")
        write = service == "git-receive-pack"
        self._authorize(request, write=write)
        git_dir = await self._git_dir_or_create(name) if write else self._git_dir(name)
        body = await git.advertise(git_dir, service, request.headers.get("git-protocol"))
        await self._send_bytes(request, 200, body, f"application/x-{service}-advertisement".encode(),
                               [(b"cache-control", b"no-cache")])

    async def _service(self, request: Request, name: str, service: str) -> None:
        write = service == "git-receive-pack"
        user = self._authorize(request, write=write)
        git_dir = await self._git_dir_or_create(name) if write else self._git_dir(name)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.config.max_push_size:
            raise Reply(413, f"request body is larger than this hub's limit of {self.config.max_push_size} bytes")
        encoding = request.headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip"):
            raise Reply(415, f"unsupported content encoding {encoding!r}")
        body = git.decoded_body(request.chunks(), gzip=encoding in ("gzip", "x-gzip"),
                                limit=self.config.max_push_size)
        headers = [(b"content-type", f"application/x-{service}-result".encode()),
                   (b"cache-control", b"no-cache")]

        async def start() -> None:
            await request.start(200, headers)

        async def send(data: bytes) -> None:
            await request.body(data, more=True)

        hook_env = None
        lock = None
        # The whole body first, then git: a git process per request still arriving let 50 strangers
        # trickling upload-pack requests to a public hub hold 50 git processes (200 MB) for ever.
        spooled = await git.spool(body, self.spool_dir, memory=8 << 20 if write else 1 << 20)
        body = git.spooled_chunks(spooled)
        if write:
            assert user is not None
            check = await asyncio.to_thread(repos.author_check, git_dir)
            hook_env = {"HITREC_HUB_USER": user.name, "HITREC_HUB_EMAIL": user.email,
                        "HITREC_HUB_AUTHOR_CHECK": "1" if check else "0", **self.config.media.hook_env()}
            # Pushes to one collaboration run one at a time, so the catalog cannot move between this
            # read and git's compare-and-set: the hook refuses at once, unchecked, a push git would
            # refuse anyway ("fetch first"; no Python start for a lost race), judging by git's own
            # reading of the commands. (The hub's own parse of the request was fooled: an upper-case old oid, or a
            # decoy command in a push certificate's header, skipped the checks of a push that landed.)
            lock = self._receive_locks.setdefault(name, asyncio.Lock())
            await lock.acquire()
        push_lock: int | None = None
        try:
            if write:
                assert hook_env is not None
                # ... and each holds the collaboration's push lock, which its receive-pack inherits: so
                # what a killed receive-pack left (main.lock, a quarantine folder) is known dead and goes
                push_lock = await _lock_and_clear(git_dir)
                hook_env["HITREC_HUB_MAIN"] = read_ref(git_dir) or ZERO_SHA
            code, stderr = await git.run_service(git_dir, service, body, start, send,
                                                 git_protocol=request.headers.get("git-protocol"),
                                                 hook_env=hook_env,
                                                 pass_fds=(push_lock,) if push_lock is not None else ())
        finally:
            if push_lock is not None:
                os.close(push_lock)
            if lock is not None:
                lock.release()
            spooled.close()
        if stderr.strip() and code != 0:
            log.warning("git %s for %s exited %d: %s", service, name, code, stderr.strip()[:2000])
        if write and code == 0:
            self.housekeeper.after_push(git_dir)
        if not request.status:
            raise Reply(500, f"git {service} failed; see the hub's log")
        await request.body(b"", more=False)

    # -- LFS ------------------------------------------------------------------------------------
    async def _batch(self, request: Request, name: str) -> None:
        self._authorize(request, write=False, lfs_json=True)  # before reading a stranger's body
        raw = bytearray()
        async for chunk in request.chunks():
            raw += chunk
            if len(raw) > self.config.max_json_size:
                raise Reply(413, "batch request is too large", lfs_json=True)
        try:
            batch = lfs.parse_batch(json.loads(raw))
        except (ValueError, RecursionError) as exc:
            raise Reply(422, f"bad batch request: {exc}", lfs_json=True) from None
        if len(batch.objects) > self.config.max_batch_objects:  # its answer would take ~2 KB each
            raise Reply(413, f"too many objects in one batch request: send at most {self.config.max_batch_objects}",
                        lfs_json=True)
        write = batch.operation == "upload"
        if write and request.user is None:
            self._authorize(request, write=True, lfs_json=True)
        git_dir: Path | None
        if write:
            git_dir = await self._git_dir_or_create(name)
        else:
            git_dir = self._git_dir(name, lfs_json=True)
        action_headers = None
        if request.user is not None:  # each action its own token, never the client's (GIT_TRACE shows them)
            user, digest, ttl = request.user.name, request.token_digest, self.config.action_ttl
            expiry = int(time.time()) + ttl

            def action_headers(oid: str, operation: str) -> dict[str, str]:
                token = actions.mint(self.action_key, user, digest, actions.Scope(name, oid, operation), expiry)
                return {"Authorization": actions.basic_header(user, token)}

        direct = None
        if self.config.media.direct:
            verify_action = None
            if action_headers is not None:
                verify_headers = action_headers
                base = f"{self._base_url(request)}/{name}.git/info/lfs/verify"

                def verify_action(oid: str) -> dict[str, Any]:
                    return {"href": f"{base}/{oid}", "header": verify_headers(oid, "verify"),
                            "expires_in": self.config.action_ttl}

            direct = DirectBatch(self.config.media.store(name), self.config.media.url_ttl, verify_action)
        answer = await asyncio.to_thread(
            lfs.batch_response, git_dir, batch, object_url=f"{self._base_url(request)}/{name}.git/info/lfs/objects",
            action_headers=action_headers, max_size=self.config.max_object_size, ttl=self.config.action_ttl,
            direct=direct)
        await self._send_bytes(request, 200, json.dumps(answer).encode(), lfs.LFS_JSON.encode())

    async def _verify(self, request: Request, name: str, oid: str) -> None:
        """The Git LFS ``verify`` action: the client says it put ``{oid, size}``; 200 only when the store
        holds exactly that (in S3: the object's size and its stored SHA-256 checksum, by HEAD)."""
        self._authorize(request, write=True, lfs_json=True, action=actions.Scope(name, oid, "verify"))
        raw = bytearray()
        async for chunk in request.chunks():
            raw += chunk
            if len(raw) > 4096:
                raise Reply(413, "verify request is too large", lfs_json=True)
        try:
            body = json.loads(raw)
            size = body["size"]
            assert body["oid"] == oid and isinstance(size, int) and not isinstance(size, bool) and size >= 0
        except (ValueError, KeyError, TypeError, AssertionError, RecursionError):
            raise Reply(422, "a verify request is {\"oid\": OID, \"size\": N} for the oid of its address",
                        lfs_json=True) from None
        git_dir = self._git_dir(name, lfs_json=True)
        if self.config.media.direct:
            problem = await asyncio.to_thread(problem_of, self.config.media.store(name), oid, size)
        else:
            problem = None if lfs.have_media(git_dir, oid, size) else "missing"
        if problem == "missing":
            raise Reply(404, f"the hub's media store does not have media {oid[:12]}: upload it again",
                        lfs_json=True)
        if problem is not None:
            raise Reply(422, f"media {oid[:12]} in the hub's store {problem}: upload it again", lfs_json=True)
        await self._send_bytes(request, 200, b"{}", lfs.LFS_JSON.encode())

    async def _upload(self, request: Request, name: str, oid: str) -> None:
        self._authorize(request, write=True, lfs_json=True, action=actions.Scope(name, oid, "upload"))
        git_dir = await self._git_dir_or_create(name)
        length = request.headers.get("content-length")
        expected = int(length) if length and length.isdigit() else None
        if expected is not None and expected > self.config.max_object_size:
            raise Reply(413, f"media is larger than this hub's limit of {self.config.max_object_size} bytes",
                        lfs_json=True)
        lfs.sweep_if_due(git_dir)
        sink = lfs.MediaSink(lfs.media_store(git_dir), oid, expected, self.config.max_object_size)  # no thread hop
        receive_into = request.scope.get("extensions", {}).get(DIRECT_BODY) if sink.direct else None
        buffer: list[bytes] = []
        buffered = 0
        try:
            if receive_into is not None:  # straight into the sink's buffers (hitrec.hub.protocol)
                request.extra["note"] = " direct"
                try:
                    await receive_into(sink)
                    request.body_done = True
                finally:
                    request.received += sink.size  # what arrived, also when it failed
            else:
                async for chunk in request.chunks():
                    buffer.append(chunk)
                    buffered += len(chunk)
                    if buffered >= _SINK_BATCH:
                        await sink.feed(buffer)
                        buffer, buffered = [], 0
                if buffer:
                    await sink.feed(buffer)
            await sink.finish()
        except BaseException:
            await sink.abort()
            raise
        await self._send_bytes(request, 200, b"{}", lfs.LFS_JSON.encode())

    async def _download(self, request: Request, name: str, oid: str) -> None:
        self._authorize(request, write=False, lfs_json=True, action=actions.Scope(name, oid, "download"))
        git_dir = self._git_dir(name, lfs_json=True)
        try:
            fh = lfs.media_store(git_dir).open_read(oid)
        except MissingMediaError:
            raise Reply(404, "the hub does not have this media", lfs_json=True) from None
        with fh:
            size = fh.size
            answer = ranged_answer(request.headers.get("range"), size)
            if answer is None:
                raise Reply(416, unsatisfiable_message(size), headers=[unsatisfiable_header(size)], lfs_json=True)
            status, start, end, ranged_headers = answer  # end: one past the last byte sent
            await request.start(status, [(b"content-type", b"application/octet-stream"),
                                         (b"accept-ranges", b"bytes"), *ranged_headers])
            remaining = end - start
            if request.method == "HEAD" or remaining == 0:
                await request.body(b"")
                return
            if remaining <= _CHUNK:  # small media: one read, no thread hop
                await request.body(os.pread(fh.fileno(), remaining, start))
                return
            # big media: see hitrec.hub.files (an async generator: closed here, whatever happens)
            blocks = files.read_blocks(fh.fileno(), start, end)
            try:
                async for data in blocks:
                    remaining -= len(data)
                    await request.body(data, more=remaining > 0)
            finally:
                await blocks.aclose()

    # -- helpers --------------------------------------------------------------------------------
    def _base_url(self, request: Request) -> str:
        host = request.headers.get("host", "")
        if not _HOST.fullmatch(host):
            server = request.scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}"
        scheme = request.scope.get("scheme", "http")
        return f"{scheme}://{host}"

    async def _send_bytes(self, request: Request, status: int, body: bytes, ctype: bytes,
                          extra: list[tuple[bytes, bytes]] | None = None) -> None:
        headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *(extra or [])]
        await request.start(status, headers)
        await request.body(b"" if request.method == "HEAD" else body)


async def _lock_and_clear(git_dir: Path) -> int:
    """The push lock of ``git_dir`` (see repos.lock_pushes), once every earlier receive-pack is gone, and
    their debris cleared. Polled, not waited for on a thread: a cancelled wait must not leave a thread
    that takes the lock later and holds it for ever. Inline, so no cleanup outlives a cancelled push."""
    waited = 0.0
    while (fd := repos.lock_pushes(git_dir, wait=False)) is None:
        if waited == 0:
            log.info("push to %s waits for an earlier git receive-pack (or gc) to end", git_dir.name)
        await asyncio.sleep(0.05)
        waited += 0.05
    try:
        repos.clear_dead_push_state(git_dir)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _token(header: str) -> str | None:
    """The token in an Authorization header (Basic: the password; Bearer: the token), or None."""
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        _, _, password = decoded.partition(":")
        return password
    return None if not header.strip() else ""


def _has_body(headers: dict[str, str]) -> bool:
    return headers.get("content-length", "0").strip() not in ("", "0") or "transfer-encoding" in headers


def _loggable(path: str) -> str:
    """A request path safe to log: never an absolute-form URL (it could carry user:token@)."""
    if not path.startswith("/") or "@" in path:
        return "<unloggable target>"
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", path[:300])  # a %0a must not forge a log line


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
