"""The local repo: fragment records (dulwich), the media object store, the catalog, the index, locking.

The names below load on first use, so a light reader (the hub's hook importing ``hitrec.store.format``)
does not pay for the whole store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hitrec.store.model import Fragment, FragmentSpec, MediaInfo, Person, RecordResult
    from hitrec.store.repo import Repo

__all__ = ["Fragment", "FragmentSpec", "MediaInfo", "Person", "RecordResult", "Repo"]
_HOMES = {"Fragment": "model", "MediaInfo": "model", "Person": "model",
          "FragmentSpec": "model", "RecordResult": "model", "Repo": "repo"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'hitrec.store' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"hitrec.store.{home}"), name)
