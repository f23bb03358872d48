"""`hitrec demo`'s OTIO step: the editor hands the piece's timeline to other editing tools."""

from __future__ import annotations

from hitrec.cli.demo_state import CONTRIBUTORS, DemoState, step
from hitrec.cli.output import console, escape


def export_otio(state: DemoState) -> None:
    from hitrec.ops.timeline_io import export

    piece = state.fragments["piece"]
    step(state, f"Other editors: hitrec timeline export {piece.short_id} -o piece.otio")
    out = state.folder / "piece.otio"
    result = export(state.repo, piece.id, out)
    console.print(f"  {CONTRIBUTORS['editor'].name:<12} wrote {escape(out.name)}: {result.tracks} OTIO tracks, "
                  f"{result.clips} clips, {result.transitions} transitions, {len(result.fragments)} fragments "
                  f"({result.length:.2f}s)", soft_wrap=True)
    console.print(f"  {'':<12} every fragment id, weight and the credits settings ride in its hitrec metadata; "
                  f"{len(result.warnings)} note(s) on what other editors will not apply; "
                  "`hitrec timeline import piece.otio` gives the same timeline back", soft_wrap=True)
