"""Gallery sessions: stateless, HMAC-signed cookies, so any number of hub processes on one root agree.

    hrs_<expiry>_<user>_<token id>_<nonce>_<mac>
    mac = HMAC-SHA256(session key, user, token id, expiry, nonce)

The nonce (random, per login) makes each login's cookie its own, so logging out of one (below) does
not end a login made again in the same second.

The token id is the first 16 hex digits of the SHA-256 of the user's token (never the token). The
session key is derived from the hub's action key (``<root>/action-key``, 0600, made atomically on first
use by hitrec.hub.actions), so every process serving a root shares it with no state of its own. Each
request checks the signature, the expiry, and that the user's current token still has that id in the
hub's UserStore: revoking the user or giving them a new token ends their sessions in every process.
Logging out ends that one session everywhere too: its MAC is written to ``<root>/.sessions-ended/``
(an empty file whose mtime is the session's expiry, swept once that has passed), which each check
consults, so a copied cookie stops working at logout and not only when it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from hitrec.hub.names import is_user_name
from hitrec.hub.users import User, UserStore

PREFIX = "hrs_"
COOKIE = "hitrec_session"
TTL = 12 * 3600
TOKEN_ID_LENGTH = 16
NONCE_LENGTH = 16


def session_key(action_key: bytes) -> bytes:
    """The key sessions are signed with: the action key's, separated from its other use."""
    return hmac.new(action_key, b"hitrec gallery session v1", hashlib.sha256).digest()


def token_id(digest: str) -> str:
    """What a session remembers of a token: a prefix of its SHA-256 (hitrec.hub.users.hash_token)."""
    return digest[:TOKEN_ID_LENGTH]


def _mac(key: bytes, user: str, tid: str, expiry: int, nonce: str) -> str:
    return hmac.new(key, f"{user}\n{tid}\n{expiry}\n{nonce}".encode(), hashlib.sha256).hexdigest()


def mint(key: bytes, user: str, digest: str, *, now: float | None = None, ttl: int = TTL) -> str:
    expiry = int(now if now is not None else time.time()) + ttl
    tid = token_id(digest)
    nonce = secrets.token_hex(NONCE_LENGTH // 2)
    return f"{PREFIX}{expiry}_{user}_{tid}_{nonce}_{_mac(key, user, tid, expiry, nonce)}"


@dataclass(frozen=True)
class Session:
    user: User
    expiry: int


def check(key: bytes, cookie: str, users: UserStore, *, now: float | None = None,
          ended: Path | None = None) -> Session | None:
    """The session a cookie value carries, if its signature holds, it has not expired, it was not
    logged out of (``ended``: the folder of ended sessions) and its user's current token is still the
    one it was made with; else None."""
    if not cookie.startswith(PREFIX):
        return None
    expiry_text, _, rest = cookie[len(PREFIX):].partition("_")
    rest, _, mac = rest.rpartition("_")
    rest, _, nonce = rest.rpartition("_")
    user, _, tid = rest.rpartition("_")
    if not (expiry_text.isascii() and expiry_text.isdigit()) or len(expiry_text) > 12 or not is_user_name(user) \
            or len(tid) != TOKEN_ID_LENGTH or len(nonce) != NONCE_LENGTH or len(mac) != 64:
        return None
    expiry = int(expiry_text)
    if expiry < (now if now is not None else time.time()):
        return None
    if not hmac.compare_digest(mac, _mac(key, user, tid, expiry, nonce)):
        return None
    if ended is not None and (ended / mac).exists():
        return None  # logged out
    found = users.active(user)
    if found is None or not hmac.compare_digest(token_id(found[1]), tid):
        return None  # revoked, or a new token since
    return Session(found[0], expiry)


def end(ended: Path, cookie: str, expiry: int, *, now: float | None = None) -> None:
    """Log session ``cookie`` (already checked) out in every process: its MAC into folder ``ended``,
    which keeps it until ``expiry``; sessions ended earlier and expired since are swept."""
    ended.mkdir(mode=0o700, exist_ok=True)
    mark = ended / cookie.rpartition("_")[2]
    mark.touch()
    os.utime(mark, (expiry, expiry))
    moment = now if now is not None else time.time()
    for old in ended.iterdir():
        try:
            if old.stat().st_mtime < moment:
                old.unlink()
        except FileNotFoundError:
            pass  # another process swept it


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
