"""The typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="hitrec",
    help="git-style collaboration on media fragments: record, remix, credit and sync.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: typer's rich help imports markdown and pygments (+150 ms)
    context_settings={"help_option_names": ["-h", "--help"]},
)


class State:
    debug = False


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show a traceback for errors."),
) -> None:
    State.debug = debug
