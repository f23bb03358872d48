"""`hitrec credits PIECE`: each contributor's share of a piece, payouts of a profit, and why (the rule:
docs/credits.md). The text forms of the result (table rows, CSV, Markdown, the end roll) are in
:mod:`hitrec.credits.report`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hitrec.credits.explain import DEFAULT_MAX_PATHS, Explanation, explain
from hitrec.credits.graph import RepoGraph, rules_from_config
from hitrec.credits.mailmap import Mailmap
from hitrec.credits.numbers import parse_share
from hitrec.credits.payouts import DEFAULT_COMMUNITY_SHARE, Payout, Payouts, compute_payouts, minor_units, parse_amount
from hitrec.credits.report import percent
from hitrec.credits.shares import Shares, compute_shares
from hitrec.progress import ProgressFn
from hitrec.store import Repo


@dataclass
class CreditsResult:
    shares: Shares
    payouts: Payouts | None = None
    explanation: Explanation | None = None
    rule_origins: dict[str, str] = field(default_factory=dict)  # rule -> "config" | "default"

    def payout_of(self, cid: str) -> Payout | None:
        if self.payouts is None:
            return None
        return next((p for p in self.payouts.payouts if p.contributor == cid), None)

    def to_json(self, fragments_per_contributor: int | None = None) -> dict[str, Any]:
        report = self
        shares = report.shares
        piece = shares.piece
        data: dict[str, Any] = {
            "piece": {"id": piece.id, "title": piece.title, "role": piece.role,
                      "author": {"name": piece.author.name, "email": piece.author.email},
                      "seconds": round(shares.seconds, 3)},
            "rules": {
                "editor_share": str(shares.rules.editor_share),
                "derivative_share": str(shares.rules.derivative_share),
                "source": dict(report.rule_origins),
                "overrides": {fid: str(v) for fid, v in shares.overrides.items()},
            },
            "editor": shares.editor,
            "fragments_reached": shares.fragments_reached,
            "contributors": [],
        }
        for c in shares.contributors:
            entry: dict[str, Any] = {
                "id": c.id, "name": c.name, "email": c.email,
                "share": str(c.share), "percent": percent(c.share, 4),
                "seconds": round(c.seconds, 3),
                "fragments": [
                    {"id": f.id, "title": f.title, "kind": f.kind, "role": f.role, "share": str(f.kept),
                     "reached": str(f.flow), "seconds": round(f.seconds, 3)}
                    for f in c.fragments[:fragments_per_contributor]
                ],
            }
            payout = report.payout_of(c.id)
            if payout is not None:
                entry["payout"] = {"amount": payout.amount, "cents": payout.cents}
            data["contributors"].append(entry)
        if report.payouts is not None:
            p = report.payouts
            data["payouts"] = {"currency": p.currency, "profit": p.profit, "community_share": p.community_share,
                               "pool": p.pool, "pool_cents": p.pool_cents, "company": p.company,
                               "rounding": "largest remainder, ties by contributor id"}
        if report.explanation is not None:
            data["explain"] = explanation_json(report.explanation)
        return data


def explanation_json(explanation: Explanation) -> dict[str, Any]:
    c = explanation.contributor
    return {
        "contributor": {"id": c.id, "name": c.name, "email": c.email},
        "share": str(c.share),
        "total_paths": explanation.total_paths,
        "paths": [
            {"steps": [{"fragment": s.fragment, "title": s.title, "author": s.author,
                        "factor": str(s.factor), "why": s.why} for s in p.steps],
             "fragment": p.fragment, "title": p.title, "keeps": str(p.keeps), "why": p.why,
             "value": str(p.value)}
            for p in explanation.paths
        ],
        "shown_value": str(explanation.shown_value),
    }


def mailmap_of(repo: Repo) -> Mailmap:
    return Mailmap.load(repo.git_dir / "mailmap")


def credits(repo: Repo, piece: str, *, profit: str | None = None,
            community_share: str | None = None, currency: str = "USD", explain_who: str | None = None,
            max_paths: int = DEFAULT_MAX_PATHS, progress: ProgressFn | None = None) -> CreditsResult:
    """Shares of ``piece`` for every contributor, with payouts of ``profit`` and an explanation."""
    # check the options before reading the lineage, so a typo fails fast
    if profit is not None:
        parse_amount(profit, minor_units(currency))
    if community_share is not None:
        parse_share(community_share)
    rules = rules_from_config(repo)
    origins = {name: "config" if repo.config_get(f"credits.{name}") not in (None, "") else "default"
               for name in ("editor_share", "derivative_share")}
    mailmap = mailmap_of(repo)
    with RepoGraph(repo) as graph:
        shares = compute_shares(graph, piece, rules, mailmap, progress)
    report = CreditsResult(shares, rule_origins=origins)
    if profit is not None:
        report.payouts = compute_payouts(shares, profit, community_share or DEFAULT_COMMUNITY_SHARE,
                                         currency)
    if explain_who is not None:
        report.explanation = explain(shares, explain_who, mailmap, max_paths)
    return report
