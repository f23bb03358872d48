"""Repo commands: init, config, fsck."""

from __future__ import annotations

from pathlib import Path

import typer

from hitrec.cli.app import app
from hitrec.cli.common import open_repo
from hitrec.cli.output import console, err_console, escape, print_json, progress
from hitrec.errors import NotARepoError, UsageError


@app.command()
def init(directory: Path = typer.Argument(Path("."), help="Project folder (created if missing).")) -> None:
    """Create an empty hitrec repo (.hitrec/) in DIRECTORY."""
    from hitrec.store import Repo

    repo = Repo.init(directory)
    console.print(f"Initialised an empty hitrec repo in {escape(repo.git_dir)}")


@app.command()
def config(
    key: str = typer.Argument(None, help="Setting, e.g. user.name, user.email, credits.editor_share."),
    value: str = typer.Argument(None, help="New value; omit to print the current one."),
    global_: bool = typer.Option(False, "--global", help="Use your user-wide config, not the repo's."),
    unset: bool = typer.Option(False, "--unset", help="Remove the setting."),
    list_: bool = typer.Option(False, "--list", "-l", help="List the known settings and their values."),
) -> None:
    """Read or set a setting. Identity works like git's: HITREC_AUTHOR_NAME/EMAIL, then hitrec, then git."""
    from hitrec.store import Repo
    from hitrec.store import config as cfg

    path = cfg.user_config_path()
    repo_path = None
    if not global_:
        try:
            repo = Repo.find()
            path = repo_path = repo.config_path
        except NotARepoError:
            if value is not None or unset:
                raise
    if list_ or key is None:
        for known, meaning in cfg.KNOWN_KEYS.items():
            current = cfg.lookup(known, repo_path)
            shown = escape(current) if current is not None else "(unset)"
            console.print(f"{known} = {shown}  [dim]# {meaning}[/]")
        return
    if key not in cfg.KNOWN_KEYS and not key.startswith("remote."):
        import difflib

        close = difflib.get_close_matches(key, cfg.KNOWN_KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(cfg.KNOWN_KEYS)}"
        raise UsageError(f"unknown setting {key!r}{hint}")
    if unset:
        cfg.write_value(path, key, None)
    elif value is not None:
        if key.startswith("credits.") and not _is_fraction(value):
            raise UsageError(f"{key} must be a number between 0 and 1, not {value!r}")
        cfg.write_value(path, key, value)
    else:
        current = cfg.lookup(key, repo_path) if not global_ else cfg.read_value(path, key)
        if current is None:
            raise typer.Exit(1)
        console.print(current, markup=False)


def _is_fraction(value: str) -> bool:
    try:
        return 0 <= float(value) <= 1
    except ValueError:
        return False


@app.command()
def fsck(
    quick: bool = typer.Option(False, "--quick", help="Check media sizes and presence, not their hashes."),
    json_: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check the repo: git objects, fragment records, media hashes, the index."""
    from hitrec.store.fsck import fsck as run_fsck

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
