"""A fragment's lineage as a picture: its sources above, its remixes below, each a link (SVG by Graphviz).

``lineage_nodes(index, focus, depth)`` picks what to draw from a repo's index (breadth first, the nearest
generations of both sides first, at most ``limit`` nodes); ``lineage_svg`` lays it out with Graphviz's
``dot`` (the DOT source written by the ``graphviz`` package, ``dot`` run here so that it is time- and
CPU-bounded and dies with the hub) and returns SVG markup to inline in a page.

Everything users wrote (titles, names) reaches the drawing only as escaped text: node names in the DOT
source are ours (``n0``, ``n1``...), labels are passed as literal text (no HTML-like labels, a
backslash drawn as the look-alike U+2216 so it starts no Graphviz escape, ``&`` written as ``&amp;``
because Graphviz resolves entities in labels), and the
SVG that comes back is parsed and checked against a short list of elements and attributes before it
is returned, so neither a broken DOT source nor injected markup can come out of it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from hitrec.errors import HubError

TITLE_CHARS = 28  # a label's title line is cut to this many characters (with an ellipsis)
AUTHOR_CHARS = 24
DOT_TIMEOUT = 10.0  # wall seconds for one layout
DOT_CPU_SECONDS = 10
ROW_NODES = 12  # a generation wider than this is spread over several rows, so 100 nodes stay readable
MAX_ROWS = 4
MORE = "…"  # the label of a node that links to the lineage beyond the depth drawn
DRAWINGS_KEPT = 8 << 20  # characters of SVG (and their DOT sources) kept for pages asked for again

KIND_COLORS = {"video": "#dbe7f5", "audio": "#e3f1df", "image": "#f7ead8", "text": "#ece4f3"}


@dataclass(frozen=True)
class LineageNode:
    """One fragment in the picture; ``depth`` < 0 for sources (-1: a parent), > 0 for remixes, 0 focus."""

    id: str
    title: str
    author: str
    kind: str
    depth: int


@dataclass(frozen=True)
class Lineage:
    """What to draw: nodes (focus first, then by distance), edges (source, remix) between them, and
    ``cut``: the nodes with sources (above the focus) or remixes (below) that were left out."""

    nodes: tuple[LineageNode, ...]
    edges: tuple[tuple[str, str], ...]
    cut: frozenset[str]


class LineageIndex(Protocol):
    """What ``lineage_nodes`` reads: a repo's index (``repo.index``) has both."""

    def get(self, fragment_id: str) -> Any: ...  # a Fragment (id, title, author, kind, parents) or None

    def children(self, fragment_id: str) -> Iterable[str]: ...


def lineage_nodes(index: LineageIndex, focus_id: str, depth: int = 3, limit: int = 100) -> Lineage:
    """The focus, its sources up to ``depth`` generations up and its remixes ``depth`` down, at most
    ``limit`` nodes: one generation at a time, alternating up and down, so the nearest of both sides
    are kept first. A fragment met twice (a diamond) is one node, at its nearest depth."""
    focus = index.get(focus_id)
    if focus is None:
        raise HubError(f"no fragment {focus_id[:12]}")
    found: dict[str, Any] = {focus_id: focus}
    depths: dict[str, int] = {focus_id: 0}
    frontiers: dict[int, list[str]] = {-1: [focus_id], 1: [focus_id]}

    def neighbours(fid: str, direction: int) -> Iterable[str]:
        return found[fid].parents if direction < 0 else index.children(fid)

    full = False
    for level in range(1, depth + 1):
        for direction in (-1, 1):
            nxt: list[str] = []
            for fid in frontiers[direction]:
                for link in neighbours(fid, direction):
                    if link in depths or full:
                        continue
                    linked = index.get(link)
                    if linked is None:
                        continue
                    if len(depths) >= limit:
                        full = True
                        continue
                    found[link] = linked
                    depths[link] = direction * level
                    nxt.append(link)
            frontiers[direction] = nxt
    cut: set[str] = set()
    for fid, d in depths.items():
        directions = (-1, 1) if d == 0 else (-1,) if d < 0 else (1,)
        if any(link not in depths and index.get(link) is not None
               for direction in directions for link in neighbours(fid, direction)):
            cut.add(fid)
    edges = sorted({(p, fid) for fid in depths for p in found[fid].parents if p in depths})
    order = sorted(depths, key=lambda fid: (abs(depths[fid]), depths[fid], fid))
    nodes = tuple(LineageNode(fid, found[fid].title or "", _name(found[fid].author), found[fid].kind, depths[fid])
                  for fid in order)
    return Lineage(nodes, tuple(edges), frozenset(cut))


