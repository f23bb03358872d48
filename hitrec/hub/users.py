"""Hub users and their tokens.

Tokens are random (256 bits), shown once, and stored only as SHA-256 hashes in ``<root>/users.json``
(mode 0600). The server re-reads the file whenever it changes on disk, so adding or revoking a user
with ``hitrec hub user ...`` takes effect at once, even while the hub is running.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hitrec.errors import HubError
from hitrec.hub.names import check_email, check_user_name
from hitrec.private import make_private_dirs

USERS_FILE = "users.json"
TOKEN_PREFIX = "hrt_"


@dataclass(frozen=True)
class User:
    name: str
    email: str
    created: str
    revoked: bool = False

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "email": self.email, "created": self.created, "revoked": self.revoked}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserStore:
    """The users of one hub root. Safe to share between threads; writers take a file lock."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / USERS_FILE
        self._mutex = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._users: dict[str, dict[str, object]] = {}
        self._by_hash: dict[str, str] = {}

    # -- reading (the server) ------------------------------------------------------------------
    def authenticate(self, token: str) -> User | None:
        """The active user holding ``token``, or None. Re-reads the file if it changed."""
        if not token:
            return None
        digest = hash_token(token)
        with self._mutex:
            self._refresh()
            name = self._by_hash.get(digest)
            if name is None:
                return None
            record = self._users[name]
            stored = str(record.get("token_sha256", ""))
            if record.get("revoked") or not hmac.compare_digest(stored, digest):
                return None
            return _user(name, record)

    def active(self, name: str) -> tuple[User, str] | None:
        """An active user and the digest of their current token (what action tokens are bound to)."""
        with self._mutex:
            self._refresh()
            record = self._users.get(name)
            digest = str(record.get("token_sha256", "")) if record is not None else ""
            if record is None or record.get("revoked") or not digest:
                return None
            return _user(name, record), digest

    def get(self, name: str) -> User | None:
        with self._mutex:
            self._refresh()
            record = self._users.get(name)
            return _user(name, record) if record is not None else None

    def list(self) -> list[User]:
        with self._mutex:
            self._refresh()
            return [_user(name, record) for name, record in sorted(self._users.items())]

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._users, self._by_hash = None, {}, {}
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        users = self._read()
        self._users = users
        self._by_hash = {
            str(r["token_sha256"]): n for n, r in users.items() if r.get("token_sha256") and not r.get("revoked")
        }
        self._stamp = stamp

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise HubError(f"cannot read the hub's user file {self.path}: {exc}") from exc
        users = data.get("users", {}) if isinstance(data, dict) else {}
        return {str(k): dict(v) for k, v in users.items() if isinstance(v, dict)}

    # -- writing (the CLI) ---------------------------------------------------------------------
    def add(self, name: str, email: str) -> tuple[User, str]:
        """Create a user; returns the user and their new token (shown once, stored hashed)."""
        check_user_name(name)
        check_email(email)
        with self._locked() as users:
            if name in users and not users[name].get("revoked"):
                raise HubError(
                    f"hub user {name!r} already exists. Use `hitrec hub user token {name}` for a new "
                    "token, or revoke the user first."
                )
            token = _new_token()
            users[name] = {
                "email": email,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "revoked": False,
                "token_sha256": hash_token(token),
            }
            return _user(name, users[name]), token

    def new_token(self, name: str) -> str:
        """Replace a user's token (the old one stops working at once) and return the new one."""
        with self._locked() as users:
            record = self._existing(users, name)
            token = _new_token()
            record["token_sha256"] = hash_token(token)
            record["revoked"] = False
            return token

    def revoke(self, name: str) -> User:
        """Revoke a user's token: every request with it is refused from now on."""
        with self._locked() as users:
            record = self._existing(users, name)
            record["revoked"] = True
            record["token_sha256"] = ""
            return _user(name, record)

    @staticmethod
    def _existing(users: dict[str, dict[str, object]], name: str) -> dict[str, object]:
        if name not in users:
            raise HubError(f"no hub user named {name!r}. Run `hitrec hub user list` to see them.")
        return users[name]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, object]]]:
        make_private_dirs(self.root)
        lock_path = self.root / (USERS_FILE + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            users = self._read()
            yield users
            self._write(users)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write(self, users: dict[str, dict[str, object]]) -> None:
        tmp = self.path.with_name(f".{USERS_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": 1, "users": users}, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                _stamp_after(fh.fileno(), self.path)
                os.fsync(fh.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, self.path)


def _stamp_after(fd: int, path: Path) -> None:
    """Give the new users file a modification time later than the one it replaces. Every hub process
    re-reads the file when its (inode, mtime, size) changes; the kernel's file clock ticks only every
    few milliseconds and an inode number is reused once freed, so two quick writes of the same size
    (revoke ada, revoke bob) could otherwise repeat a stamp a process had already read, and that
    process would keep the older users (a revoked token still working there)."""
    try:
        previous = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return
    now = max(time.time_ns(), os.fstat(fd).st_mtime_ns)
    if now <= previous:
        now = previous + 1_000  # a microsecond: what every file system we serve from keeps
    os.utime(fd, ns=(now, now))


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _user(name: str, record: dict[str, object]) -> User:
    return User(
        name=name,
        email=str(record.get("email", "")),
        created=str(record.get("created", "")),
        revoked=bool(record.get("revoked", False)),
    )
