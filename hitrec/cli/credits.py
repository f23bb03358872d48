"""`hitrec credits PIECE`: each contributor's share of a piece, payouts of a profit, and why."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from hitrec.cli.app import app
from hitrec.cli.output import console, print_json
from hitrec.errors import UsageError

if TYPE_CHECKING:
    from hitrec.ops.credits import CreditsResult


@app.command()
def credits(
    piece: str = typer.Argument(..., help="The piece: a fragment id or unique prefix."),
    profit: str = typer.Option(None, "--profit", help="Profit to pay out, a decimal amount like 1234.56."),
    community_share: str = typer.Option(None, "--community-share",
                                        help="Part of the profit for contributors, 0..1 (default 0.5)."),
    currency: str = typer.Option("USD", "--currency", help="Currency code of --profit (a label; cents)."),
    explain: str = typer.Option(None, "--explain", help="Show every path that gives WHO (e-mail or name) "
                                "their share."),
    max_paths: int = typer.Option(200, "--max-paths", help="Most paths --explain lists."),
    format_: str = typer.Option("table", "--format", "-f",
                                help="table | json | csv | markdown | roll (end-credits text)."),
    json_: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    """Each contributor's share of PIECE, by the credits rule (see docs/credits.md)."""
    from hitrec.cli.common import open_repo
    from hitrec.cli.output import progress
    from hitrec.credits import report as out
    from hitrec.ops.credits import credits as run_credits

    fmt = "json" if json_ else format_.lower()
    if fmt not in out.FORMATS:
        raise UsageError(f"--format {format_!r}: choose one of {', '.join(out.FORMATS)}")
    if community_share is not None and profit is None:
        raise UsageError("--community-share needs --profit AMOUNT")
    if explain is not None and fmt in ("csv", "roll"):
        raise UsageError("--explain prints a text or JSON report; use --format table, markdown or json")
    with open_repo() as repo, progress("reading the lineage") as bar:
        report = run_credits(repo, piece, profit=profit, community_share=community_share, currency=currency,
                             explain_who=explain, max_paths=max_paths, progress=bar)
    if fmt == "json":
        print_json(report.to_json())
    elif fmt == "csv":
        sys.stdout.write(out.to_csv(report))
    elif fmt == "roll":
        sys.stdout.write(out.roll(report))
    elif fmt == "markdown":
        sys.stdout.write(out.to_markdown(report))
        if report.explanation is not None:
            sys.stdout.write("\n```\n" + "\n".join(out.explanation_lines(report.explanation)) + "\n```\n")
    else:
        print_table(report)


def print_table(report: CreditsResult) -> None:
    from rich.table import Table

    from hitrec.credits import report as out

    for line in out.summary_lines(report):
        console.print(line, style="dim", soft_wrap=True, markup=False)
    headers, rows = out.rows(report)
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if i in (1, 3, 4) else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if report.explanation is not None:
        console.print()
        for line in out.explanation_lines(report.explanation):
            console.print(line, soft_wrap=True, markup=False)
