"""`hitrec timeline export` and `hitrec timeline import`: timelines to and from OpenTimelineIO (docs/otio.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from hitrec.cli.app import app
from hitrec.cli.common import open_repo
from hitrec.cli.output import console, escape, print_json, warn

timeline_app = typer.Typer(help="Exchange timelines with editors: OpenTimelineIO, FCP XML, EDL, AAF, Kdenlive.",
                           no_args_is_help=True)
app.add_typer(timeline_app, name="timeline")

JSON = typer.Option(False, "--json", help="Print JSON.")


@timeline_app.command("export")
def export(
    source: str = typer.Argument(..., help="A timeline YAML file, or a piece (a remix's fragment id)."),
    output: Path = typer.Option(..., "--output", "-o", help="The file to write; its extension names the "
                                "format: .otio, .otioz (media bundled), .xml, .edl, .aaf, .fcpxml, .kdenlive."),
    json_: bool = JSON,
) -> None:
    """Write a timeline (or a piece's stored timeline) as OpenTimelineIO or an editor's format."""
    from hitrec.ops.timeline_io import export as run_export

    with open_repo() as repo:
        result = run_export(repo, source, output)
    if json_:
        print_json(result.to_json())
        return
    bundled = f", {result.bundled} media files bundled" if result.bundled else ""
    console.print(f"wrote {escape(result.output)} ({result.label}): {result.tracks} tracks, {result.clips} clips, "
                  f"{result.transitions} transitions, {len(result.fragments)} fragments, {result.length:.2f}s"
                  f"{bundled}", soft_wrap=True)
    for line in result.warnings:
        warn(line)


@timeline_app.command("import")
def import_(
    source: Path = typer.Argument(..., help="An OTIO file (.otio, .otioz, .xml, .edl, .aaf, .fcpxml, .kdenlive)."),
    output: Path = typer.Option(..., "--output", "-o", help="The hitrec timeline YAML to write."),
    json_: bool = JSON,
) -> None:
    """Read an OTIO (or editor's) timeline into a hitrec timeline, mapping its media to fragments."""
    from hitrec.ops.timeline_io import import_ as run_import

    with open_repo() as repo:
        result = run_import(repo, source, output)
    if json_:
        print_json(result.to_json())
        return
    how = ", ".join(f"{n} by {way}" for way, n in result.matched.items() if n)
    console.print(f"wrote {escape(result.output)}: {result.tracks} tracks, {result.clips} clips, "
                  f"{len(result.fragments)} fragments ({how}), {result.length:.2f}s", soft_wrap=True)
    for line in result.warnings:
        warn(line)
