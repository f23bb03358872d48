"""`hitrec demo`: a complete small collaboration, end to end, on media it generates itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from hitrec.cli.app import app
from hitrec.cli.demo_gallery import show_gallery
from hitrec.cli.demo_hub import share_through_hub
from hitrec.cli.demo_otio import export_otio
from hitrec.cli.demo_phone import phone_media
from hitrec.cli.demo_preview import preview_frame
from hitrec.cli.demo_state import CONTRIBUTORS, DemoState, describe, step
from hitrec.cli.output import console
from hitrec.errors import UsageError


def contribute(state: DemoState) -> None:
    from hitrec.store import FragmentSpec

    step(state, "Contributors record fragments")
    plan = [
        ("voice", "maya", "Morgan's big line", ("voice-over",), "CC-BY-4.0"),
        ("chords", "leo", "Three chords in C", ("music",), "CC-BY-4.0"),
        ("shot", "sam", "City at dusk", ("footage",), "CC-BY-4.0"),
        ("sky", "sam", "Test-card sky", ("footage",), "CC-BY-4.0"),
        ("story", "ines", "Page one of the story", ("story",), "CC-BY-4.0"),
        ("captions", "maya", "Captions of Morgan's line", ("captions",), "CC-BY-4.0"),
    ]
    specs = [FragmentSpec(state.media[key], title=title, tags=tags, license=lic, project="date-with-destiny",
                          author=CONTRIBUTORS[who]) for key, who, title, tags, lic in plan]
    for (key, who, *_), fragment in zip(plan, state.repo.record(specs), strict=True):
        state.fragments[key] = fragment
        console.print(f"  {CONTRIBUTORS[who].name:<12} hitrec add {state.media[key].name:<18} -> "
                      f"[bold]{fragment.short_id}[/] {fragment.kind} {describe(fragment)}")
    drawing, = state.repo.record([FragmentSpec(
        state.media["drawing"], title="Morgan, drawn from page one", tags=("drawing",), license="CC-BY-4.0",
        project="date-with-destiny", parents=(state.fragments["story"].id,), author=CONTRIBUTORS["ines"])])
    state.fragments["drawing"] = drawing
    console.print(f"  {'Inès Duval':<12} hitrec add drawing.png --remix-of {state.fragments['story'].short_id}"
                  f" -> [bold]{drawing.short_id}[/] (a derivative)")


def show_log(state: DemoState) -> None:
    step(state, "hitrec log")
    from hitrec.cli.fragments import print_log
    from hitrec.ops.log import log

    print_log(log(state.repo).fragments or [])


def show_lineage(state: DemoState, key: str = "piece") -> None:
    step(state, f"The piece's lineage: hitrec lineage {state.fragments[key].short_id}")
    from hitrec.cli.fragments import print_lineage
    from hitrec.ops.lineage import lineage

    print_lineage(lineage(state.repo, state.fragments[key].id))


DEMO_TIMELINE = """\
hitrec: 1
title: Morgan M. Morgansen's Date With Destiny
output: {{size: [320, 180], fps: 24, sample_rate: 48000, format: mp4}}
credits: {{editor_share: 0.2}}
tracks:
  - kind: video
    name: picture
    clips:
      - {{fragment: {shot}, from: 0, to: 2.5, mute: true}}
      - {{fragment: {drawing}, duration: 2, fit: cover, zoom: in, pan: right,
         transition: {{type: wipeleft, duration: 0.5}}}}
      - {{fragment: {sky}, to: 2, mute: true, fade_out: 0.5, transition: {{type: crossfade, duration: 0.5}}}}
  - kind: audio
    name: voice
    clips:
      - {{fragment: {voice}, at: 1, gain: -2, fade_in: 0.1, fade_out: 0.3}}
  - kind: audio
    name: music
    clips:
      - {{fragment: {chords}, at: 0, duration: 5.5, loop: true, gain: -10, fade_out: 1, duck_under: voice}}
  - kind: text
    clips:
      - {{text: "Morgan M. Morgansen's Date With Destiny", at: 0.2, duration: 2, size: 14, position: bottom,
         fade_in: 0.3, fade_out: 0.3}}
  - kind: captions
    clips:
      - {{fragment: {captions}, at: 2.4, size: 12}}
  - kind: credits
    clips:
      - {{at: 5.5, duration: 2.5, size: 10}}
"""


def remix_piece(state: DemoState) -> None:
    step(state, "The editor remixes them: hitrec remix timeline.yaml")
    from hitrec.ops.remix import remix
    from hitrec.ops.verify import verify

    ids = {key: state.fragments[key].short_id for key in ("shot", "drawing", "sky", "voice", "chords", "captions")}
    timeline = state.repo.root / "timeline.yaml"
    timeline.write_text(DEMO_TIMELINE.format(**ids), encoding="utf-8")
    result = remix(state.repo, timeline, author=CONTRIBUTORS["editor"])
    piece = result.fragment
    assert piece is not None  # not a dry run
    state.fragments["piece"] = piece
    console.print(f"  {CONTRIBUTORS['editor'].name:<12} hitrec remix timeline.yaml -> [bold]{piece.short_id}[/] "
                  f"{piece.kind} {describe(piece)}")
    console.print(f"  {'':<12} remix of {', '.join(p[:10] for p in piece.parents)}; licence {piece.license}")
    checked = verify(state.repo, piece.id)
    console.print(f"  {'':<12} hitrec verify {piece.short_id} -> "
                  + ("re-renders to identical bytes" if checked.ok else "[red]MISMATCH[/]"))


def show_credits(state: DemoState) -> None:
    from hitrec.cli.credits import print_table
    from hitrec.ops.credits import credits

    piece = state.fragments["piece"]
    step(state, f"Credits and payouts: hitrec credits {piece.short_id} --profit 1000")
    print_table(credits(state.repo, piece.id, profit="1000.00", currency="USD"))


# The demo, in order: contributions, the log, a remix (and a preview frame of it), its OTIO export, its lineage,
# sharing through a hub, who gets what, and what phones and browsers make.
STEPS = [contribute, show_log, remix_piece, preview_frame, export_otio, show_lineage, share_through_hub,
         show_credits, phone_media]


@app.command()
def demo(
    directory: Path = typer.Argument(Path("hitrec-demo"), help="Folder to build the demo in."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace the folder if it exists."),
    keep_hub: bool = typer.Option(False, "--keep-hub", help="Leave the demo's hub running to browse its gallery."),
) -> None:
    """Run a complete small collaboration end to end: contributions, lineage, remix, credits, a hub."""
    import os

    from hitrec.demo_media import generate
    from hitrec.store import Repo

    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()):
        if not force:
            raise UsageError(f"{directory} exists and is not empty; use --force to replace it")
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]hitrec demo[/] in {directory.resolve()}")
    media = generate(directory / "media")
    repo = Repo.init(directory / "studio")
    previous = Path.cwd()
    os.chdir(repo.root)
    try:
        state = DemoState(directory.resolve(), repo, media)
        for run in STEPS:
            run(state)
        show_gallery(state, keep=keep_hub)
    finally:
        os.chdir(previous)
        repo.close()
    console.print()
    console.print(f"[green]demo complete[/]: the repo is in {repo.root}; try "
                  f"`cd {repo.root} && hitrec log` or `git --git-dir .hitrec log --graph --oneline main`")
