"""Action tokens: what a batch answer puts in each action instead of the client's own token.

git-lfs prints batch answers under ``GIT_TRACE=1``, and people paste traces into bug reports: an
action must not carry the user's long-lived token. Each action gets its own token instead, good for one
object, one operation, one collaboration and ``ttl`` seconds:

    hra_<expiry>_<user>_<mac>      mac = HMAC-SHA256(key, user, the user's token digest,
                                                     collaboration, oid, operation, expiry)

``key`` is 32 random bytes in ``<root>/action-key`` (mode 0600), made on first use. Binding the MAC to
the digest of the user's current token means revoking the user, or giving them a new token, also ends
every action token minted for them. The token travels as HTTP Basic (the user name, the token as
password), like the user's own, so every client sends it as it is.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from hitrec.hub.names import is_user_name
from hitrec.store.durable import naming_full_disk

PREFIX = "hra_"
KEY_FILE = "action-key"
OPERATIONS = ("upload", "download", "verify")


@dataclass(frozen=True)
class Scope:
    """What one action token is good for."""

    collaboration: str
    oid: str
    operation: str


def load_key(root: Path) -> bytes:
    """The hub's action key, created (0600, atomically) if it is not there yet."""
    path = Path(root) / KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return _read_key(path)
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    with naming_full_disk(Path(root)):  # a first start on a full disk says which disk
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                os.write(fd, secrets.token_bytes(32))
                os.fsync(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # never replaces a key another process made meanwhile
        finally:
            tmp.unlink(missing_ok=True)  # written or not: a failed first start leaves nothing
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) < 32:
        raise OSError(f"{path} is damaged (shorter than 32 bytes): remove it and restart the hub")
    return key


def _mac(key: bytes, user: str, digest: str, scope: Scope, expiry: int) -> str:
    message = "\n".join((user, digest, scope.collaboration, scope.oid, scope.operation, str(expiry)))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def mint(key: bytes, user: str, digest: str, scope: Scope, expiry: int) -> str:
    """An action token for ``user`` (whose token hashes to ``digest``), valid until ``expiry``."""
    return f"{PREFIX}{expiry}_{user}_{_mac(key, user, digest, scope, expiry)}"


def basic_header(user: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def is_action_token(token: str) -> bool:
    return token.startswith(PREFIX)


def parse(token: str) -> tuple[int, str, str] | None:
    """(expiry, user, mac) of a well-formed action token, or None."""
    body = token[len(PREFIX):]
    expiry, _, rest = body.partition("_")
    user, _, mac = rest.rpartition("_")
    if not expiry.isdigit() or len(expiry) > 12 or not is_user_name(user) or len(mac) != 64:
        return None
    return int(expiry), user, mac


def user_of(token: str) -> str | None:
    """The user a well-formed action token names (not yet verified), or None."""
    parsed = parse(token)
    return parsed[1] if parsed is not None else None


def check(key: bytes, token: str, scope: Scope, digest: str, now: float | None = None) -> bool:
    """Whether an action token is valid for exactly ``scope`` now, for the user it names, whose current
    token hashes to ``digest``."""
    parsed = parse(token)
    if parsed is None:
        return False
    expiry, user, mac = parsed
    if expiry < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(mac, _mac(key, user, digest, scope, expiry))
