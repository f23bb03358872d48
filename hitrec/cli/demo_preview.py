"""`hitrec demo`'s preview step: one frame of the remixed timeline, seeked to, not rendered up to."""

from __future__ import annotations

from hitrec.cli.demo_state import DemoState
from hitrec.cli.output import console, escape

PREVIEW_AT = 2.5  # seconds: in the demo's cross-fade from the drawing to the sky


def preview_frame(state: DemoState) -> None:
    """One line under the remix: the frame file `hitrec preview` wrote."""
    from hitrec.ops.preview import preview

    out = state.repo.root / "frame.png"
    result = preview(state.repo, state.repo.root / "timeline.yaml", out, at=[PREVIEW_AT])
    console.print(f"  {'':<12} hitrec preview timeline.yaml --at {PREVIEW_AT:g} -o frame.png -> wrote "
                  f"{escape(result.output.name)} (the frame at {PREVIEW_AT:g} s)", soft_wrap=True)
