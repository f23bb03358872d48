"""The data of each gallery page, as plain values: the templates draw them, the JSON twins dump them.

Everything here runs on the gallery's own worker thread (hitrec.hub.gallery.library), never on the
event loop, and reads only through ``Repo`` (its index, its git objects) and its media store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hitrec.errors import HitrecError
from hitrec.hub.gallery.catalog import PAGE_SIZE, Query, Snapshot
from hitrec.store import Fragment, Repo
from hitrec.store.media_store import MediaStore

TEXT_EXCERPT = 280
TEXT_PAGE = 64 * 1024  # a text fragment's page shows at most this much of it
LINEAGE_DEPTH = 3
LINEAGE_NODES = 100


class NotFound(HitrecError):
    """What a gallery URL names is not here (a 404)."""


@dataclass(frozen=True)
class Card:
    fragment: Fragment
    remixes: int
    excerpt: str | None  # text fragments: their first words

    def to_json(self) -> dict[str, Any]:
        return {**self.fragment.to_json(), "remixes": self.remixes,
                **({"excerpt": self.excerpt} if self.excerpt is not None else {})}


def read_text(media: MediaStore, oid: str, limit: int) -> str:
    """The first ``limit`` bytes of a text fragment's media, decoded (never trusted: pages escape it)."""
    try:
        with media.open_read(oid, 0, min(limit, media.size(oid))) as fh:
            data = fh.read(limit)
    except HitrecError:
        return ""
    return data.decode("utf-8", "replace")


class Excerpts:
    """Text fragments' first words, by media oid (bounded)."""

    def __init__(self, keep: int = 20000) -> None:
        self._found: dict[str, str] = {}
        self._keep = keep

    def of(self, media: MediaStore, oid: str) -> str:
        found = self._found.get(oid)
        if found is None:
            text = " ".join(read_text(media, oid, TEXT_EXCERPT * 4).split())
            found = text if len(text) <= TEXT_EXCERPT else text[:TEXT_EXCERPT - 1].rstrip() + "…"
            if len(self._found) >= self._keep:
                self._found.clear()
            self._found[oid] = found
        return found


def cards(media: MediaStore, snap: Snapshot, fragments: list[Fragment], excerpts: Excerpts) -> list[Card]:
    return [Card(f, snap.remix_count(f.id), excerpts.of(media, f.media.oid) if f.kind == "text" else None)
            for f in fragments]


@dataclass
class CollaborationPage:
    name: str
    query: Query
    page: int
    pages: int
    total: int
    cards: list[Card]
    facets: dict[str, Any]
    fragment_count: int

    def to_json(self) -> dict[str, Any]:
        return {"collaboration": self.name, "query": self.query.params(), "page": self.page, "pages": self.pages,
                "total": self.total, "page_size": PAGE_SIZE, "fragments": [c.to_json() for c in self.cards]}


def collaboration(media: MediaStore, snap: Snapshot, query: Query, page: int,
                  excerpts: Excerpts) -> CollaborationPage:
    found = snap.matching(query)
    pages = max(1, math.ceil(len(found) / PAGE_SIZE))
    page = min(max(page, 1), pages)
    chosen = [snap.fragments[i] for i in found[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]]
    return CollaborationPage(snap.name, query, page, pages, len(found), cards(media, snap, chosen, excerpts),
                             snap.facets, len(snap.fragments))


# -- a fragment ---------------------------------------------------------------------------------------
@dataclass
class FragmentPage:
    collaboration: str
    fragment: Fragment
    sources: list[Fragment]
    remixes: list[Fragment]
    text: str | None
    attribution: str
    license_name: str
    license_url: str | None
    lineage: LineageData
    is_piece: bool

    def to_json(self) -> dict[str, Any]:
        return {"collaboration": self.collaboration, "fragment": self.fragment.to_json(),
                "sources": [f.id for f in self.sources], "remixes": [f.id for f in self.remixes],
                "attribution": self.attribution, "license": {"id": self.fragment.license,
                                                             "name": self.license_name, "url": self.license_url},
                "lineage": self.lineage.to_json(), "piece": self.is_piece,
                **({"text": self.text} if self.text is not None else {})}


@dataclass
class LineageData:
    nodes: list[tuple[Fragment, int]]  # each with its depth: < 0 sources, > 0 remixes, 0 the fragment
    edges: list[tuple[str, str]]  # (source, remix)
    cut: set[str]  # nodes at the depth limit with more beyond them

    def to_json(self) -> dict[str, Any]:
        return {"nodes": [{"id": f.id, "title": f.title, "author": f.author.name, "kind": f.kind, "depth": d,
                           "more": f.id in self.cut} for f, d in self.nodes],
                "edges": [list(e) for e in self.edges]}


