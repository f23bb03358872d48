"""Repo commands: init, config, fsck."""

from __future__ import annotations

from pathlib import Path

import typer

from hitrec.cli.app import app
from hitrec.cli.common import open_repo
from hitrec.cli.output import console, err_console, escape, print_json, progress


@app.command()
def init(directory: Path = typer.Argument(Path("."), help="Project folder (created if missing).")) -> None:
    """Create an empty hitrec repo (.hitrec/) in DIRECTORY."""
    from hitrec.ops.init import init as run_init

    result = run_init(directory)
    console.print(f"Initialised an empty hitrec repo in {escape(result.git_dir)}")


@app.command()
def config(
    key: str = typer.Argument(None, help="Setting, e.g. user.name, user.email, credits.editor_share."),
    value: str = typer.Argument(None, help="New value; omit to print the current one."),
    global_: bool = typer.Option(False, "--global", help="Use your user-wide config, not the repo's."),
    unset: bool = typer.Option(False, "--unset", help="Remove the setting."),
    list_: bool = typer.Option(False, "--list", "-l", help="List the known settings and their values."),
) -> None:
    """Read or set a setting. Identity works like git's: HITREC_AUTHOR_NAME/EMAIL, then hitrec, then git."""
    from hitrec.ops.config import config as run_config

    result = run_config(key, value, global_=global_, unset=unset, list_=list_)
    if list_ or key is None:
        for setting in result.settings:
            shown = escape(setting.value) if setting.value is not None else "(unset)"
            console.print(f"{setting.key} = {shown}  [dim]# {setting.meaning}[/]")
        return
    if result.written is not None:
        return
    current = result.settings[0].value
    if current is None:
        raise typer.Exit(1)
    console.print(current, markup=False)


@app.command()
def fsck(
    quick: bool = typer.Option(False, "--quick", help="Check media sizes and presence, not their hashes."),
    json_: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check the repo: git objects, fragment records, media hashes, the index."""
    from hitrec.ops.fsck import fsck as run_fsck

    with open_repo() as repo, progress("checking fragments") as bar:
        result = run_fsck(repo, hash_media=not quick, progress=bar)
    if json_:
        print_json(result.to_json())
    else:
        for problem in result.problems:
            who = f"fragment {problem.fragment[:12]}: " if problem.fragment else ""
            err_console.print(f"[red]problem:[/] {who}{escape(problem.what)}")
        for note in result.notes:
            console.print(f"[dim]note: {escape(note)}[/]")
        state = "[green]clean[/]" if result.ok else f"[red]{len(result.problems)} problem(s)[/]"
        console.print(f"checked {result.fragments} fragments, {result.media_checked} media objects, "
                      f"{result.git_objects} git objects: {state}")
    if not result.ok:
        raise typer.Exit(1)
