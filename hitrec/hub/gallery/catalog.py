"""What the gallery knows of one collaboration: its fragments in memory, keyed by the catalog commit.

A ``Snapshot`` is built once per catalog commit from ``Repo.open(git_dir)`` (its SQLite index, brought
up to date from git) and replaced when a push moves the catalog, so a page is a filter over a list in
memory: no git and no SQL per request. Queries (filters, search, sort) are remembered per snapshot.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from hitrec.store import Fragment

SORTS = ("newest", "oldest", "remixed", "never")
PAGE_SIZE = 48
_QUERIES_KEPT = 256


@dataclass(frozen=True)
class Query:
    """A collaboration page's filters and sort (all optional), as its URL's query gives them."""

    kind: str = ""
    tag: str = ""
    author: str = ""  # a contributor id (e-mail, lowercase) or part of a name
    project: str = ""
    license: str = ""
    min_duration: float | None = None
    max_duration: float | None = None
    q: str = ""  # words searched in titles and tags
    sort: str = "newest"

    @classmethod
    def parse(cls, params: dict[str, str]) -> Query:
        def number(key: str) -> float | None:
            try:
                value = float(params.get(key, ""))
            except ValueError:
                return None
            return value if value >= 0 and value < 1e9 else None

        sort = params.get("sort", "newest")
        return cls(kind=params.get("kind", "")[:20], tag=params.get("tag", "")[:200],
                   author=params.get("author", "")[:200], project=params.get("project", "")[:200],
                   license=params.get("license", "")[:100], min_duration=number("min_duration"),
                   max_duration=number("max_duration"), q=params.get("q", "")[:200].strip(),
                   sort=sort if sort in SORTS else "newest")

    def params(self) -> dict[str, str]:
        """The query as URL parameters (only what is set)."""
        out = {"kind": self.kind, "tag": self.tag, "author": self.author, "project": self.project,
               "license": self.license, "q": self.q,
               "min_duration": "" if self.min_duration is None else f"{self.min_duration:g}",
               "max_duration": "" if self.max_duration is None else f"{self.max_duration:g}",
               "sort": "" if self.sort == "newest" else self.sort}
        return {k: v for k, v in out.items() if v}


@dataclass
class Snapshot:
    """One collaboration at one catalog commit."""

    name: str
    head: str | None
    fragments: list[Fragment]  # newest first
    by_id: dict[str, Fragment]
    by_oid: dict[str, Fragment]
    children: dict[str, list[str]]  # fragment -> the fragments that remix it (newest first)
    _search: list[str] = field(default_factory=list)  # lowercase title + tags, parallel to fragments
    _queries: collections.OrderedDict[Query, list[int]] = field(default_factory=collections.OrderedDict)

    @classmethod
    def build(cls, name: str, head: str | None, fragments: Iterable[Fragment]) -> Snapshot:
        ordered = sorted(fragments, key=lambda f: (f.created, f.id), reverse=True)
        children: dict[str, list[str]] = {}
        for f in ordered:
            for parent in f.parents:
                children.setdefault(parent, []).append(f.id)
        return cls(name, head, ordered, {f.id: f for f in ordered}, {f.media.oid: f for f in ordered},
                   children, [" ".join((f.title, *f.tags)).lower() for f in ordered])

    # -- what the hub page shows --------------------------------------------------------------
    @property
    def contributor_count(self) -> int:
        return len({f.author.email.lower() for f in self.fragments})

    @property
    def latest(self) -> datetime | None:
        return self.fragments[0].created if self.fragments else None

    def remix_count(self, fid: str) -> int:
        return len(self.children.get(fid, ()))

    # -- the collaboration page -------------------------------------------------------------------
    def matching(self, query: Query) -> list[int]:
        """Positions in ``fragments`` of those ``query`` keeps, in its order (remembered)."""
        found = self._queries.get(query)
        if found is not None:
            self._queries.move_to_end(query)
            return found
        found = self._match(query)
        self._queries[query] = found
        if len(self._queries) > _QUERIES_KEPT:
            self._queries.popitem(last=False)
        return found

    def _match(self, query: Query) -> list[int]:
        author = query.author.lower()
        words = query.q.lower().split()
        tag, lic, project, kind = query.tag, query.license.lower(), query.project, query.kind
        lo, hi = query.min_duration, query.max_duration
        never = query.sort == "never"
        children = self.children
        out: list[int] = []
        for i, f in enumerate(self.fragments):
            if kind and f.kind != kind:
                continue
            if tag and tag not in f.tags:
                continue
            if project and f.project != project:
                continue
            if lic and f.license.lower() != lic:
                continue
            if author and f.author.email.lower() != author and author not in f.author.name.lower():
                continue
            if lo is not None or hi is not None:
                duration = f.media.duration
                if duration is None or (lo is not None and duration < lo) or (hi is not None and duration > hi):
                    continue
            if words and not all(w in self._search[i] for w in words):
                continue
            if never and f.id in children:
                continue
            out.append(i)
        if query.sort == "oldest":
            out.reverse()
        elif query.sort == "remixed":
            out.sort(key=lambda i: -len(children.get(self.fragments[i].id, ())))  # stable: newest first in a tie
        return out

    @functools.cached_property
    def facets(self) -> dict[str, list[Facet]]:
        """The values each filter can take here, with how many fragments have each (most first; authors
        by name)."""
        counters: dict[str, collections.Counter[str]] = {k: collections.Counter() for k in
                                                         ("kind", "tag", "project", "license", "author")}
        names: dict[str, str] = {}
        for f in self.fragments:
            counters["kind"][f.kind] += 1
            counters["tag"].update(f.tags)
            if f.project:
                counters["project"][f.project] += 1
            if f.license:
                counters["license"][f.license] += 1
            email = f.author.email.lower()
            counters["author"][email] += 1
            names.setdefault(email, f.author.name)
        out = {k: [Facet(v, v, n) for v, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:200]]
               for k, c in counters.items() if k != "author"}
        out["author"] = sorted((Facet(e, names[e], n) for e, n in counters["author"].items()),
                               key=lambda facet: (facet.label.lower(), facet.value))
        return out


@dataclass(frozen=True)
class Facet:
    value: str
    label: str
    count: int
