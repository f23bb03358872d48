"""A union of two catalogs as a commit in the object store, without moving any ref.

A push that lost the race for the hub's catalog needs a commit containing both its fragments and the
hub's, *now*: the longer it takes, the likelier someone else moves the hub again (16 clients pushing at
once livelocked when every retry first downloaded the others' media). So the push builds the same
union merge ``Repo.merge_catalog`` would, pushes it, and only then pulls: the local catalog moves after
the others' media has arrived, as always.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


from hitrec.store.writer import is_catalog_ancestor, union_commit

__all__ = ["is_catalog_ancestor", "union_commit"]