def _name(author: Any) -> str:
    return str(getattr(author, "name", author))


# --- drawing -----------------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _text(value: str, limit: int | None = None) -> str:
    """User-written text as a literal Graphviz label part: one line, cut to ``limit`` characters."""
    value = _CONTROL.sub(" ", value).strip()
    if limit is not None and len(value) > limit:
        value = value[:limit - 1].rstrip() + "…"
    # A backslash would start a Graphviz escape (\\N: the node's name; attributes differ in how they
    # undo a doubled one): it is drawn as U+2216, which looks the same.
    return value.replace("\\", "\u2216").replace("&", "&amp;")


def _url(value: str) -> str:
    """A link for Graphviz's URL attribute: percent-encoded where it is not plain URL text, and ``&``
    as ``&amp;`` (Graphviz 2.43 copies URLs into the SVG unescaped)."""
    safe = quote(value, safe="/:?=&#%;@+,-._~!$'()*[]")
    return safe.replace("\\", "%5C").replace("&", "&amp;")


def lineage_source(nodes: Sequence[LineageNode], edges: Sequence[tuple[str, str]], *, focus: str,
                   href: Callable[[str], str], more: Callable[[str], str | None]) -> str:
    """The DOT source of the picture (see :func:`lineage_svg`)."""
    import graphviz

    names = {node.id: f"n{i}" for i, node in enumerate(nodes)}
    graph = graphviz.Digraph(
        "lineage",
        graph_attr={"rankdir": "TB", "nodesep": "0.25", "ranksep": "0.45", "bgcolor": "transparent",
                    "fontname": "sans-serif", "tooltip": "lineage", "margin": "0.1"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": "sans-serif", "fontsize": "11",
                   "color": "#5b6b7b", "penwidth": "1", "margin": "0.12,0.05", "height": "0.3",
                   "target": "_top"},
        edge_attr={"color": "#7b8794", "arrowsize": "0.6"},
    )
    for node in nodes:
        label = _text(node.title or node.id[:10], TITLE_CHARS) + "\\n" + _text(node.author, AUTHOR_CHARS)
        tooltip = f"{_text(node.title or node.id[:10])} by {_text(node.author)} ({_text(node.kind)})"
        attrs = {"label": graphviz.nohtml(label), "tooltip": graphviz.nohtml(tooltip),
                 "URL": graphviz.nohtml(_url(href(node.id))),
                 "fillcolor": KIND_COLORS.get(node.kind, "#eeeeee"), "id": names[node.id]}
        if node.id == focus:
            attrs.update(penwidth="2.5", color="#1d3557")
        graph.node(names[node.id], **attrs)
    rows = _rows(nodes)
    depth_of = {node.id: node.depth for node in nodes}
    for source, remix in edges:
        if source in names and remix in names:
            # the edge that holds a staggered node at its distance from the focus is made longer
            far = remix if depth_of[remix] > 0 else source
            near = source if far == remix else remix
            row = rows.get(far, 0) if abs(depth_of[far]) == abs(depth_of[near]) + 1 else 0
            graph.edge(names[source], names[remix], **({"minlen": str(1 + row)} if row else {}))
    for i, node in enumerate(nodes):
        link = more(node.id)
        if not link:
            continue
        name = f"m{i}"
        where = "sources" if node.depth < 0 else "remixes"
        graph.node(name, label=MORE, URL=graphviz.nohtml(_url(link)), shape="ellipse", style="dashed",
                   fontsize="14", width="0.4", height="0.25", margin="0.02",
                   tooltip=graphviz.nohtml(f"more {where} of {_text(node.title or node.id[:10])}"))
        if node.depth < 0:
            graph.edge(name, names[node.id], style="dashed")
        else:
            graph.edge(names[node.id], name, style="dashed")
    return graph.source


