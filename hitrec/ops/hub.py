"""`hitrec hub create|set|list` and `hitrec hub user add|token|list|revoke`: a hub's collaborations and
users, on the hub's folder (``root``). Serving is `hitrec hub serve` (hitrec.hub.server)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec.hub import repos
from hitrec.hub.users import User, UserStore


@dataclass
class Collaboration:
    name: str
    path: Path  # its bare git folder, <root>/<name>.git
    author_check: bool  # whether fragments not authored by the pusher are refused


@dataclass
class HubCreateResult:
    collaboration: Collaboration

    def to_json(self) -> dict[str, Any]:
        c = self.collaboration
        return {"name": c.name, "path": str(c.path), "author_check": c.author_check}


@dataclass
class HubSetResult:
    collaboration: Collaboration

    def to_json(self) -> dict[str, Any]:
        return {"name": self.collaboration.name, "author_check": self.collaboration.author_check}


@dataclass
class HubListResult:
    collaborations: list[Collaboration]

    def to_json(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "author_check": c.author_check} for c in self.collaborations]


@dataclass
class HubUserResult:
    """One user after a change; ``token`` is their new token when the change made one (shown once)."""

    user: User
    token: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = dict(self.user.to_json())
        if self.token is not None:
            data["token"] = self.token
        return data


@dataclass
class HubTokenResult:
    name: str
    token: str  # shown once: the hub keeps only its hash

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "token": self.token}


@dataclass
class HubUsersResult:
    users: list[User]

    def to_json(self) -> list[dict[str, Any]]:
        return [dict(u.to_json()) for u in self.users]


def create(root: Path, name: str, *, author_check: bool = True) -> HubCreateResult:
    """Create an empty collaboration (a first push by a hub user creates one too)."""
    path = repos.create(root, name, author_check=author_check)
    return HubCreateResult(Collaboration(name, path, author_check))


def set_author_check(root: Path, name: str, author_check: bool) -> HubSetResult:
    repos.set_author_check(root, name, author_check)
    return HubSetResult(Collaboration(name, repos.collaboration_path(root, name), author_check))


def list_collaborations(root: Path) -> HubListResult:
    found = []
    for name in repos.list_collaborations(root):
        path = repos.collaboration_path(root, name)
        found.append(Collaboration(name, path, repos.author_check(path)))
    return HubListResult(found)


def add_user(root: Path, name: str, email: str) -> HubUserResult:
    user, token = UserStore(root).add(name, email)
    return HubUserResult(user, token)


def new_token(root: Path, name: str) -> HubTokenResult:
    return HubTokenResult(name, UserStore(root).new_token(name))


def list_users(root: Path) -> HubUsersResult:
    return HubUsersResult(UserStore(root).list())


def revoke_user(root: Path, name: str) -> HubUserResult:
    return HubUserResult(UserStore(root).revoke(name))
