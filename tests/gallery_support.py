"""A small collaboration for the gallery's tests, recorded straight into a hub's bare repo with the
store's writer (the same objects a push leaves there): audio, video, an image, a text, a derivative,
a piece with a timeline, and a fragment titled with an XSS attempt."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from media import make_image, make_video, make_wav

from hitrec.store import FragmentSpec, Repo
from hitrec.store.model import Person

XSS = "<img src=x onerror=alert(1)>"
ADA = Person("Ada Lovelace", "ada@example.org")
BEA = Person("Bea <b>Bold</b>", "bea@example.org")
CY = Person("Cy Twombly", "cy@example.org")


@dataclass
class Seeded:
    ids: dict[str, str] = field(default_factory=dict)
    oids: dict[str, str] = field(default_factory=dict)


def seed(git_dir: Path, folder: Path) -> Seeded:
    folder.mkdir(parents=True, exist_ok=True)
    repo = Repo.open(git_dir)
    out = Seeded()
    try:
        story = folder / "story.txt"
        story.write_text("Once upon a time <script>window.__xss = 1</script> a fox & a crow met.\n")
        specs = {
            "tone": FragmentSpec(make_wav(folder / "tone.wav", seconds=1.5, rate=8000, channels=1),
                                 title="A low tone", tags=("music", "drone"), license="CC-BY-4.0",
                                 project="fox", author=ADA),
            "clip": FragmentSpec(make_video(folder / "clip.webm", seconds=1.0, size="160x90", fps=12),
                                 title="Test card", tags=("footage",), license="CC-BY-SA-4.0", project="fox",
                                 author=BEA),
            "picture": FragmentSpec(make_image(folder / "red.png", size="64x48"), title="Red square",
                                    tags=("drawing",), license="CC0-1.0", author=CY),
            "story": FragmentSpec(story, title="The fox and the crow", tags=("story",), license="CC-BY-4.0",
                                  project="fox", author=ADA),
            "xss": FragmentSpec(make_wav(folder / "xss.wav", seconds=0.5, freq=880, rate=8000, channels=1),
                                title=XSS, tags=(XSS, "music"), license="CC-BY-4.0", author=BEA),
        }
        for key, spec in specs.items():
            fragment, = repo.record([spec])
            out.ids[key] = fragment.id
            out.oids[key] = fragment.media.oid
        derived, = repo.record([FragmentSpec(make_wav(folder / "tone2.wav", seconds=1.0, freq=300, rate=8000,
                                                      channels=1),
                                             title="The tone, lower", tags=("music",), license="CC-BY-4.0",
                                             parents=(out.ids["tone"],), author=CY)])
        out.ids["derived"] = derived.id
        timeline = {"hitrec": 1, "title": "Fox piece",
                    "output": {"sample_rate": 8000, "channels": 1, "format": "wav"},
                    "tracks": [{"kind": "audio", "name": "music",
                                "clips": [{"fragment": out.ids["tone"], "at": 0, "duration": 1.5},
                                          {"fragment": derived.id, "at": 1.5, "duration": 1.0}]},
                               {"kind": "audio", "name": "beep",
                                "clips": [{"fragment": out.ids["xss"], "at": 0.5, "duration": 0.5}]}]}
        piece, = repo.record([FragmentSpec(make_wav(folder / "piece.wav", seconds=2.5, freq=500, rate=8000,
                                                    channels=1),
                                           title="Fox piece", tags=("piece",), license="CC-BY-SA-4.0",
                                           parents=(out.ids["tone"], derived.id, out.ids["xss"]), author=ADA,
                                           extra_files={"timeline.yaml": yaml.safe_dump(timeline).encode()})])
        out.ids["piece"] = piece.id
    finally:
        repo.close()
    return out
