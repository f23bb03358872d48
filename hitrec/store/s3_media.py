"""A ``MediaStore`` in S3-compatible object storage (AWS S3, SeaweedFS, MinIO, ...), through boto3.

Layout: one bucket (and an optional key prefix) for a whole hub; each collaboration's media under its
own prefix, in the Git LFS layout of a local store::

    s3://BUCKET/PREFIX/<collaboration>/objects/ab/cd/<sha256>

Per collaboration rather than shared: an oid says nothing about who may read it, and a batch answer
must never hand out an address for media that only another (private) collaboration holds. The cost is
one copy per collaboration of media two collaborations share, as with the local folders.

Integrity is the store's own: every single-request put carries ``x-amz-checksum-sha256`` (the oid's
bytes, base64), signed, so the store refuses bytes that do not hash to the oid and keeps the checksum
beside the object (``HEAD`` with ``ChecksumMode=ENABLED`` gives it back: ``check``). Objects the hub
writes itself past ``MULTIPART_MIN`` go up in parts, hashed here on the way; they are completed only
when the whole hashes to the oid (else aborted: nothing is kept) and carry the verified oid in their
metadata, since a multipart object's checksum is a checksum of its parts. An S3 put is all or nothing,
so no reader sees a partial object; a put is durable when S3 answers (``sync`` has nothing to do).

Clients move bytes without the hub: ``presigned_put`` and ``presigned_get`` sign one method on one
object for ``ttl`` seconds (SigV4; the secret key never leaves the hub, the URL names the access key
id, as every presigned URL does). Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, ``~/.aws``, ...). Errors become ``ObjectStoreError`` with the operation
and S3's error code, never a credential.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hitrec.errors import DamagedMediaError, MediaError, MissingMediaError, ObjectStoreError
from hitrec.progress import ProgressFn
from hitrec.store.format import is_oid, media_relpath
from hitrec.store.media_store import (
    CHUNK,
    MediaBatch,
    MediaStore,
    Readable,
    check_range,
    durable_batch,
    sha256_file,
)

MULTIPART_MIN = 16 << 20  # objects at least this big go up in parts
PART_SIZE = 16 << 20
READ_WHOLE = 8 << 20  # objects up to this size are read whole when opened (a removal cannot cut them)
STALE_UPLOAD = 24 * 3600  # seconds after which an unfinished multipart upload is debris
SHA256_META = "hitrec-sha256"  # metadata of a multipart object: the oid its parts were verified to hash to


def oid_checksum(oid: str) -> str:
    """The ``x-amz-checksum-sha256`` value of media ``oid``: its 32 bytes, base64."""
    return base64.b64encode(bytes.fromhex(oid)).decode("ascii")


def checksum_oid(checksum: str) -> str | None:
    """The oid (hex) of an ``x-amz-checksum-sha256`` value; None for a composite or malformed one."""
    try:
        raw = base64.b64decode(checksum, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


@dataclass(frozen=True)
class S3Location:
    """Where a hub's media lives: ``s3://BUCKET[/PREFIX]`` and the S3 endpoint (None: AWS's own)."""

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None

    @classmethod
    def parse(cls, url: str, endpoint: str | None = None, region: str | None = None) -> S3Location:
        if not url.startswith("s3://"):
            raise ValueError(f"give the media store as s3://BUCKET or s3://BUCKET/PREFIX, not {url!r}")
        bucket, _, prefix = url[len("s3://"):].partition("/")
        if not bucket or "?" in url or "@" in bucket:
            raise ValueError(f"give the media store as s3://BUCKET or s3://BUCKET/PREFIX, not {url!r}")
        return cls(bucket, prefix.strip("/"), endpoint or None, region or None)

    def url(self) -> str:
        return f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")

    def under(self, name: str) -> S3Location:
        """The location of one collaboration's media."""
        return S3Location(self.bucket, f"{self.prefix}/{name}" if self.prefix else name, self.endpoint,
                          self.region)


_clients: dict[tuple[str | None, str | None], Any] = {}
_clients_lock = threading.Lock()


def _forget_clients() -> None:
    """In a forked child (``hub serve --workers``): a client's pooled connections belong to the
    parent, and its lock may have been held by a thread that does not exist here; start afresh."""
    global _clients_lock
    _clients.clear()
    _clients_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_clients)


