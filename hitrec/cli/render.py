"""Render commands: render (a timeline to a file), remix (render and record), verify (re-render a remix)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hitrec.cli.app import app
from hitrec.cli.common import open_repo
from hitrec.cli.output import console, print_json, progress, warn

if TYPE_CHECKING:
    from hitrec.ops.remix import RemixResult


def _esc(text: object) -> str:
    """Titles, texts and paths are data, not rich markup."""
    from rich.markup import escape

    return escape(str(text))

JSON = typer.Option(False, "--json", help="Print JSON.")
ENGINE = typer.Option("ffmpeg", "--engine", help="ffmpeg (default, one filter graph) or moviepy (reference).")


@app.command()
def render(
    timeline: Path = typer.Argument(..., help="A timeline YAML file (see docs/timeline.md)."),
    output: Path = typer.Option(..., "--output", "-o", help="The file to write (mp4, webm, wav, mp3, flac)."),
    engine: str = ENGINE,
    captions: Path = typer.Option(None, "--captions", help="Write the captions to this .srt or .vtt file (and a "
                                  "subtitle stream) instead of burning them in."),
    draft: bool = typer.Option(False, "--draft", help="A quick look: a quarter of the picture's area, the "
                               "fastest encoder settings, the same timing and sound."),
    json_: bool = JSON,
) -> None:
    """Render a timeline into a finished piece, without recording it."""
    from hitrec.ops.render import render as run_render

    with open_repo() as repo, progress("rendering", unit="seconds") as bar:
        result = run_render(repo, timeline, output, progress=bar, engine=engine, captions=captions, draft=draft)
    for message in result.warnings:
        warn(message)
    if json_:
        print_json(result.to_json())
        return
    sound = " and the sound" if result.sound_reused else ""
    reused = f"; {result.reused} of {result.segments} segments{sound} from the cache" if result.reused else ""
    if result.sound_reused and not result.reused:
        reused = "; the sound from the cache"
    what = "draft" if result.draft else result.plan.format
    console.print(f"rendered {_esc(result.output)} ({result.plan.length:.2f}s {what}, "
                  f"{len(result.plan.fragment_ids)} fragments{reused})", soft_wrap=True)


@app.command()
def remix(
    timeline: Path = typer.Argument(..., help="A timeline YAML file (see docs/timeline.md)."),
    title: str = typer.Option(None, "--title", "-t", help="Title of the remix (default: the timeline's)."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Print the plan; render and record nothing."),
    json_: bool = JSON,
) -> None:
    """Render a timeline and record the result as a fragment remixing the fragments it uses.

    Remixes always render with the default ffmpeg engine, so `hitrec verify` can re-render them.
    """
    from hitrec.ops.remix import remix as run_remix

    with open_repo() as repo, progress("rendering", unit="seconds") as bar:
        result = run_remix(repo, timeline, title=title, dry_run=dry_run, progress=bar)
    if json_:
        print_json(result.to_json())
        return
    if dry_run:
        _print_plan(result)
        return
    fragment = result.fragment
    assert fragment is not None
    console.print(f"[bold]{fragment.id}[/]  {fragment.kind:5}  {_esc(fragment.title)}", soft_wrap=True)
    console.print(f"  remix of {len(result.parents)} fragments, {result.plan.length:.2f}s "
                  f"{result.plan.format}, licence {result.license}", soft_wrap=True)


@app.command()
def verify(
    fragment: str = typer.Argument(..., help="A remix's fragment id or unique prefix."),
    json_: bool = JSON,
) -> None:
    """Re-render a remix from its stored timeline and check it matches its media byte for byte."""
    from hitrec.ops.verify import verify as run_verify

    with open_repo() as repo, progress("re-rendering", unit="seconds") as bar:
        result = run_verify(repo, fragment, progress=bar)
    if json_:
        print_json(result.to_json())
    elif result.ok:
        console.print(f"ok: {result.id[:12]} re-renders to identical bytes (sha256 {result.actual_oid[:16]}...)")
    else:
        console.print(f"[red]mismatch[/]: {result.id[:12]} re-rendered to sha256 {result.actual_oid[:16]}... "
                      f"but its media is {result.expected_oid[:16]}...")
    if not result.ok or not result.parents_ok:
        if not result.parents_ok and not json_:
            console.print("[red]mismatch[/]: the fragment's parents differ from the fragments its timeline uses")
        raise typer.Exit(1)


def _print_plan(result: RemixResult) -> None:
    plan = result.plan
    o = plan.output
    size = f"{o.size[0]}x{o.size[1]} {o.fps:g}fps, " if o.size else "audio only, "
    console.print(f"[bold]plan[/] {_esc(repr(result.title))}: {plan.length:.3f}s, {size}{o.sample_rate} Hz, "
                  f"{o.format}; licence {result.license}", soft_wrap=True)
    console.print("fragments:")
    for used in plan.inputs.values():
        console.print(f"  {used.id}  {used.kind:5}  {used.license:16} {_esc(used.title)}", soft_wrap=True)
    console.print("tracks:")
    for track in plan.tracks:
        console.print(f"  {track.kind} {_esc(repr(track.name))}")
        for clip in track.clips:
            what = clip.input.id[:10] if clip.input else _esc(repr(clip.text))
            src = f" from {clip.src_from:g}s" if clip.input and clip.kind != "image" else ""
            console.print(f"    {clip.at:8.3f} - {clip.end:8.3f}s  {clip.kind:5} {what}{src}", soft_wrap=True)
    console.print("dry run: nothing rendered or recorded")