def lineage_of(snap: Snapshot, fid: str, depth: int = LINEAGE_DEPTH, limit: int = LINEAGE_NODES) -> LineageData:
    """Sources up to ``depth`` generations up, remixes down, breadth first, at most ``limit`` nodes."""
    depths: dict[str, int] = {fid: 0}
    edges: set[tuple[str, str]] = set()
    cut: set[str] = set()
    for direction in (-1, 1):
        frontier = [fid]
        for level in range(1, depth + 1):
            nxt: list[str] = []
            for node in frontier:
                links = snap.by_id[node].parents if direction < 0 else tuple(snap.children.get(node, ()))
                for link in links:
                    if link not in snap.by_id:
                        continue
                    edges.add((link, node) if direction < 0 else (node, link))
                    if link not in depths:
                        if len(depths) >= limit:
                            cut.add(node)
                            continue
                        depths[link] = direction * level
                        nxt.append(link)
            frontier = nxt
        for node in frontier:  # the last generation drawn: is there more beyond?
            links = snap.by_id[node].parents if direction < 0 else tuple(snap.children.get(node, ()))
            if any(link in snap.by_id and link not in depths for link in links):
                cut.add(node)
    kept = {a: b for a, b in depths.items()}
    return LineageData([(snap.by_id[i], d) for i, d in sorted(kept.items(), key=lambda kv: (kv[1], kv[0]))],
                       sorted(e for e in edges if e[0] in kept and e[1] in kept), cut)


def attribution(fragment: Fragment, source_url: str) -> tuple[str, str, str | None]:
    """A ready-made attribution line (title, author, source, licence), the licence's name, its deed."""
    from hitrec.licenses import LicenseError, parse

    name, url = fragment.license or "no licence given", None
    try:
        lic = parse(fragment.license)
    except LicenseError:
        pass
    else:
        name = lic.spdx
        if lic.by:
            terms = lic.spdx[3:-len(lic.version) - 1].lower()
            url = f"https://creativecommons.org/licenses/{terms}/{lic.version}/"
        else:
            url = "https://creativecommons.org/publicdomain/zero/1.0/"
    title = fragment.title or fragment.short_id
    line = f"“{title}” by {fragment.author.name}, {source_url}, {name}"
    return line, name, url


def fragment_page(media: MediaStore, snap: Snapshot, fid: str, source_url: str, depth: int) -> FragmentPage:
    fragment = find(snap, fid)
    text = read_text(media, fragment.media.oid, TEXT_PAGE) if fragment.kind == "text" else None
    line, name, url = attribution(fragment, source_url)
    sources = [snap.by_id[p] for p in fragment.parents if p in snap.by_id]
    remixes = [snap.by_id[c] for c in snap.children.get(fragment.id, ())]
    return FragmentPage(snap.name, fragment, sources, remixes, text, line, name, url,
                        lineage_of(snap, fragment.id, depth), fragment.has_timeline)


def find(snap: Snapshot, fid: str) -> Fragment:
    fragment = snap.by_id.get(fid)
    if fragment is None:
        raise NotFound(f"no fragment {fid[:12]} in {snap.name}")
    return fragment


# -- a piece ------------------------------------------------------------------------------------------
@dataclass
class ClipBox:
    track: int
    label: str
    fragment: Fragment | None
    at: float
    duration: float
    start_col: int  # 1..100, for the CSS grid
    span: int


@dataclass
class TrackRow:
    kind: str
    name: str
    clips: list[ClipBox]


@dataclass
class PiecePage:
    collaboration: str
    fragment: Fragment
    tracks: list[TrackRow]
    length: float
    credits: Any  # hitrec.ops.credits.CreditsResult
    explanations: dict[str, Any]  # contributor id -> hitrec.credits.explain.Explanation
    profit: str
    currency: str
    error: str | None

    def to_json(self) -> dict[str, Any]:
        from hitrec.ops.credits import explanation_json

        data: dict[str, Any] = {"collaboration": self.collaboration, "fragment": self.fragment.to_json(),
                                "length": self.length,
                                "tracks": [{"kind": t.kind, "name": t.name,
                                            "clips": [{"fragment": c.fragment.id if c.fragment else None,
                                                       "label": c.label, "at": c.at, "duration": c.duration}
                                                      for c in t.clips]} for t in self.tracks]}
        if self.credits is not None:
            data["credits"] = self.credits.to_json()
            data["explain"] = {cid: explanation_json(e) for cid, e in self.explanations.items()}
        if self.error:
            data["error"] = self.error
        return data


MAX_EXPLAINED = 50
MAX_PATHS = 20