def s3_client(endpoint: str | None, region: str | None) -> Any:
    """One boto3 client per endpoint and region for the process (clients are thread-safe)."""
    key = (endpoint, region)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import boto3
            from botocore.config import Config

            config = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                            retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32,
                            connect_timeout=10, read_timeout=60,
                            request_checksum_calculation="when_required",
                            response_checksum_validation="when_required")
            session = boto3.session.Session()
            client = session.client("s3", endpoint_url=endpoint, region_name=region or "us-east-1",
                                    config=config)
            _clients[key] = client
    return client


class S3MediaStore:
    """The media of one collaboration (or one client) under ``location.prefix`` in ``location.bucket``."""

    def __init__(self, location: S3Location, client: Any | None = None) -> None:
        self.location = location
        self.bucket = location.bucket
        self._objects = (location.prefix + "/" if location.prefix else "") + "objects/"
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(self.location.endpoint, self.location.region)
        return self._client

    def key(self, oid: str) -> str:
        """The object key of media ``oid`` (a ValueError for anything but an oid)."""
        return self._objects + media_relpath(oid)

    # --- errors ------------------------------------------------------------------------------------
    def _error(self, exc: Exception, what: str) -> ObjectStoreError:
        """A boto error as one readable line: the operation, S3's code, the endpoint; no credential."""
        from botocore.exceptions import ClientError

        where = self.location.endpoint or "AWS S3"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"))
            hint = {"AccessDenied": "check the hub's S3 credentials and the bucket's policy",
                    "InvalidAccessKeyId": "check AWS_ACCESS_KEY_ID", "SignatureDoesNotMatch":
                    "check AWS_SECRET_ACCESS_KEY", "NoSuchBucket": f"create bucket {self.bucket!r} first"}
            detail = hint.get(code, "see the object store's log")
            return ObjectStoreError(f"the object store at {where} refused to {what} ({code}): {detail}")
        return ObjectStoreError(f"cannot reach the object store at {where} to {what} "
                                f"({type(exc).__name__}); check it is running, then try again")

    @contextlib.contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, what) from exc

    @staticmethod
    def _absent(exc: Exception) -> bool:
        from botocore.exceptions import ClientError

        if not isinstance(exc, ClientError):
            return False
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def check_bucket(self) -> None:
        """Raises ObjectStoreError unless the bucket answers to these credentials."""
        with self._calling(f"open bucket {self.bucket!r}"):
            self.client.head_bucket(Bucket=self.bucket)

    # --- reading -----------------------------------------------------------------------------------
    def head(self, oid: str) -> dict[str, Any] | None:
        """The object's HEAD answer (with its checksum), None when it is not stored."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.key(oid)
        try:
            answer: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except (ClientError, BotoCoreError) as exc:
            if self._absent(exc):
                return None
            raise self._error(exc, f"look up media {oid[:12]}") from exc
        return answer

    def has(self, oid: str) -> bool:
        return self.head(oid) is not None

    def size(self, oid: str) -> int:
        answer = self.head(oid)
        if answer is None:
            raise MissingMediaError(oid)
        return int(answer["ContentLength"])

    def check(self, oid: str, size: int | None = None) -> str | None:
        """None when the object is stored, ``size`` long (if given) and known to hash to ``oid`` (its
        stored SHA-256 checksum, or the oid the hub verified a multipart object against); else what
        is wrong. No bytes are read: this is what the hub asks before anything points at an object."""
        answer = self.head(oid)
        if answer is None:
            return "missing"
        stored = int(answer["ContentLength"])
        if size is not None and stored != size:
            return f"has {stored} bytes, not {size}"
        checksum = answer.get("ChecksumSHA256")
        if isinstance(checksum, str) and checksum_oid(checksum) == oid:
            return None
        if (answer.get("Metadata") or {}).get(SHA256_META) == oid:
            return None
        return "was stored without a SHA-256 checksum of its oid"

    def oids(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        with self._calling("list media"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._objects):
                for item in page.get("Contents") or []:
                    name = item["Key"].rsplit("/", 1)[-1]
                    if is_oid(name) and item["Key"] == self.key(name):
                        yield name

    def open_read(self, oid: str, start: int = 0, end: int | None = None) -> ObjectRange:
        size = self.size(oid)
        stop = check_range(oid, size, start, end)
        if stop == start:
            return ObjectRange(io.BytesIO(b""), size)
        ranged = {} if (start, stop) == (0, size) else {"Range": f"bytes={start}-{stop - 1}"}
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(oid), **ranged)
        except (ClientError, BotoCoreError) as exc:
            if self._absent(exc):
                raise MissingMediaError(oid) from None
            raise self._error(exc, f"read media {oid[:12]}") from exc
        body = answer["Body"]
        if stop - start <= READ_WHOLE:
            with self._calling(f"read media {oid[:12]}"):
                data = body.read()
            body.close()
            return ObjectRange(io.BytesIO(data), size)
        return ObjectRange(body, size, self, oid)

    @contextlib.contextmanager
    def local_path(self, oid: str) -> Iterator[Path]:
        """A temp file holding a copy (ffmpeg reads files), removed after the block."""
        fd, name = tempfile.mkstemp(prefix="hitrec-media-")
        try:
            with os.fdopen(fd, "wb") as out, self.open_read(oid) as reader:
                while block := reader.read(CHUNK):
                    out.write(block)
            yield Path(name)
        finally:
            os.unlink(name)

    def verify(self, oid: str) -> str | None:
        """Reads the whole object and hashes it (``check`` trusts the stored checksum instead)."""
        if not self.has(oid):
            return "missing"
        digest = hashlib.sha256()
        with self.open_read(oid) as reader:
            while block := reader.read(CHUNK):
                digest.update(block)
        actual = digest.hexdigest()
        return None if actual == oid else f"corrupt (its bytes hash to {actual[:12]})"

    # --- presigned addresses -----------------------------------------------------------------------
    def presigned_put(self, oid: str, size: int, ttl: int) -> tuple[str, dict[str, str]]:
        """A URL and the headers a client must send to PUT exactly media ``oid`` within ``ttl`` s: the
        checksum header is signed, so the store refuses other bytes (and a request without it)."""
        checksum = oid_checksum(oid)
        with self._calling(f"sign an upload of media {oid[:12]}"):
            url = self.client.generate_presigned_url(
                "put_object", Params={"Bucket": self.bucket, "Key": self.key(oid), "ChecksumSHA256": checksum},
                ExpiresIn=ttl, HttpMethod="PUT")
        return url, {"x-amz-checksum-sha256": checksum}

    def presigned_get(self, oid: str, ttl: int, *, content_type: str | None = None,
                      disposition: str | None = None) -> str:
        """A URL to GET media ``oid`` within ``ttl`` s (optionally answered with that Content-Type and
        Content-Disposition: the gallery's players)."""
        params = {"Bucket": self.bucket, "Key": self.key(oid)}
        if content_type:
            params["ResponseContentType"] = content_type
        if disposition:
            params["ResponseContentDisposition"] = disposition
        with self._calling(f"sign a download of media {oid[:12]}"):
            url: str = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl, HttpMethod="GET")
        return url

    # --- writing -----------------------------------------------------------------------------------
    def remove(self, oid: str) -> bool:
        if not self.has(oid):
            return False
        with self._calling(f"remove media {oid[:12]}"):
            self.client.delete_object(Bucket=self.bucket, Key=self.key(oid))
        return True

    def put_verified(self, stream: Iterable[bytes] | Readable, oid: str, size: int, *,
                     durable: bool = True) -> None:
        if not is_oid(oid):
            raise ValueError(f"not a sha256 oid: {oid!r}")
        blocks = _blocks(stream)
        if size < MULTIPART_MIN:
            data = b"".join(bytes(b) for b in blocks)
            actual = hashlib.sha256(data).hexdigest()
            if actual != oid or len(data) != size:
                raise DamagedMediaError(oid, actual, len(data), size)
            self._put_small(oid, data)
        else:
            self._put_multipart(oid, size, blocks)

    def put_file(self, path: Path, progress: ProgressFn | None = None, *,
                 durable: bool = True) -> tuple[str, int]:
        """Hashes the file first (its key is its hash), then sends it."""
        try:
            size = os.stat(path).st_size
            oid = sha256_file(path) if size >= MULTIPART_MIN else ""
            src = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise MediaError(path, f"cannot read: {exc.strerror or exc}") from exc
        with src:
            if size < MULTIPART_MIN:
                data = src.read()
                oid = hashlib.sha256(data).hexdigest()
                self._put_small(oid, data)
                if progress:
                    progress(len(data))
                return oid, len(data)

            def blocks() -> Iterator[bytes]:
                while block := src.read(CHUNK):
                    if progress:
                        progress(len(block))
                    yield block

            self._put_multipart(oid, size, blocks())
        return oid, size

    def _put_small(self, oid: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(oid), Body=data,
                                   ChecksumSHA256=oid_checksum(oid))
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in ("BadDigest",
                                                                                              "XAmzContentChecksumMismatch"):
                raise DamagedMediaError(oid, hashlib.sha256(data).hexdigest(), len(data), len(data)) from None
            raise self._error(exc, f"store media {oid[:12]}") from exc

    def _put_multipart(self, oid: str, size: int, blocks: Iterator[bytes]) -> None:
        """Parts of ``PART_SIZE``, hashed in order; completed only if the whole is ``oid``/``size``."""
        key = self.key(oid)
        with self._calling(f"start storing media {oid[:12]}"):
            upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key,
                                                         Metadata={SHA256_META: oid})
        upload_id = upload["UploadId"]
        digest = hashlib.sha256()
        done = 0
        parts: list[dict[str, Any]] = []
        try:
            buffer = bytearray()
            for block in blocks:
                digest.update(block)
                done += len(block)
                if done > size:
                    break
                buffer += block
                while len(buffer) >= PART_SIZE:
                    parts.append(self._part(key, upload_id, len(parts) + 1, bytes(buffer[:PART_SIZE])))
                    del buffer[:PART_SIZE]
            if buffer or not parts:
                parts.append(self._part(key, upload_id, len(parts) + 1, bytes(buffer)))
            actual = digest.hexdigest()
            if actual != oid or done != size:
                raise DamagedMediaError(oid, actual, done, size)
            with self._calling(f"finish storing media {oid[:12]}"):
                self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                      MultipartUpload={"Parts": parts})
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def _part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        with self._calling("store a part of media"):
            answer = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                             PartNumber=number, Body=data)
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def batch(self) -> contextlib.AbstractContextManager[MediaBatch]:
        return durable_batch(self)

    def sync(self) -> None:
        pass  # an S3 put is durable when it is answered

    # --- unfinished uploads (the temp files of an object store) ------------------------------------
    def temp_files(self) -> list[Path]:
        """Always empty: an unfinished multipart upload is no file (``remove_stale_temp_files`` aborts
        those of writers that are surely gone)."""
        return []

    def remove_stale_temp_files(self) -> int:
        """Abort multipart uploads under this prefix begun more than ``STALE_UPLOAD`` seconds ago. A
        writer on another machine cannot be proved dead, so age decides (S3's own lifecycle rule
        ``AbortIncompleteMultipartUpload`` does the same)."""
        removed = 0
        cutoff = time.time() - STALE_UPLOAD
        with self._calling("list unfinished uploads"):
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._objects):
                for upload in page.get("Uploads") or []:
                    if upload["Initiated"].timestamp() < cutoff:
                        self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                                           UploadId=upload["UploadId"])
                        removed += 1
        return removed


def _blocks(stream: Iterable[bytes] | Readable) -> Iterator[bytes]:
    if isinstance(stream, Readable):
        readable = stream
        return iter(lambda: readable.read(CHUNK), b"")
    return iter(stream)


class ObjectRange(io.RawIOBase):
    """A range of an object's bytes as S3 streams them (or already read), with the object's ``size``."""

    def __init__(self, body: Any, size: int, store: S3MediaStore | None = None, oid: str = "") -> None:
        super().__init__()
        self._body = body
        self.size = size
        self._store = store
        self._oid = oid

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as view:
            if self._store is None:
                data = self._body.read(len(view))
            else:
                with self._store._calling(f"read media {self._oid[:12]}"):
                    data = self._body.read(len(view))
            view[:len(data)] = data
            return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()

    def __enter__(self) -> ObjectRange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if TYPE_CHECKING:
    _is_a_store: type[MediaStore] = S3MediaStore  # mypy checks that it keeps the protocol
