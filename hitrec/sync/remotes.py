"""Remotes: named hub URLs kept in the repo's git config (``[remote "origin"] url = ...``).

A URL given with credentials (``http://user:token@host/name.git``) is split here: the clean URL is
what gets stored and printed, the credentials travel only in headers.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from hitrec.errors import RemoteError, UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DEFAULT_REMOTE = "origin"


@dataclass(frozen=True)
class Remote:
    name: str
    url: str  # never carries credentials


@dataclass(frozen=True)
class UrlCredentials:
    user: str | None
    token: str | None


def split_url(url: str) -> tuple[str, UrlCredentials]:
    """Return the URL without any ``user:token@`` part, and the credentials it carried."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"not a hub URL: {redact_url(url)!r}. Give one like http://127.0.0.1:8642/name.git")
    user = unquote(parts.username) if parts.username else None
    token = unquote(parts.password) if parts.password else None
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    clean = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), parts.query, ""))
    return clean, UrlCredentials(user, token)


def redact_url(url: str) -> str:
    """The URL with anything between ``//`` and ``@`` removed: safe to print."""
    return re.sub(r"(?<=//)[^/@\s]*@", "", url)


def with_credentials(url: str, user: str, token: str) -> str:
    """A URL carrying credentials (only ever handed to a child process's memory, never printed)."""
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(token, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def name_from_url(url: str) -> str:
    """The folder name `clone` picks for a URL: its last path part without ``.git``."""
    last = urlsplit(url).path.rstrip("/").rpartition("/")[2]
    if last.endswith(".git"):
        last = last[:-4]
    return last or "collaboration"


def _config_path(git_dir: Path) -> Path:
    return Path(git_dir) / "config"


def _git_config(git_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "config", "--file", str(_config_path(git_dir)), *args],
                          capture_output=True, text=True)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"bad remote name {name!r}: use letters, digits, '.', '_' or '-'")
    return name


def add_remote(git_dir: Path, name: str, url: str, *, replace: bool = False) -> Remote:
    """Record a remote; the URL is stored without its token. A user name in it is kept, as git keeps
    it (``http://alice@host/x.git``): a token given without a user is sent for that user."""
    check_name(name)
    clean, creds = split_url(url)
    if not replace and get_remote_url(git_dir, name) is not None:
        raise UsageError(f"remote {name!r} already exists. Use `--replace` to point it elsewhere.")
    stored = clean
    if creds.user:
        parts = urlsplit(clean)
        stored = urlunsplit((parts.scheme, f"{quote(creds.user, safe='')}@{parts.netloc}", parts.path,
                             parts.query, ""))
    done = _git_config(git_dir, f"remote.{name}.url", stored)
    if done.returncode != 0:
        raise RemoteError(f"could not write remote {name!r} to {_config_path(git_dir)}: "
                          f"{done.stderr.strip()}")
    return Remote(name, clean)


def get_remote_url(git_dir: Path, name: str) -> str | None:
    for remote in list_remotes(git_dir):
        if remote.name == name:
            return remote.url
    return None


def list_remotes(git_dir: Path) -> list[Remote]:
    from dulwich.config import ConfigFile

    path = _config_path(git_dir)
    if not path.exists():
        return []
    config = ConfigFile.from_path(str(path))
    remotes = []
    for section in config.sections():
        if len(section) == 2 and section[0] == b"remote":
            try:
                url = config.get(section, b"url")
            except KeyError:
                continue
            remotes.append(Remote(section[1].decode(), redact_url(url.decode())))
    return sorted(remotes, key=lambda r: r.name)


def resolve_remote(git_dir: Path, remote: str | None) -> tuple[str, str, UrlCredentials]:
    """Turn a remote name or URL into (name, clean URL, credentials found in the URL)."""
    remote = remote or DEFAULT_REMOTE
    if "://" in remote:
        clean, creds = split_url(remote)
        for known in list_remotes(git_dir):
            if known.url == clean:
                return known.name, clean, creds
        return _url_ref_name(clean), clean, creds
    url = _stored_url(git_dir, remote)
    if url is None:
        names = ", ".join(r.name for r in list_remotes(git_dir)) or "none"
        raise UsageError(f"no remote named {remote!r} (known: {names}). "
                         f"Add one with `hitrec remote add {remote} URL`.")
    clean, creds = split_url(url)
    return remote, clean, creds


def _stored_url(git_dir: Path, name: str) -> str | None:
    """A remote's URL as stored (a user name in it included), or None."""
    from dulwich.config import ConfigFile

    path = _config_path(git_dir)
    if not path.exists():
        return None
    try:
        return ConfigFile.from_path(str(path)).get((b"remote", name.encode()), b"url").decode()
    except KeyError:
        return None


def _url_ref_name(url: str) -> str:
    """A ref-safe name for a remote given only by URL (for its remote-tracking ref)."""
    import hashlib

    return "url-" + hashlib.sha256(url.encode()).hexdigest()[:12]


# -- where a remote keeps its media (git-lfs's lfs.url) ---------------------------------------------


def lfs_url(git_dir: Path, remote: str, lfsconfig: bytes | None = None) -> str | None:
    """The LFS server a remote's media lives on when it is not ``<url>/info/lfs``, as git-lfs finds it:
    ``lfs.url``, then ``remote.<name>.lfsurl``; each from the git config (the repo's, then the user's)
    before the collaboration's ``.lfsconfig`` (``lfsconfig``: its bytes, from the catalog's tree)."""
    from io import BytesIO

    from dulwich.config import ConfigFile

    configs: list[ConfigFile] = []
    home = Path.home()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    for path in (_config_path(git_dir), home / ".gitconfig", xdg / "git" / "config"):
        try:
            configs.append(ConfigFile.from_path(str(path)))
        except (OSError, ValueError):
            continue
    if lfsconfig:
        with contextlib.suppress(ValueError, KeyError):
            configs.append(ConfigFile.from_file(BytesIO(lfsconfig)))
    for section, key in (((b"lfs",), b"url"), ((b"remote", remote.encode()), b"lfsurl")):
        for config in configs:
            try:
                value = config.get(section, key).decode().strip()
            except KeyError:
                continue
            if value:
                clean, _ = split_url(value)
                return clean
    return None


# A remote cloned or pulled with --no-media: its later pulls fetch records only, and media comes on
# demand (hitrec.sync.fetch). Kept in the repo's git config as ``remote.<name>.hitrecmedia = ondemand``.
MEDIA_KEY = "hitrecmedia"


def media_on_demand(git_dir: Path, name: str) -> bool:
    """Whether pulls from remote ``name`` leave media to be fetched on demand."""
    from dulwich.config import ConfigFile

    path = _config_path(git_dir)
    if not path.exists():
        return False
    try:
        value = ConfigFile.from_path(str(path)).get((b"remote", name.encode()), MEDIA_KEY.encode())
    except KeyError:
        return False
    return value.decode().strip().lower() == "ondemand"


def set_media_on_demand(git_dir: Path, name: str, on_demand: bool) -> None:
    if media_on_demand(git_dir, name) == on_demand:
        return
    args = [f"remote.{name}.{MEDIA_KEY}", "ondemand"] if on_demand else ["--unset", f"remote.{name}.{MEDIA_KEY}"]
    done = _git_config(git_dir, *args)
    if done.returncode not in (0, 5):  # 5: --unset of a key that is not there
        raise RemoteError(f"could not write remote {name!r} to {_config_path(git_dir)}: {done.stderr.strip()}")
