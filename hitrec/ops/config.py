"""`hitrec config`: read, set, unset and list settings (the repo's, or with ``global_`` the user's).

Identity works like git's: HITREC_AUTHOR_NAME/EMAIL, then the repo's config, then the user's, then git's
own user.name/user.email (see hitrec.store.config).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitrec.errors import NotARepoError, UsageError


@dataclass
class Setting:
    key: str
    value: str | None  # None: unset
    meaning: str = ""


@dataclass
class ConfigResult:
    """The settings read (one for a get, every known one for a list), or the one set or unset."""

    settings: list[Setting] = field(default_factory=list)
    written: Path | None = None  # the config file a set or unset changed

    def to_json(self) -> dict[str, Any]:
        return {s.key: s.value for s in self.settings}


def config(key: str | None = None, value: str | None = None, *, global_: bool = False, unset: bool = False,
           list_: bool = False, start: Path | None = None) -> ConfigResult:
    """Outside a repo only the user's settings can be changed; reading works anywhere."""
    from hitrec.store import Repo
    from hitrec.store import config as cfg

    path = cfg.user_config_path()
    repo_path = None
    if not global_:
        try:
            repo = Repo.find(start)
        except NotARepoError:
            if value is not None or unset:
                raise
        else:
            path = repo_path = repo.config_path
            repo.close()
    if list_ or key is None:
        return ConfigResult([Setting(known, cfg.lookup(known, repo_path), meaning)
                             for known, meaning in cfg.KNOWN_KEYS.items()])
    check_key(key)
    if unset:
        cfg.write_value(path, key, None)
        return ConfigResult([Setting(key, None)], written=path)
    if value is not None:
        check_value(key, value)
        cfg.write_value(path, key, value)
        return ConfigResult([Setting(key, value)], written=path)
    current = cfg.lookup(key, repo_path) if not global_ else cfg.read_value(path, key)
    return ConfigResult([Setting(key, current, cfg.KNOWN_KEYS.get(key, ""))])


def check_key(key: str) -> None:
    """A known setting or a remote's; a typo gets the nearest known key."""
    from hitrec.store.config import KNOWN_KEYS

    if key in KNOWN_KEYS or key.startswith("remote."):
        return
    close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(KNOWN_KEYS)}"
    raise UsageError(f"unknown setting {key!r}{hint}")


def check_value(key: str, value: str) -> None:
    if key.startswith("credits.") and not _is_fraction(value):
        raise UsageError(f"{key} must be a number between 0 and 1, not {value!r}")
    if key == "cache.max-size":
        from hitrec.render.segment_cache import parse_size

        parse_size(value)


def _is_fraction(value: str) -> bool:
    try:
        return 0 <= float(value) <= 1
    except ValueError:
        return False
