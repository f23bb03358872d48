"""Property-based, end to end: generated valid timelines render, and to exactly the planned length."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from media import make_image, make_wav
from render_support import decode_audio, decode_video, make_color_video
from test_timeline_fuzz import IDS, valid_timelines

from hitrec.errors import HitrecError
from hitrec.render.engine import render_plan
from hitrec.render.ffmpeg_engine import fps_fraction
from hitrec.render.plan import InputsResolver, make_plan
from hitrec.timeline.yaml_codec import parse_timeline


@pytest.fixture(scope="module")
def resolver(tmp_path_factory: pytest.TempPathFactory) -> InputsResolver:
    d = tmp_path_factory.mktemp("fuzzmedia")
    return InputsResolver.from_files({
        IDS["video"]: make_color_video(d / "v.mp4", "red"),
        IDS["silent"]: make_color_video(d / "s.mp4", "white", seconds=1, freq=None, fps=25),
        IDS["image"]: make_image(d / "i.png"),
        IDS["audio"]: make_wav(d / "a.wav", seconds=2),
    })


@pytest.mark.slow
def test_generated_timelines_render_to_their_planned_length(resolver: InputsResolver, tmp_path: Path) -> None:
    rendered = []

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(valid_timelines())
    def run(data: dict[str, Any]) -> None:
        try:
            plan = make_plan(parse_timeline(yaml.safe_dump(data, sort_keys=False), "fuzz.yaml"), resolver)
        except HitrecError:
            return
        for clip in plan.clips("credits"):  # the lines a repo's lineage would give (these inputs have none)
            clip.credit_lines = ("Fuzz", "", "Edited by", "Ada Tester", "", "Licences", "\u201cv\u201d by Ada")
        out = render_plan(plan, tmp_path / f"out.{plan.format}")
        audio = decode_audio(out)
        assert abs(len(audio) - round(plan.length * 48000)) <= 1024  # aac frames at most
        if plan.has_video:
            frames = decode_video(out, 160, 90)
            assert len(frames) == round(plan.length * fps_fraction(plan.output.fps))
        rendered.append(plan.length)

    run()
    assert len(rendered) >= 5
