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


def _show_version(value: bool) -> None:
    if value:
        from hitrec import __version__

        typer.echo(f"hitrec {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show a traceback for errors."),
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print hitrec's version and exit."),
) -> None:
    State.debug = debug
