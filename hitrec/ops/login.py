"""`hitrec login`: check a hub token and save it in ~/.config/hitrec/credentials (0600)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec.errors import UsageError
from hitrec.sync import credentials
from hitrec.sync.remotes import split_url


@dataclass
class LoginResult:
    url: str  # the hub or collaboration the token is for, without credentials
    user: str
    path: Path  # where it was saved

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "user": self.user, "path": str(self.path)}


def login(url: str, user: str, token: str | None) -> LoginResult:
    """Save ``token`` (or the one in ``url``) for ``user`` at ``url``; a collaboration's URL is checked
    first, so a token the hub refuses is not stored (a missing collaboration is fine: push creates it)."""
    from hitrec.sync.git import list_refs
    from hitrec.sync.http import Http

    clean, in_url = split_url(url)
    token = (token or in_url.token or "").strip()
    if not token:
        raise UsageError("no token given: paste the one `hitrec hub user add` printed, or set HITREC_TOKEN")
    if clean.endswith(".git"):
        with Http() as http:
            list_refs(http, clean, credentials.Auth(user, token))
    return LoginResult(clean, user, credentials.store(clean, user, token))
