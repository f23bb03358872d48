"""Preview commands: `hitrec preview` (a frame, a contact sheet, a stretch of sound)."""

from __future__ import annotations

from pathlib import Path

import typer

from hitrec.cli.app import app
from hitrec.cli.common import open_repo
from hitrec.cli.output import console, escape, print_json


@app.command()
def preview(
    timeline: Path = typer.Argument(..., help="A timeline YAML file (see docs/timeline.md)."),
    output: Path = typer.Option(..., "--output", "-o", help="The file to write: .png/.jpg for frames, "
                                ".wav/.flac/.mp3 for sound."),
    at: list[float] = typer.Option(None, "--at", help="A time in seconds: the frame shown then (repeat it "
                                   "with --sheet for a contact sheet)."),
    sheet: bool = typer.Option(False, "--sheet", help="Tile the frames of every --at into one image."),
    start: float = typer.Option(None, "--from", help="Sound preview: where the range starts (seconds)."),
    end: float = typer.Option(None, "--to", help="Sound preview: where the range ends (seconds)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Preview a timeline fast, without rendering it all: a frame, a contact sheet or a stretch of sound."""
    from hitrec.ops.preview import preview as run_preview

    with open_repo() as repo:
        result = run_preview(repo, timeline, output, at=at, sheet=sheet, start=start, end=end)
    if json_:
        print_json(result.to_json())
        return
    if result.kind == "sound":
        assert result.range is not None
        what = f"sound {result.range[0]:g}-{result.range[1]:g} s"
    else:
        what = ("frame at " if result.kind == "frame" else "contact sheet of ") + ", ".join(
            f"{t:g} s" for t in result.times)
    console.print(f"wrote {escape(result.output)} ({what})", soft_wrap=True)
