"""`hitrec lineage`: what a fragment was made from, and what was made from it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hitrec.store import Fragment, Repo


@dataclass
class LineageNode:
    fragment: Fragment
    links: list[LineageNode] = field(default_factory=list)
    repeated: bool = False  # already shown elsewhere in this tree (a diamond)
    more: bool = False  # has links beyond the depth asked for (not walked)


def flatten(roots: list[LineageNode]) -> list[dict[str, Any]]:
    """The tree as a flat list in drawing order (depth first): each entry names the ids it links to and
    its generation (1 = a direct parent or child). Flat, so a chain thousands of generations deep is
    as easy to write and read as JSON as a shallow one (nested, it passes the JSON parsers' depth
    limits: Python's json gives up near 1,000)."""
    out: list[dict[str, Any]] = []
    stack = [(node, 1) for node in reversed(roots)]
    while stack:
        node, generation = stack.pop()
        f = node.fragment
        out.append({"id": f.id, "title": f.title, "kind": f.kind, "author": str(f.author),
                    "generation": generation, "repeated": node.repeated, "more": node.more,
                    "links": [link.fragment.id for link in node.links]})
        stack.extend((link, generation + 1) for link in reversed(node.links))
    return out


@dataclass
class LineageResult:
    """A fragment's lineage as two trees (credits has its own lineage graph: hitrec.credits.graph)."""

    fragment: Fragment
    sources: list[LineageNode]  # up the tree: parents, their parents, ...
    remixed_by: list[LineageNode]  # down the tree: children, their children, ...

    def to_json(self) -> dict[str, Any]:
        return {"fragment": self.fragment.to_json(), "sources": flatten(self.sources),
                "remixed_by": flatten(self.remixed_by)}


def lineage(repo: Repo, ref: str, *, depth: int | None = None) -> LineageResult:
    """The fragment's sources and remixes, ``depth`` levels each way (all when None). A fragment met
    again (a diamond) is listed with ``repeated`` and not expanded twice."""
    fragment = repo.fragment(ref)
    index = repo.index

    def walk(start: str, step: Callable[[str], Iterable[str]]) -> list[LineageNode]:
        # depth-first, in the order ``step`` gives, with an explicit stack (no recursion limit)
        roots: list[LineageNode] = []
        if depth is not None and depth <= 0:
            return roots
        walked: dict[str, int] = {}  # fragment -> the generation it was expanded at
        stack: list[tuple[Iterator[str], list[LineageNode], int]] = [(iter(step(start)), roots, 1)]
        while stack:
            links, into, level = stack[-1]
            linked_id = next(links, None)
            if linked_id is None:
                stack.pop()
                continue
            linked = index.get(linked_id)
            if linked is None:
                continue
            # Met again: shown once already, unless that first time was deeper and so cut shorter by
            # ``depth`` than it can be from here.
            node = LineageNode(linked, repeated=walked.get(linked_id, level + 1) <= level)
            into.append(node)
            if node.repeated:
                continue
            walked[linked_id] = level
            if depth is None or level < depth:
                stack.append((iter(step(linked_id)), node.links, level + 1))
            else:
                node.more = any(index.get(i) is not None for i in step(linked_id))
        return roots

    def parents(fid: str) -> tuple[str, ...]:
        found = index.get(fid)
        return found.parents if found else ()

    return LineageResult(fragment, walk(fragment.id, parents), walk(fragment.id, index.children))
