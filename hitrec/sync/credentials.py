"""Hub credentials: ``$XDG_CONFIG_HOME/hitrec/credentials`` (default ``~/.config``), mode 0600.

One JSON object mapping a hub URL (an origin like ``http://host:8642`` or a collaboration URL) to
``{"user": ..., "token": ...}``. The longest stored URL that is a prefix of a remote's URL wins.
``HITREC_TOKEN`` (with ``HITREC_USER``) overrides the file. Tokens are never printed: ``Auth``'s
repr hides them and every error message passes through :func:`Auth.scrub`.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hitrec.errors import SyncError
from hitrec.private import make_private_dirs
from hitrec.sync.remotes import UrlCredentials, split_url


@dataclass(frozen=True)
class Auth:
    user: str
    token: str = field(repr=False)

    def header(self) -> str:
        raw = f"{self.user}:{self.token}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def scrub(self, text: str) -> str:
        """Remove the token (and its encodings) from any text before it reaches a user."""
        for secret in (self.token, self.header(), self.header().split(" ", 1)[1]):
            if secret:
                text = text.replace(secret, "***")
        return text


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hitrec" / "credentials"


def _load() -> dict[str, dict[str, str]]:
    path = credentials_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SyncError(f"cannot read {path}: {exc.__class__.__name__}. "
                        "Delete it and run `hitrec login` again.") from exc
    return data if isinstance(data, dict) else {}


def _key(url: str) -> str:
    clean, _ = split_url(url)
    return clean.rstrip("/")


def store(url: str, user: str, token: str) -> Path:
    """Save credentials for a hub (or one collaboration on it), atomically, readable only by you."""
    path = credentials_path()
    make_private_dirs(path.parent)
    data = _load()
    data[_key(url)] = {"user": user, "token": token}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)
    return path


def forget(url: str) -> bool:
    data = _load()
    if data.pop(_key(url), None) is None:
        return False
    path = credentials_path()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return True


def _prefix_match(stored: str, url: str) -> bool:
    return url == stored or url.startswith(stored + "/")


def lookup(url: str, from_url: UrlCredentials | None = None) -> Auth | None:
    """Credentials for a remote URL: the URL's own, then HITREC_TOKEN, then the credentials file."""
    if from_url and from_url.token:
        return Auth(from_url.user or "hitrec", from_url.token)
    clean = _key(url)
    stored_user = None
    best = ""
    entry: dict[str, str] | None = None
    for key, value in _load().items():
        if _prefix_match(key.rstrip("/"), clean) and len(key) > len(best) and isinstance(value, dict):
            best, entry = key, value
    if entry:
        stored_user = entry.get("user")
    env_token = os.environ.get("HITREC_TOKEN")
    if env_token:
        user = os.environ.get("HITREC_USER") or (from_url.user if from_url else None) or stored_user
        return Auth(user or "hitrec", env_token)
    if entry and entry.get("token"):
        return Auth((from_url.user if from_url and from_url.user else None) or stored_user or "hitrec",
                    entry["token"])
    return None