def piece_page(repo: Repo, snap: Snapshot, fid: str, profit: str, currency: str) -> PiecePage:
    from hitrec.credits.explain import explain
    from hitrec.ops.credits import credits, mailmap_of
    from hitrec.store.format import TIMELINE_YAML

    fragment = find(snap, fid)
    if not fragment.has_timeline:
        raise NotFound(f"fragment {fid[:12]} is not a piece (it has no timeline)")
    tracks, length = _timeline(repo, snap, fragment.id, TIMELINE_YAML)
    error = None
    result = None
    explanations: dict[str, Any] = {}
    try:
        result = credits(repo, fragment.id, profit=profit or None, currency=currency or "USD")
    except HitrecError as exc:
        error = str(exc)
        if profit:
            try:
                result = credits(repo, fragment.id)
            except HitrecError:
                result = None
    if result is not None:
        mailmap = mailmap_of(repo)
        for c in result.shares.contributors[:MAX_EXPLAINED]:
            explanations[c.id] = explain(result.shares, c.id, mailmap, MAX_PATHS)
    return PiecePage(snap.name, fragment, tracks, length, result, explanations, profit, currency or "USD", error)


def _timeline(repo: Repo, snap: Snapshot, fid: str, name: str) -> tuple[list[TrackRow], float]:
    from hitrec.timeline.yaml_codec import parse_timeline

    raw = repo.read_fragment_file(fid, name)
    if raw is None:
        return [], 0.0
    try:
        timeline = parse_timeline(raw.decode("utf-8", "replace"), name)
    except HitrecError:
        return [], 0.0
    placed: list[tuple[int, str, Fragment | None, float, float]] = []
    for t, track in enumerate(timeline.tracks):
        for clip in track.clips:
            at = float(clip.at or 0)
            duration = float(clip.duration or 0)
            frag = snap.by_id.get(clip.fragment or "") if clip.fragment else None
            label = frag.title if frag is not None else (clip.text or clip.fragment or "")
            placed.append((t, label, frag, at, duration))
    length = max((at + d for _, _, _, at, d in placed), default=0.0)
    rows = [TrackRow(track.kind, track.name, []) for track in timeline.tracks]
    for t, label, frag, at, duration in placed:
        start = min(99, int(at / length * 100)) if length else 0
        span = max(1, min(100 - start, round(duration / length * 100))) if length else 100
        rows[t].clips.append(ClipBox(t, label, frag, at, duration, start + 1, span))
    return rows, length


# -- a contributor ------------------------------------------------------------------------------------
@dataclass
class Use:
    fragment: Fragment
    used_in: list[Fragment]


@dataclass
class ContributorPage:
    collaboration: str
    contributor: str
    name: str
    uses: list[Use]
    pieces: list[tuple[Fragment, Any]]  # (piece, their ContributorShare there)

    def to_json(self) -> dict[str, Any]:
        from hitrec.credits.report import percent

        return {"collaboration": self.collaboration, "contributor": {"id": self.contributor, "name": self.name},
                "fragments": [{"fragment": u.fragment.to_json(), "used_in": [f.id for f in u.used_in]}
                              for u in self.uses],
                "pieces": [{"piece": p.id, "title": p.title, "share": str(s.share), "percent": percent(s.share, 4)}
                           for p, s in self.pieces]}


MAX_PIECES = 20


def contributor_page(repo: Repo, snap: Snapshot, who: str) -> ContributorPage:
    from hitrec.ops.credits import credits

    who = who.lower()
    mine = [f for f in snap.fragments if f.author.email.lower() == who]
    if not mine:
        raise NotFound(f"no contributor {who} in {snap.name}")
    uses = [Use(f, [snap.by_id[c] for c in snap.children.get(f.id, ())]) for f in mine]
    # the pieces downstream of their fragments (and their own), nearest first
    seen: set[str] = set()
    frontier = [f.id for f in mine]
    pieces: list[Fragment] = []
    while frontier and len(pieces) < MAX_PIECES:
        nxt: list[str] = []
        for fid in frontier:
            if fid in seen:
                continue
            seen.add(fid)
            f = snap.by_id[fid]
            if f.has_timeline and len(pieces) < MAX_PIECES:
                pieces.append(f)
            nxt.extend(snap.children.get(fid, ()))
        frontier = nxt
    shares: list[tuple[Fragment, Any]] = []
    for piece in pieces:
        try:
            result = credits(repo, piece.id)
        except HitrecError:
            continue
        for c in result.shares.contributors:
            if c.id == who:
                shares.append((piece, c))
    return ContributorPage(snap.name, who, mine[0].author.name, uses, shares)
