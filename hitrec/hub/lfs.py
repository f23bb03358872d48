"""Git LFS on the hub: the batch API's answers and verified, atomic media uploads.

An upload streams into ``lfs/tmp/`` while it is hashed; only bytes whose SHA-256 and size match the
oid are fsynced and renamed into ``lfs/objects/ab/cd/<oid>``. A dropped connection leaves nothing but a
temp file that is removed at once, so a retried upload starts clean and a finished one is never resent
(the batch answer omits actions for media the hub has).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec.hub.names import is_oid
from hitrec.hub.repos import media_path

LFS_JSON = "application/vnd.git-lfs+json"


class UploadRejected(Exception):
    """An upload whose bytes do not match its oid or size (the client is told why, nothing is kept)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class MediaSink:
    """Receives one upload: write + hash in one pass, verify, fsync, rename into the LFS layout."""

    def __init__(self, repo: Path, oid: str, expected_size: int | None, max_size: int) -> None:
        self.final = media_path(repo, oid)
        self.oid = oid
        self.expected_size = expected_size
        self.max_size = max_size
        tmp_dir = repo / "lfs" / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp_dir / f"{oid}.{secrets.token_hex(6)}"
        self._fh = open(self.tmp, "wb", buffering=0)  # noqa: SIM115 (closed in finish/abort)
        self._hash = hashlib.sha256()
        self.size = 0
        self._unsynced = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.size += len(data)
        if self.size > self.max_size:
            raise UploadRejected(413, f"media is larger than this hub's limit of {self.max_size} bytes")
        if self.expected_size is not None and self.size > self.expected_size:
            raise UploadRejected(400, f"upload is longer than its declared size {self.expected_size}")
        self._hash.update(data)
        view = memoryview(data)
        while view:
            written = self._fh.write(view)
            view = view[written:]
        self._unsynced += len(data)
        if self._unsynced >= 64 << 20:  # start writeback early so the final fsync is short
            _start_writeback(self._fh.fileno())
            self._unsynced = 0

    def finish(self) -> None:
        """Verify, fsync and publish. Raises UploadRejected (and keeps nothing) on a mismatch."""
        try:
            if self.expected_size is not None and self.size != self.expected_size:
                raise UploadRejected(
                    400, f"upload has {self.size} bytes but declared {self.expected_size}; nothing was kept"
                )
            digest = self._hash.hexdigest()
            if digest != self.oid:
                raise UploadRejected(
                    422, f"upload bytes hash to sha256:{digest}, not to its oid {self.oid}; nothing was kept"
                )
            os.fsync(self._fh.fileno())
            self._fh.close()
            self.final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp, self.final)
            _fsync_dir(self.final.parent)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.tmp.unlink(missing_ok=True)


def _start_writeback(fd: int) -> None:
    sync_range = getattr(os, "sync_file_range", None)
    if sync_range is not None:  # pragma: no branch
        with contextlib.suppress(OSError):
            sync_range(fd, 0, 0, os.SYNC_FILE_RANGE_WRITE)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def have_media(repo: Path, oid: str, size: int | None = None) -> bool:
    try:
        st = media_path(repo, oid).stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    return size is None or st.st_size == size


@dataclass
class BatchRequest:
    operation: str
    objects: list[tuple[Any, Any]]  # (oid, size) as sent, validated per object


def parse_batch(data: Any) -> BatchRequest:
    """Validate a batch request body; raises ValueError with a message for the client."""
    if not isinstance(data, dict):
        raise ValueError("batch request must be a JSON object")
    operation = data.get("operation")
    if operation not in ("upload", "download"):
        raise ValueError("batch operation must be 'upload' or 'download'")
    transfers = data.get("transfers")
    if transfers is not None and (not isinstance(transfers, list) or "basic" not in transfers):
        raise ValueError("this hub supports only the 'basic' transfer adapter")
    algo = data.get("hash_algo", "sha256")
    if algo != "sha256":
        raise ValueError("this hub supports only sha256 oids")
    objects = data.get("objects")
    if not isinstance(objects, list):
        raise ValueError("batch request needs an 'objects' list")
    pairs = [(o.get("oid"), o.get("size")) if isinstance(o, dict) else (None, None) for o in objects]
    return BatchRequest(operation, pairs)


def batch_response(
    repo: Path | None,
    request: BatchRequest,
    *,
    object_url: str,
    headers: dict[str, str],
    max_size: int,
) -> dict[str, Any]:
    """Answer a batch: actions only for what the operation needs (upload: missing; download: present).

    ``object_url`` is the absolute URL prefix for objects; ``headers`` go into every action (the
    client's own Authorization, so git-lfs never has to guess).
    """
    out = []
    for oid, size in request.objects:
        item: dict[str, Any] = {"oid": oid, "size": size}
        if not isinstance(oid, str) or not is_oid(oid):
            item["error"] = {"code": 422, "message": "invalid oid: expected 64 lowercase hex digits"}
        elif not isinstance(size, int) or isinstance(size, bool) or size < 0:
            item["error"] = {"code": 422, "message": "invalid size: expected a non-negative integer"}
        elif size > max_size:
            item["error"] = {"code": 413, "message": f"media is larger than this hub's limit of {max_size} bytes"}
        elif request.operation == "upload":
            present = repo is not None and have_media(repo, oid)
            if present and not have_media(repo, oid, size):
                item["error"] = {"code": 422, "message": "size does not match the media the hub has"}
            elif not present:
                action: dict[str, Any] = {"href": f"{object_url}/{oid}", "expires_in": 86400}
                if headers:
                    action["header"] = dict(headers)
                item["actions"] = {"upload": action}
        else:
            if repo is None or not have_media(repo, oid):
                item["error"] = {"code": 404, "message": "the hub does not have this media"}
            elif not have_media(repo, oid, size):
                item["error"] = {"code": 422, "message": "size does not match the media the hub has"}
            else:
                action = {"href": f"{object_url}/{oid}", "expires_in": 86400}
                if headers:
                    action["header"] = dict(headers)
                item["actions"] = {"download": action}
        out.append(item)
    return {"transfer": "basic", "objects": out, "hash_algo": "sha256"}
