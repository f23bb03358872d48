"""Cache commands: `hitrec cache` (what the render's cache of segments and sounds holds) and `hitrec cache clear`."""

from __future__ import annotations

import typer

from hitrec.cli.app import app
from hitrec.cli.common import open_repo
from hitrec.cli.output import console, escape, print_json

cache_app = typer.Typer(help="The render's cache of picture segments and sounds: `hitrec cache` shows it, "
                        "`hitrec cache clear` empties it.",
                        invoke_without_command=True, no_args_is_help=False)
app.add_typer(cache_app, name="cache")

JSON = typer.Option(False, "--json", help="Print JSON.")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


@cache_app.callback()
def show(ctx: typer.Context, json_: bool = JSON) -> None:
    """Show the render cache (picture segments and sounds): entries, size and limit (config `cache.max-size`)."""
    if ctx.invoked_subcommand is not None:
        return
    from hitrec.ops.cache import cache

    with open_repo() as repo:
        result = cache(repo)
    if json_:
        print_json(result.to_json())
        return
    console.print(f"render cache {escape(result.folder)}: {result.entries} entries ({result.entries - result.sounds} "
                  f"segments, {result.sounds} sounds), {_size(result.size)} of {_size(result.limit)} "
                  "(cache.max-size)", soft_wrap=True)


@cache_app.command()
def clear(json_: bool = JSON) -> None:
    """Empty the render cache (renders stay byte-identical; they only take longer once)."""
    from hitrec.ops.cache import cache

    with open_repo() as repo:
        result = cache(repo, clear=True)
    if json_:
        print_json(result.to_json())
        return
    console.print(f"cleared the render cache: {result.entries} entries, {_size(result.size)}")
