"""Gallery sessions: stateless, HMAC-signed cookies, so any number of hub processes on one root agree.

    hrs_<expiry>_<user>_<token id>_<mac>     mac = HMAC-SHA256(session key, user, token id, expiry)

The token id is the first 16 hex digits of the SHA-256 of the user's token (never the token). The
session key is derived from the hub's action key (``<root>/action-key``, 0600, made atomically on first
use by hitrec.hub.actions), so every process serving a root shares it with no state of its own. Each
request checks the signature, the expiry, and that the user's current token still has that id in the
hub's UserStore: revoking the user or giving them a new token ends their sessions in every process.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from hitrec.hub.names import is_user_name
from hitrec.hub.users import User, UserStore

PREFIX = "hrs_"
COOKIE = "hitrec_session"
TTL = 12 * 3600
TOKEN_ID_LENGTH = 16


def session_key(action_key: bytes) -> bytes:
    """The key sessions are signed with: the action key's, separated from its other use."""
    return hmac.new(action_key, b"hitrec gallery session v1", hashlib.sha256).digest()


def token_id(digest: str) -> str:
    """What a session remembers of a token: a prefix of its SHA-256 (hitrec.hub.users.hash_token)."""
    return digest[:TOKEN_ID_LENGTH]


def _mac(key: bytes, user: str, tid: str, expiry: int) -> str:
    return hmac.new(key, f"{user}\n{tid}\n{expiry}".encode(), hashlib.sha256).hexdigest()


def mint(key: bytes, user: str, digest: str, *, now: float | None = None, ttl: int = TTL) -> str:
    expiry = int(now if now is not None else time.time()) + ttl
    tid = token_id(digest)
    return f"{PREFIX}{expiry}_{user}_{tid}_{_mac(key, user, tid, expiry)}"


@dataclass(frozen=True)
class Session:
    user: User
    expiry: int


def check(key: bytes, cookie: str, users: UserStore, *, now: float | None = None) -> Session | None:
    """The session a cookie value carries, if its signature holds, it has not expired and its user's
    current token is still the one it was made with; else None."""
    if not cookie.startswith(PREFIX):
        return None
    expiry_text, _, rest = cookie[len(PREFIX):].partition("_")
    rest, _, mac = rest.rpartition("_")
    user, _, tid = rest.rpartition("_")
    if not expiry_text.isdigit() or len(expiry_text) > 12 or not is_user_name(user) \
            or len(tid) != TOKEN_ID_LENGTH or len(mac) != 64:
        return None
    expiry = int(expiry_text)
    if expiry < (now if now is not None else time.time()):
        return None
    if not hmac.compare_digest(mac, _mac(key, user, tid, expiry)):
        return None
    found = users.active(user)
    if found is None or not hmac.compare_digest(token_id(found[1]), tid):
        return None  # revoked, or a new token since
    return Session(found[0], expiry)


def cookie_header(value: str, *, secure: bool, max_age: int = TTL) -> bytes:
    parts = [f"{COOKIE}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode()


def clear_cookie_header(*, secure: bool) -> bytes:
    return cookie_header("", secure=secure, max_age=0)


def cookie_value(header: str) -> str:
    """Our cookie's value in a Cookie request header ('' if absent)."""
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value.strip()
    return ""
