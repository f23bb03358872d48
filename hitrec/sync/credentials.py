"""Hub credentials: ``$XDG_CONFIG_HOME/hitrec/credentials`` (default ``~/.config``), mode 0600.

One JSON object mapping a hub URL (an origin like ``http://host:8642`` or a collaboration URL) to
``{"user": ..., "token": ...}``. The longest stored URL that is a prefix of a remote's URL wins.

Where credentials come from, first found wins (:func:`lookup`):
1. the URL's own ``user:token@``;
2. ``HITREC_TOKEN``, with the user name from ``HITREC_USER``, else the URL's user, else the stored one;
3. the credentials file;
4. git's credential helpers (``git credential fill`` with the remote URL, no prompt), as git and git-lfs
   use them; the answer is confirmed with ``git credential approve`` once the host accepts it, and
   withdrawn with ``git credential reject`` when it says 401 (:func:`confirm`).
A token with no user name known is sent as ``Authorization: Bearer`` (as git-lfs does for a bearer
credential), never as Basic with an invented name: a Git host checks the name. Tokens are never
printed: ``Auth``'s repr hides them and every error message passes through :func:`Auth.scrub`.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hitrec.errors import SyncError
from hitrec.private import make_private_dirs
from hitrec.sync.remotes import UrlCredentials, split_url


@dataclass(frozen=True)
class Auth:
    user: str | None
    token: str = field(repr=False)
    source: str = "hitrec"  # "git-credential": from git's helpers, confirmed or withdrawn there
    url: str = ""  # what the helper was asked about

    def header(self) -> str:
        if not self.user:
            return f"Bearer {self.token}"
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


def lookup(url: str, from_url: UrlCredentials | None = None, *, git_dir: Path | None = None,
           helpers: bool = True) -> Auth | None:
    """Credentials for a remote URL (see the module doc for the order)."""
    if from_url and from_url.token:
        return Auth(from_url.user or None, from_url.token)
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
        return Auth(user or None, env_token)
    if entry and entry.get("token"):
        return Auth((from_url.user if from_url and from_url.user else None) or stored_user or None,
                    entry["token"])
    if helpers:
        return _fill(clean, from_url.user if from_url else None, git_dir)
    return None


# -- git's credential helpers ------------------------------------------------------------------------


def _git_credential(action: str, description: str, git_dir: Path | None) -> str | None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_TRACE")}
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "", "GCM_INTERACTIVE": "never"})
    env.pop("GIT_DIR", None)
    if git_dir is not None:
        env["GIT_DIR"] = str(git_dir)  # the repo's own credential.helper settings count too
    try:
        done = subprocess.run(["git", "credential", action], input=description, env=env,
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _fill(url: str, user: str | None, git_dir: Path | None) -> Auth | None:
    """What git's credential helpers hold for a URL (never prompting), or None."""
    description = f"url={url}\n" + (f"username={user}\n" if user else "") + "\n"
    answer = _git_credential("fill", description, git_dir)
    if not answer:
        return None
    fields = dict(line.split("=", 1) for line in answer.splitlines() if "=" in line)
    if not fields.get("password"):
        return None
    return Auth(fields.get("username") or None, fields["password"], source="git-credential", url=url)


def confirm(auth: Auth | None, accepted: bool, git_dir: Path | None = None) -> None:
    """Tell git's helpers whether the credentials they gave worked (``approve``) or not (``reject``),
    as git does after a request; credentials from anywhere else are left alone."""
    if auth is None or auth.source != "git-credential":
        return
    description = f"url={auth.url}\n" + (f"username={auth.user}\n" if auth.user else "")
    description += f"password={auth.token}\n\n"
    _git_credential("approve" if accepted else "reject", description, git_dir)
