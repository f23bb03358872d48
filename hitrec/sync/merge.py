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
    from hitrec.store import Repo


def _is_catalog_commit(commit: object) -> bool:
    return bytes(getattr(commit, "message", b"")).startswith(b"catalog:")


def is_catalog_ancestor(repo: Repo, ancestor: str, descendant: str) -> bool:
    """Whether catalog commit ``ancestor`` is reachable from ``descendant`` through catalog commits."""
    store = repo.dulwich.object_store
    target = ancestor.encode()
    seen: set[bytes] = set()
    todo = [descendant.encode()]
    while todo:
        sha = todo.pop()
        if sha == target:
            return True
        if sha in seen:
            continue
        seen.add(sha)
        for parent in store[sha].parents:
            if parent not in seen and parent in store and _is_catalog_commit(store[parent]):
                todo.append(parent)
    return False


def union_commit(repo: Repo, ours: str, theirs: str) -> str:
    """``theirs`` if it already holds ``ours``; ``ours`` if it holds ``theirs``; else a new merge commit
    (parents: ours, theirs) whose tree is the union of both catalogs. Moves no ref."""
    from hitrec.store.records import build_catalog_commit, catalog_tree_with, now_and_tz

    if ours == theirs or is_catalog_ancestor(repo, ours, theirs):
        return theirs
    if is_catalog_ancestor(repo, theirs, ours):
        return ours
    store = repo.dulwich.object_store
    added = repo.fragment_ids_between(theirs, ours)
    tree_id, objects = catalog_tree_with(store, store[ours.encode()].tree,
                                         {fid: store[fid.encode()].tree for fid in added})
    when, tz = now_and_tz()
    commit = build_catalog_commit(tree_id=tree_id, parents=[ours.encode(), theirs.encode()],
                                  author=repo.identity(), when=when, tz=tz,
                                  message=f"catalog: merge {theirs[:12]}\n")
    for obj in [*objects, commit]:
        store.add_object(obj)
    return commit.id.decode()
