"""Settings and identity, read like git's: environment, then the repo, then the user's, then git's."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from hitrec.errors import IdentityError, RepoError, UsageError
from hitrec.store.model import Person

KNOWN_KEYS = {
    "user.name": "your name, recorded as the author of your fragments",
    "user.email": "your e-mail: how credits know you",
    "fragment.license": "the licence of new fragments (SPDX id, default CC-BY-4.0)",
    "credits.editor_share": "share of a remix kept by its editor (default 0.2)",
    "credits.derivative_share": "share of a derivative kept by its author (default 0.5)",
    "cache.max-size": "size limit of the render cache, segments and sounds (default 2G; e.g. 500M)",
}
KEY_RE = re.compile(r"^[a-z][a-z0-9-]*(\.[^\s.]+)?\.[a-z][a-z0-9_-]*$", re.IGNORECASE)


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hitrec" / "config"


def split_key(key: str) -> tuple[tuple[bytes, ...], bytes]:
    if not KEY_RE.match(key):
        raise UsageError(f"config key {key!r} is not of the form section.name (e.g. user.email)")
    parts = key.split(".")
    # git config names allow letters, digits and '-' only: `credits.editor_share` (the timeline's
    # spelling) is stored as `[credits] editor-share`, so git and dulwich can still read the file.
    name = parts[-1].replace("_", "-").encode()
    if len(parts) == 2:
        return (parts[0].encode(),), name
    return (parts[0].encode(), ".".join(parts[1:-1]).encode()), name


def read_value(path: Path, key: str) -> str | None:
    if not path.is_file():
        return None

    section, name = split_key(key)
    try:
        return _load(path).get(section, name).decode()
    except KeyError:
        return None


def _load(path: Path) -> Any:
    from dulwich.config import ConfigFile

    try:
        return ConfigFile.from_path(str(path))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RepoError(f"{path} is not a valid config file ({exc}); fix or remove the offending line") from exc


def write_value(path: Path, key: str, value: str | None) -> None:
    """Set (or with ``None`` remove) ``key`` in a git-config-format file, atomically."""
    from dulwich.config import ConfigFile

    section, name = split_key(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = _load(path) if path.is_file() else ConfigFile()
    if value is None:
        try:
            del config[section][name]
        except KeyError:
            return
    else:
        config.set(section, name, value.encode())
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        config.write_to_file(f)
    os.replace(tmp, path)


def git_config_paths() -> list[Path]:
    """git's global config files, most important first, as git finds them: ``GIT_CONFIG_GLOBAL`` alone
    when it is set (``/dev/null`` or an empty value: none), else ``~/.gitconfig`` then the XDG file."""
    forced = os.environ.get("GIT_CONFIG_GLOBAL")
    if forced is not None:
        return [Path(forced)] if forced and forced != os.devnull else []
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path.home() / ".gitconfig", Path(base) / "git" / "config"]


def lookup(key: str, repo_config: Path | None) -> str | None:
    """A setting from the repo's config, then the user's hitrec config."""
    for path in ([repo_config] if repo_config else []) + [user_config_path()]:
        value = read_value(path, key)
        if value is not None:
            return value
    return None


def identity(repo_config: Path | None) -> Person:
    name = os.environ.get("HITREC_AUTHOR_NAME") or lookup("user.name", repo_config)
    email = os.environ.get("HITREC_AUTHOR_EMAIL") or lookup("user.email", repo_config)
    for path in git_config_paths():
        name = name or read_value(path, "user.name")
        email = email or read_value(path, "user.email")
    if not name or not email:
        raise IdentityError(
            "who are you? Set your name and e-mail once: "
            '`hitrec config --global user.name "Your Name"` and '
            "`hitrec config --global user.email you@example.org`"
        )
    if "<" in name or ">" in name or "<" in email or ">" in email or "\n" in name + email:
        raise IdentityError(f"user name or e-mail contains '<', '>' or a newline: {name!r} {email!r}")
    return Person(name.strip(), email.strip())
