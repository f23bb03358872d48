"""Fragment commands: add, show, log, lineage, cat, checkout."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hitrec.cli.app import app
from hitrec.cli.common import describe_media, open_repo
from hitrec.cli.output import console, escape, print_json, print_json_lines, progress, warn
from hitrec.store import Fragment

if TYPE_CHECKING:
    from rich.tree import Tree

    from hitrec.ops.lineage import LineageNode, LineageResult

JSON = typer.Option(False, "--json", help="Print JSON.")


@app.command()
def add(
    files: list[str] = typer.Argument(..., help="Media files: audio, video, images, text."),
    title: str = typer.Option(None, "--title", "-t", help="Title (default: the file name)."),
    tag: list[str] = typer.Option([], "--tag", help="A tag; repeat for several."),
    license: str = typer.Option(None, "--license", help="SPDX licence id, e.g. CC-BY-4.0, CC0-1.0."),
    project: str = typer.Option(None, "--project", "-p", help="The project this is for."),
    remix_of: list[str] = typer.Option([], "--remix-of", help="A fragment this is made from; repeatable."),
    json_: bool = JSON,
) -> None:
    """Record media files as fragments and print each new fragment id."""
    from hitrec.ops.add import add as run_add

    with open_repo() as repo, progress("adding", unit="bytes") as bar:
        result = run_add(repo, [Path(f) for f in files], title=title, tags=tag, license=license, project=project,
                         remix_of=remix_of, progress=bar)
    if json_:
        print_json(result.to_json())
        return
    # One plain line per fragment, like git: fast for a thousand, and easy to read from a script.
    sys.stdout.write("".join(f"{f.id}  {f.kind:5}  {f.title}\n" for f in result.added))
    for path, held in result.existing:
        warn(f"{path}: already recorded as fragment {held.short_id} ({held.title}), "
             f"contributed first by {held.author}")


@app.command()
def show(fragment: str = typer.Argument(..., help="Fragment id or unique prefix."), json_: bool = JSON) -> None:
    """Show one fragment: its record, media, sources and remixes."""
    from hitrec.ops.show import show as run_show

    with open_repo() as repo:
        result = run_show(repo, fragment)
    if json_:
        print_json(result.to_json())
        return
    found, children = result.fragment, result.remixed_by
    console.print(f"[bold]fragment {found.id}[/]")
    rows = [
        ("title", found.title), ("kind", found.kind), ("author", str(found.author)),
        ("created", found.created.isoformat()), ("license", found.license),
        ("project", found.project or "-"), ("tags", ", ".join(found.tags) or "-"),
        ("media", f"{found.media.filename} ({found.media.mime}) {describe_media(found)}"),
        ("oid", found.media.oid),
        ("remix of", ", ".join(p[:12] for p in found.parents) or "- (original)"),
        ("remixed by", ", ".join(c[:12] for c in children) or "-"),
    ]
    if result.loudness is not None:
        rows.append(("loudness", f"{result.loudness:.1f} LUFS (integrated, EBU R128)"))
    if found.has_timeline:
        rows.append(("timeline", "yes (hitrec verify re-renders it)"))
    for label, value in rows:
        console.print(f"  [dim]{label:>10}[/]  {escape(value)}", highlight=False, soft_wrap=True)


@app.command()
def log(
    author: str = typer.Option(None, "--author", help="Only fragments by this e-mail or name."),
    kind: str = typer.Option(None, "--kind", help="audio | video | image | text"),
    tag: str = typer.Option(None, "--tag", help="Only fragments with this tag."),
    project: str = typer.Option(None, "--project", "-p", help="Only fragments of this project."),
    limit: int = typer.Option(None, "--limit", "-n", help="Show at most this many."),
    json_: bool = JSON,
) -> None:
    """List fragments, newest first."""
    from hitrec.ops.log import log as run_log

    with open_repo() as repo:
        result = run_log(repo, author=author, kind=kind, tag=tag, project=project, limit=limit, encoded=json_)
    if json_:
        print_json_lines(result.json_documents())
        return
    print_log(result.fragments or [])


def print_log(fragments: list[Fragment]) -> None:
    if not fragments:
        console.print("[dim]no fragments[/]")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("id", "kind", "title", "author", "created", "remix of"):
        table.add_column(column, overflow="fold")
    for f in fragments:
        table.add_row(f.short_id, f.kind, escape(f.title), escape(f.author.name), f.created.strftime("%Y-%m-%d %H:%M"),
                      " ".join(p[:10] for p in f.parents))
    console.print(table)


_LINEAGE_SHOWN = 30  # generations drawn each way without --depth (--json has them all)


@app.command()
def lineage(
    fragment: str = typer.Argument(..., help="Fragment id or unique prefix."),
    depth: int = typer.Option(None, "--depth", min=1,
                              help="How many generations to follow each way (text: 30; --json: all)."),
    json_: bool = JSON,
) -> None:
    """Show what a fragment was made from (sources) and what was made from it (remixed by)."""
    from hitrec.ops.lineage import lineage as run_lineage

    with open_repo() as repo:  # text draws _LINEAGE_SHOWN generations unless told otherwise
        result = run_lineage(repo, fragment, depth=depth if depth is not None or json_ else _LINEAGE_SHOWN)
    if json_:
        print_json(result.to_json())
        return
    print_lineage(result)


def print_lineage(result: LineageResult) -> None:
    from rich.tree import Tree

    def label(f: Fragment, repeated: bool = False) -> str:
        more = " [dim](shown above)[/]" if repeated else ""
        return f"[bold]{f.short_id}[/] {f.kind} [italic]{escape(f.title)}[/] by {escape(f.author.name)}{more}"

    def grow(tree: Tree, nodes: list[LineageNode]) -> None:
        stack = [(tree, nodes)]  # a stack, not recursion: a chain may be thousands deep
        while stack:
            branch, level_nodes = stack.pop()
            for node in level_nodes:
                twig = branch.add(label(node.fragment, node.repeated))
                if node.more:
                    twig.add("[dim]... more generations: use --depth N, or --json for all[/]")
                stack.append((twig, node.links))

    root = Tree(label(result.fragment))
    grow(root.add("[cyan]sources[/] [dim](original)[/]" if not result.fragment.parents else "[cyan]sources[/]"),
         result.sources)
    grow(root.add("[magenta]remixed by[/]" if result.remixed_by else "[magenta]remixed by[/] [dim](none yet)[/]"),
         result.remixed_by)
    console.print(root)


@app.command()
def cat(fragment: str = typer.Argument(..., help="Fragment id or unique prefix.")) -> None:
    """Write a fragment's media bytes to standard output."""
    from hitrec.ops.cat import cat as run_cat

    with open_repo() as repo:
        with progress("fetch", unit="bytes") as bar:  # only a metadata-only clone fetches: on stderr
            result = run_cat(repo, fragment, bar)
        out = sys.stdout.buffer
        for chunk in result.chunks():
            out.write(chunk)
        out.flush()


@app.command()
def checkout(
    fragment: str = typer.Argument(..., help="Fragment id or unique prefix."),
    path: Path = typer.Argument(None, help="Where to write the media (default: its file name here)."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing file."),
) -> None:
    """Write a fragment's media to a file."""
    from hitrec.ops.checkout import checkout as run_checkout

    with open_repo() as repo, progress("fetch", unit="bytes") as bar:
        result = run_checkout(repo, fragment, path, force=force, progress=bar)
    found = result.fragment
    console.print(f"wrote {escape(result.path)} ({found.media.size} bytes) from fragment {found.short_id}")
