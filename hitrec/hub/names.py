"""Validation of every name that reaches a path on the hub: collaborations, users, LFS oids.

Anything that does not match is refused before it is joined to a path, so no request can leave the
hub's root.
"""

from __future__ import annotations

import re

from hitrec.errors import HubError
from hitrec.store.format import is_oid  # the one definition of a Git LFS oid

__all__ = ["check_collaboration_name", "check_email", "check_user_name", "is_collaboration_name",
           "is_email", "is_oid", "is_user_name"]

_COLLABORATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}(?:\.[A-Za-z0-9_-]{1,63}){0,3}")
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_EMAIL = re.compile(r"[^\s<>@]{1,128}@[^\s<>@]{1,255}")


def is_collaboration_name(name: str) -> bool:
    """``team-film``, ``film.2026``: letters, digits, ``_``, ``-``, inner dots; no ``..``, no ``/``."""
    return bool(_COLLABORATION.fullmatch(name)) and not name.lower().endswith(".git")


def is_user_name(name: str) -> bool:
    return bool(_USER.fullmatch(name))


def is_email(email: str) -> bool:
    return bool(_EMAIL.fullmatch(email))


def check_collaboration_name(name: str) -> str:
    if not is_collaboration_name(name):
        raise HubError(
            f"invalid collaboration name {name!r}: use letters, digits, '-', '_' and inner dots "
            "(at most 64 characters per part), without a '.git' suffix"
        )
    return name


def check_user_name(name: str) -> str:
    if not is_user_name(name):
        raise HubError(
            f"invalid user name {name!r}: use letters, digits, '.', '_' and '-' (at most 64 characters)"
        )
    return name


def check_email(email: str) -> str:
    if not is_email(email):
        raise HubError(f"invalid e-mail address {email!r}: give one like name@example.org")
    return email
