"""The credits a piece carries inside it: the lines of a ``credits`` clip, computed from the lineage.

Before a plan with a credits clip renders, :func:`fill_credits` works out the piece's credits as if it
were recorded now (its editor, its title, its own timeline as the remix's stored timeline) over the
repo's lineage, and gives every credits clip its lines: the title, "Edited by" the editor, then each
contributor in share order with what they made, then one attribution line per fragment used
("Title" by Name, licensed under LICENCE). ``hitrec verify`` fills them the same way from the remix's
recorded title and author, so the re-render is byte-identical.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hitrec.errors import HitrecError, TimelineError

if TYPE_CHECKING:
    from hitrec.credits.graph import Node
    from hitrec.render.plan import Plan
    from hitrec.store import Repo
    from hitrec.store.model import Person

PIECE = "0" * 40  # the piece being rendered, before it has an id
_ROLE_WORDS = {"remix": "edit", "derivative": "derivative"}
MAX_FRAGMENTS = 4  # what each contributor made, listed up to this many


class _WithPiece:
    """The repo's lineage plus the piece being rendered (a LineageGraph)."""

    def __init__(self, inner: object, piece: Node) -> None:
        self.inner = inner
        self.piece = piece

    def resolve(self, ref: str) -> str:
        return PIECE if ref == PIECE else self.inner.resolve(ref)  # type: ignore[attr-defined]

    def get(self, fragment_id: str) -> Node | None:
        return self.piece if fragment_id == PIECE else self.inner.get(fragment_id)  # type: ignore[attr-defined]


def credit_lines(plan: Plan, repo: Repo, title: str, editor: Person) -> list[str]:
    """The roll's lines for ``plan`` rendered by ``editor`` as ``title``."""
    from hitrec.credits.graph import Node, RepoGraph, rules_from_config, uses_of
    from hitrec.credits.mailmap import Mailmap
    from hitrec.credits.shares import compute_shares

    piece = Node(id=PIECE, author=editor, title=title, kind="video" if plan.has_video else "audio",
                 parents=plan.fragment_ids, timeline=uses_of(plan.normalized(), plan.timeline.file),
                 duration=plan.length)
    mailmap = Mailmap.load(repo.git_dir / "mailmap")
    with RepoGraph(repo) as graph:
        shares = compute_shares(_WithPiece(graph, piece), PIECE, rules_from_config(repo), mailmap)
    lines = [title, "", "Edited by", mailmap.canonical(editor).name]
    made = []
    licences = []
    for c in shares.contributors:
        fragments = [f for f in c.fragments if f.id != PIECE]
        if not fragments:
            continue
        what = ", ".join(f"{f.title or f.id[:7]} ({_ROLE_WORDS.get(f.role, f.kind)})"
                         for f in fragments[:MAX_FRAGMENTS])
        if len(fragments) > MAX_FRAGMENTS:
            what += f" and {len(fragments) - MAX_FRAGMENTS} more"
        made += ["", c.name, what]
        for f in fragments:
            licence = repo.fragment(f.id).license
            licences.append(f"\u201c{f.title or f.id[:10]}\u201d by {c.name}, licensed under {licence}")
    if made:
        lines += ["", "With contributions by", *made[1:]]
    if licences:
        lines += ["", "Licences", *licences]
    return lines


def fill_credits(plan: Plan, repo: Repo, title: str, editor: Person) -> None:
    """Give each credits clip of ``plan`` its lines; a lineage that cannot be read is one TimelineError
    naming the credits clip."""
    clips = plan.clips("credits")
    if not clips:
        return
    try:
        lines = tuple(credit_lines(plan, repo, title, editor))
    except HitrecError as exc:
        where = clips[0].where
        line = next((c.line for t in plan.timeline.tracks for c in t.clips if c.where == where), None)
        raise TimelineError(plan.timeline.file, f"the credits roll is made from the piece's lineage, which cannot "
                            f"be read: {exc}", line=line, field=where) from exc
    for clip in clips:
        clip.credit_lines = lines
