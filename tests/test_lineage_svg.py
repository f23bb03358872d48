"""The lineage picture (hitrec.hub.gallery.lineage_svg): real Graphviz ``dot``, a real repo's index."""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hitrec.errors import HubError
from hitrec.hub.gallery.lineage_svg import (
    MORE,
    TITLE_CHARS,
    LineageNode,
    lineage_nodes,
    lineage_source,
    lineage_svg,
)
from hitrec.store.model import Person

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"
HOSTILE = ["<img src=x onerror=alert(1)>", '"]; evil [label="x', "</text><script>alert(2)</script>",
           "&lt;b&gt; &amp; \\N \\G \\", "<<b>html label</b>>", "line\nbreak\x00nul", "]]> <!-- x -->"]


def href(fid: str) -> str:
    return f"/film/fragments/{fid}?from=lineage&x=1"


def links(svg: str) -> dict[str, str]:
    """Each link's address -> the text drawn inside it."""
    root = ET.fromstring(svg)
    return {a.get(XLINK, ""): " / ".join(t.text or "" for t in a.iter(f"{SVG}text"))
            for a in root.iter(f"{SVG}a") if a.get(XLINK)}


def test_nodes_links_and_the_focus(tmp_path: Path) -> None:
    nodes = [LineageNode("f", "The date", "Ada", "video", 0), LineageNode("s", "Voice line", "Bob", "audio", -1),
             LineageNode("g", "Chords", "Cy", "audio", -2), LineageNode("r", "A remix", "Di", "video", 1)]
    edges = [("g", "s"), ("s", "f"), ("f", "r")]
    svg = lineage_svg(nodes, edges, focus="f", href=href, more=lambda fid: None)
    assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg and "<!--" not in svg
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    found = links(svg)
    assert found == {"/film/fragments/f?from=lineage&x=1": "The date / Ada",
                     "/film/fragments/s?from=lineage&x=1": "Voice line / Bob",
                     "/film/fragments/g?from=lineage&x=1": "Chords / Cy",
                     "/film/fragments/r?from=lineage&x=1": "A remix / Di"}
    assert "&amp;x=1" in svg  # the ampersand of the address is escaped in the markup
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]) == 3

    # sources are drawn above the focus, remixes below (SVG y grows downwards)
    def y(fid: str) -> float:
        for a in root.iter(f"{SVG}a"):
            if a.get(XLINK) == href(fid):
                return float(next(a.iter(f"{SVG}text")).get("y", "0"))
        raise AssertionError(fid)

    assert y("g") < y("s") < y("f") < y("r")


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_titles_are_text(title: str) -> None:
    nodes = [LineageNode("f", title, title, "text", 0), LineageNode("s", title, "Bob", "image", -1)]
    source = lineage_source(nodes, [("s", "f")], focus="f", href=href, more=lambda fid: "/more?x=<y>")
    svg = lineage_svg(nodes, [("s", "f")], focus="f", href=href, more=lambda fid: "/more?x=<y>")
    root = ET.fromstring(svg)  # parses: nothing broke out of the markup
    assert not [e.tag for e in root.iter() if e.tag.split("}")[1] in ("script", "img", "foreignObject")]
    assert not [a for e in root.iter() for a in e.attrib if a.lower().startswith("on")]
    # nothing broke out of the DOT source either: exactly our two nodes, their two "more" nodes, 3 edges
    assert "evil" not in [e.get("id") for e in root.iter()]
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]) == 4
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]) == 3
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    shown = title.replace("\n", " ").replace("\x00", " ").replace("\\", "\u2216").strip()
    expected = shown if len(shown) <= TITLE_CHARS else shown[:TITLE_CHARS - 1].rstrip() + "…"
    assert expected in texts, (texts, source)
    assert "/more?x=%3Cy%3E" in links(svg)


def test_long_titles_are_cut_with_an_ellipsis() -> None:
    title = "A very long title that nobody could read in a box of a lineage picture"
    svg = lineage_svg([LineageNode("f", title, "Ada", "audio", 0)], [], focus="f", href=href,
                      more=lambda fid: None)
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert texts[0] == title[:TITLE_CHARS - 1].rstrip() + "…"
    assert title in svg.replace("&#39;", "'")  # whole in the tooltip