def _rows(nodes: Sequence[LineageNode]) -> dict[str, int]:
    """A generation wider than ROW_NODES is drawn on several rows (at most MAX_ROWS), its nodes
    dealt out in turn: the row (0 = nearest the focus) of each node that is not on the first."""
    by_depth: dict[int, list[str]] = {}
    for node in nodes:
        if node.depth:
            by_depth.setdefault(node.depth, []).append(node.id)
    rows: dict[str, int] = {}
    for ids in by_depth.values():
        count = min(MAX_ROWS, -(-len(ids) // ROW_NODES))
        for i, fid in enumerate(ids):
            if i % count:
                rows[fid] = i % count
    return rows


def lineage_svg(nodes: Sequence[LineageNode], edges: Sequence[tuple[str, str]], *, focus: str,
                href: Callable[[str], str], more: Callable[[str], str | None],
                timeout: float = DOT_TIMEOUT) -> str:
    """The lineage as SVG markup to inline in a page: one box per node (title and author, linked to
    ``href(id)``), an arrow from each source to its remix (sources above), the focus drawn bold, and a
    small "…" node linked to ``more(id)`` wherever that gives a link (nodes at the depth limit).

    Runs Graphviz's ``dot`` (a few hundred milliseconds for 100 nodes): call it off the event loop.
    The last drawings are kept (:data:`DRAWINGS_KEPT`), so the same lineage is laid out once.
    Raises HubError when ``dot`` is missing, fails or takes longer than ``timeout``."""
    source = lineage_source(nodes, edges, focus=focus, href=href, more=more)
    return _drawings.get(source) or _drawings.put(source, clean_svg(run_dot(source, timeout=timeout)))


class _Drawings:
    """The last drawings made, by their DOT source (which says everything drawn: the same source is the
    same picture), at most ``keep`` bytes of SVG: a page asked for again is not laid out again."""

    def __init__(self, keep: int = DRAWINGS_KEPT) -> None:
        self._found: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0
        self._keep = keep
        self._lock = threading.Lock()

    def get(self, source: str) -> str | None:
        with self._lock:
            found = self._found.get(source)
            if found is not None:
                self._found.move_to_end(source)
            return found

    def put(self, source: str, svg: str) -> str:
        with self._lock:
            if source not in self._found and len(svg) + len(source) <= self._keep:
                self._found[source] = svg
                self._bytes += len(svg) + len(source)
                while self._bytes > self._keep:
                    old, drawn = self._found.popitem(last=False)
                    self._bytes -= len(old) + len(drawn)
        return svg


_drawings = _Drawings()


def run_dot(source: str, *, timeout: float = DOT_TIMEOUT) -> bytes:
    """``dot -Tsvg`` on ``source``, bounded in wall and CPU time, dying with the hub."""
    from hitrec.media.ffmpeg import kill_group, popen

    dot = shutil.which("dot")
    if dot is None:
        raise HubError("Graphviz's `dot` is not installed, so lineage pictures cannot be drawn: "
                       "install the Debian package graphviz (`apt-get install graphviz`)")
    try:
        proc = popen([dot, "-Tsvg"], waited=True, cpu_seconds=DOT_CPU_SECONDS, stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)
    except OSError as exc:
        raise HubError(f"cannot run Graphviz's dot ({exc}): reinstall the Debian package graphviz") from exc
    try:
        out, err = proc.communicate(source.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        kill_group(proc)
        raise HubError(f"Graphviz's dot took longer than {timeout:g} s to draw the lineage") from exc
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise HubError(f"Graphviz's dot could not draw the lineage ({lines[-1] if lines else proc.returncode})")
    return out


_SVG = "{http://www.w3.org/2000/svg}"
_XLINK = "{http://www.w3.org/1999/xlink}"
_ELEMENTS = {f"{_SVG}{name}" for name in ("svg", "g", "title", "a", "polygon", "polyline", "path", "ellipse",
                                          "text")}
_ATTRIBUTES = {"id", "class", "width", "height", "viewBox", "transform", "fill", "stroke", "stroke-width",
               "stroke-dasharray", "points", "d", "cx", "cy", "rx", "ry", "x", "y", "text-anchor",
               "font-family", "font-size", "font-weight", "target", f"{_XLINK}href", f"{_XLINK}title"}
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.-]*):")


def clean_svg(data: bytes) -> str:
    """Graphviz's SVG without its XML prolog, doctype and comments, checked to hold nothing but the
    drawing (the elements and attributes dot writes); links only to http(s) or this site."""
    text = data.decode("utf-8")
    start = text.find("<svg")
    if start < 0:
        raise HubError("Graphviz's dot wrote no SVG")
    text = _COMMENT.sub("", text[start:]).strip()
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise HubError(f"Graphviz's dot wrote SVG that does not parse ({exc})") from exc
    for element in root.iter():
        if element.tag not in _ELEMENTS:
            raise HubError(f"the lineage drawing holds an unexpected element {element.tag!r}")
        for name, value in element.attrib.items():
            if name not in _ATTRIBUTES:
                raise HubError(f"the lineage drawing holds an unexpected attribute {name!r}")
            scheme = _SCHEME.match(value) if name == f"{_XLINK}href" else None
            if scheme and scheme.group(1).lower() not in ("http", "https"):
                raise HubError(f"the lineage drawing holds a {scheme.group(1)}: link, not a page address")
    return text.replace("<svg ", '<svg class="lineage" role="img" aria-label="lineage" ', 1)
