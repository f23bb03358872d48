"""`hitrec verify`: re-render a remix from its stored timeline and compare it byte for byte with its media."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hitrec.errors import CorruptRepoError, FragmentError
from hitrec.progress import ProgressFn
from hitrec.render.engine import render_plan
from hitrec.render.plan import make_plan
from hitrec.render.scratch import scratch_dir
from hitrec.store import Fragment, Repo
from hitrec.store.format import TIMELINE_YAML
from hitrec.store.media_store import sha256_file
from hitrec.sync.fetch import fetching_resolver
from hitrec.timeline import parse_timeline


@dataclass
class VerifyResult:
    id: str
    ok: bool
    expected_oid: str
    actual_oid: str
    parents_ok: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "ok": self.ok, "expected": self.expected_oid, "actual": self.actual_oid,
                "parents_ok": self.parents_ok}


def stored_timeline(repo: Repo, fragment: Fragment) -> bytes | None:
    """The ``timeline.yaml`` a remix's commit holds (None: not a remix); a missing git object is a
    CorruptRepoError, not dulwich's KeyError."""
    try:
        return repo.read_fragment_file(fragment.id, TIMELINE_YAML)
    except KeyError as exc:
        raise CorruptRepoError(f"fragment {fragment.id[:12]} is missing from the git objects (its commit or "
                               "tree is gone); run `hitrec fsck`, and `hitrec pull` to fetch it again") from exc


def verify(repo: Repo, ref: str, progress: ProgressFn | None = None) -> VerifyResult:
    """Re-render a remix from its stored timeline and compare it byte for byte with its media."""
    fragment = repo.fragment(ref)
    data = stored_timeline(repo, fragment)
    if data is None:
        raise FragmentError(f"fragment {fragment.id[:10]} is not a remix (it has no timeline.yaml); only "
                            "remixes recorded by `hitrec remix` can be verified")
    timeline = parse_timeline(data.decode("utf-8", "replace"), f"{fragment.id[:10]}:timeline.yaml")
    with fetching_resolver(repo, progress) as resolver, scratch_dir("verify") as work:
        plan = make_plan(timeline, resolver, timeline.output.format)
        if plan.clips("credits"):
            from hitrec.credits.roll import fill_credits

            fill_credits(plan, repo, fragment.title, fragment.author)
        out = render_plan(plan, work / f"verify.{plan.format}", progress)
        actual = sha256_file(out)
    return VerifyResult(fragment.id, actual == fragment.media.oid, fragment.media.oid, actual,
                        tuple(fragment.parents) == plan.fragment_ids)