def hundred() -> tuple[list[LineageNode], list[tuple[str, str]]]:
    nodes = [LineageNode("f", "The focus", "Ada", "video", 0)]
    edges = []
    for i in range(6):
        nodes.append(LineageNode(f"p{i}", f"Source {i} with a rather long title", f"Author {i}", "audio", -1))
        edges.append((f"p{i}", "f"))
        for j in range(3):
            nodes.append(LineageNode(f"g{i}{j}", f"Grand source {i}.{j}", "Cy", "image", -2))
            edges.append((f"g{i}{j}", f"p{i}"))
    for i in range(45):
        nodes.append(LineageNode(f"r{i}", f"Remix {i}", "Di", "video", 1))
        edges.append(("f", f"r{i}"))
    for i in range(100 - len(nodes)):
        nodes.append(LineageNode(f"rr{i}", f"Remix of remix {i}", "Ed", "text", 2))
        edges.append((f"r{i % 45}", f"rr{i}"))
    return nodes, edges


def test_a_hundred_nodes_render_in_time_and_readably() -> None:
    nodes, edges = hundred()
    assert len(nodes) == 100
    start = time.perf_counter()
    svg = lineage_svg(nodes, edges, focus="f", href=href,
                      more=lambda fid: f"/more/{fid}" if fid.startswith(("g", "rr")) else None)
    took = time.perf_counter() - start
    assert took < 5, f"{took:.2f} s"  # about 0.3 s on a quiet machine
    root = ET.fromstring(svg)
    assert len(links(svg)) == 100 + 18 + 30  # the nodes, and a "more" link for each g and rr node
    sizes = {float(t.get("font-size", "0")) for t in root.iter(f"{SVG}text")}
    assert min(sizes) >= 11  # drawn at its own size, text stays readable
    width = float(root.get("width", "0pt").removesuffix("pt"))
    assert width < 4000  # a wide generation is spread over rows: 45 remixes side by side would be ~7,000


def test_the_depth_limit_gives_more_links() -> None:
    nodes = [LineageNode("f", "Focus", "Ada", "video", 0), LineageNode("s", "Source", "Bob", "audio", -1),
             LineageNode("r", "Remix", "Cy", "video", 1)]
    edges = [("s", "f"), ("f", "r")]
    svg = lineage_svg(nodes, edges, focus="f", href=href,
                      more=lambda fid: {"s": "/up/s", "r": "/down/r"}.get(fid))
    found = links(svg)
    assert found["/up/s"] == MORE and found["/down/r"] == MORE
    root = ET.fromstring(svg)

    def y(address: str) -> float:
        for a in root.iter(f"{SVG}a"):
            if a.get(XLINK) == address:
                return float(next(a.iter(f"{SVG}text")).get("y", "0"))
        raise AssertionError(address)

    assert y("/up/s") < y(href("s")) and y("/down/r") > y(href("r"))


def test_a_missing_dot_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an edge we do not own: Graphviz not installed
    with pytest.raises(HubError, match="Debian package graphviz"):
        lineage_svg([LineageNode("f", "Focus", "Ada", "video", 0)], [], focus="f", href=href,
                    more=lambda fid: None)


def test_a_dot_that_hangs_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\nsleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    start = time.monotonic()
    with pytest.raises(HubError, match="longer than"):
        lineage_svg([LineageNode("f", "Focus", "Ada", "video", 0)], [], focus="f", href=href,
                    more=lambda fid: None, timeout=0.5)
    assert time.monotonic() - start < 5


# --- choosing the nodes from a repo's index ----------------------------------------------------------
class FakeFragment:
    def __init__(self, fid: str, parents: tuple[str, ...]) -> None:
        self.id, self.parents = fid, parents
        self.title, self.author, self.kind = f"T {fid}", Person(f"A {fid}", f"{fid}@x"), "audio"


