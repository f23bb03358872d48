"""`hitrec lineage`: what a fragment was made from, and what was made from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hitrec.store import Fragment, Repo


@dataclass
class LineageNode:
    fragment: Fragment
    links: list[LineageNode] = field(default_factory=list)
    repeated: bool = False  # already shown elsewhere in this tree (a diamond)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.fragment.id, "title": self.fragment.title, "kind": self.fragment.kind,
                "author": str(self.fragment.author), "repeated": self.repeated,
                "links": [link.to_json() for link in self.links]}


@dataclass
class Lineage:
    fragment: Fragment
    sources: list[LineageNode]  # up the tree: parents, their parents, ...
    remixed_by: list[LineageNode]  # down the tree: children, their children, ...

    def to_json(self) -> dict[str, Any]:
        return {"fragment": self.fragment.to_json(),
                "sources": [n.to_json() for n in self.sources],
                "remixed_by": [n.to_json() for n in self.remixed_by]}


def lineage(repo: Repo, ref: str, *, depth: int | None = None) -> Lineage:
    fragment = repo.fragment(ref)
    index = repo.index

    def walk(fid: str, step: Any, seen: set[str], level: int) -> list[LineageNode]:
        nodes = []
        if depth is not None and level >= depth:
            return nodes
        for linked_id in step(fid):
            linked = index.get(linked_id)
            if linked is None:
                continue
            node = LineageNode(linked, repeated=linked_id in seen)
            if not node.repeated:
                seen.add(linked_id)
                node.links = walk(linked_id, step, seen, level + 1)
            nodes.append(node)
        return nodes

    def parents(fid: str) -> tuple[str, ...]:
        found = index.get(fid)
        return found.parents if found else ()

    return Lineage(fragment, walk(fragment.id, parents, set(), 0), walk(fragment.id, index.children, set(), 0))
