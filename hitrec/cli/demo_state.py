"""What the steps of `hitrec demo` share: the cast, the state each step leaves for the next, the headings.

demo.py runs the steps and demo_hub.py holds the hub step; both import this module, neither the other's
(hub step <- demo) so there is no import circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hitrec.cli.output import console
from hitrec.store.model import Fragment, Person

if TYPE_CHECKING:
    from hitrec.store import Repo

CONTRIBUTORS = {
    "maya": Person("Maya Okafor", "maya@example.org"),  # voice actor
    "leo": Person("Leo Brandt", "leo@example.org"),  # musician
    "sam": Person("Sam Ito", "sam@example.org"),  # camera
    "ines": Person("Inès Duval", "ines@example.org"),  # illustrator, writer
    "editor": Person("Jo Editor", "jo@example.org"),  # the editor who remixes
}


@dataclass
class DemoState:
    """What each step leaves for the next ones."""

    folder: Path
    repo: Repo
    media: dict[str, Path]
    fragments: dict[str, Fragment] = field(default_factory=dict)
    steps_shown: int = 0


def step(state: DemoState, title: str) -> None:
    """Print the next numbered step's heading."""
    from rich.rule import Rule

    state.steps_shown += 1
    console.print()
    console.print(Rule(f"[bold]{state.steps_shown}. {title}[/]", align="left"))


def describe(fragment: Fragment) -> str:
    from hitrec.cli.common import describe_media

    return describe_media(fragment)