class Index:
    """A lineage in memory with the two methods of hitrec.store.index.Index that lineage_nodes reads."""

    def __init__(self, parents: dict[str, tuple[str, ...]]) -> None:
        self.fragments = {fid: FakeFragment(fid, ps) for fid, ps in parents.items()}

    def get(self, fid: str) -> FakeFragment | None:
        return self.fragments.get(fid)

    def children(self, fid: str) -> list[str]:
        return sorted(c for c, f in self.fragments.items() if fid in f.parents)


def chain_index() -> Index:
    # a0 <- a1 <- a2 <- F -> b1 -> b2 -> b3, and a diamond: x is a parent of both a1 and a2
    return Index({"a0": (), "x": (), "a1": ("a0", "x"), "a2": ("a1", "x"), "F": ("a2",), "b1": ("F",),
                  "b2": ("b1",), "b3": ("b2",), "side": ("b1", "a0")})


def test_lineage_nodes_walks_both_ways_to_a_depth() -> None:
    lineage = lineage_nodes(chain_index(), "F", depth=2)
    depths = {n.id: n.depth for n in lineage.nodes}
    assert depths == {"F": 0, "a2": -1, "a1": -2, "x": -2, "b1": 1, "b2": 2, "side": 2}
    assert lineage.nodes[0].id == "F" and lineage.nodes[0].author == "A F" and lineage.nodes[0].title == "T F"
    assert set(lineage.edges) == {("a2", "F"), ("a1", "a2"), ("x", "a2"), ("x", "a1"), ("F", "b1"),
                                  ("b1", "b2"), ("b1", "side")}
    assert lineage.cut == {"a1", "b2"}  # a0 above a1, b3 below b2
    everything = lineage_nodes(chain_index(), "F", depth=10)
    assert everything.cut == frozenset() and len(everything.nodes) == 9
    assert ("a0", "side") in everything.edges  # a source of a remix that is also a source of the focus


def test_lineage_nodes_keeps_the_nearest_within_the_limit() -> None:
    lineage = lineage_nodes(chain_index(), "F", depth=3, limit=4)
    assert [n.id for n in lineage.nodes] == ["F", "a2", "b1", "a1"] or \
        {n.id: n.depth for n in lineage.nodes} == {"F": 0, "a2": -1, "b1": 1, "a1": -2}
    assert {"a1", "b1"} <= lineage.cut  # what was left out is reachable through a "more" link
    svg = lineage_svg(lineage.nodes, lineage.edges, focus="F", href=href,
                      more=lambda fid: f"/more/{fid}" if fid in lineage.cut else None)
    assert "/more/b1" in links(svg)


def test_lineage_nodes_from_a_real_repo(project: Path, tmp_path: Path) -> None:
    from media import make_wav

    from hitrec.ops.add import add
    from hitrec.store import Repo

    repo = Repo.find(project)
    first = add(repo, [make_wav(tmp_path / "a.wav", 0.1)], title="Voice <b>").added[0]
    second = add(repo, [make_wav(tmp_path / "b.wav", 0.1, freq=500)], title="Echo",
                 remix_of=[first.id]).added[0]
    lineage = lineage_nodes(repo.index, second.id, depth=3)
    author = first.author.name
    assert [(n.id, n.depth, n.title, n.author) for n in lineage.nodes] == [
        (second.id, 0, "Echo", author), (first.id, -1, "Voice <b>", author)]
    assert lineage.edges == ((first.id, second.id),)
    svg = lineage_svg(lineage.nodes, lineage.edges, focus=second.id, href=href, more=lambda fid: None)
    assert links(svg)[href(first.id)] == f"Voice <b> / {author}"


def test_the_same_lineage_is_laid_out_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nodes, edges = hundred()
    args = {"focus": "f", "href": href, "more": lambda fid: None}
    first = lineage_svg(nodes, edges, **args)
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot now: the drawing must come from memory
    start = time.perf_counter()
    assert lineage_svg(nodes, edges, **args) == first
    assert time.perf_counter() - start < 0.2
    with pytest.raises(HubError, match="graphviz"):  # anything else is drawn again
        lineage_svg(nodes[:50], edges, **args)
