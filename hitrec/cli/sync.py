"""Sync commands: remote add/list/remove, login, push, pull, clone."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from hitrec.cli.app import app
from hitrec.cli.common import human_size, open_repo
from hitrec.cli.output import console, err_console, escape, print_json, progress, warn
from hitrec.errors import UsageError

remote_app = typer.Typer(help="Name the hubs this repo syncs with.", no_args_is_help=True)
app.add_typer(remote_app, name="remote")


@remote_app.command("add")
def remote_add(
    name: str = typer.Argument(..., help="A short name, e.g. origin."),
    url: str = typer.Argument(..., help="The collaboration's URL, e.g. http://127.0.0.1:8642/film.git"),
    replace: bool = typer.Option(False, "--replace", help="Point an existing remote at a new URL."),
) -> None:
    """Add a remote (credentials in the URL are dropped: use `hitrec login`)."""
    from hitrec.sync.remotes import add_remote, split_url

    _, creds = split_url(url)
    with open_repo() as repo:
        remote = add_remote(repo.git_dir, name, url, replace=replace)
    console.print(f"remote {escape(remote.name)} -> {escape(remote.url)}", soft_wrap=True)
    if creds.token:
        err_console.print("note: the token in the URL was not stored; run `hitrec login` to save it.")


@remote_app.command("list")
def remote_list(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List remotes."""
    from hitrec.sync.remotes import list_remotes

    with open_repo() as repo:
        remotes = list_remotes(repo.git_dir)
    if json_:
        print_json([{"name": r.name, "url": r.url} for r in remotes])
        return
    if not remotes:
        console.print("no remotes yet: add one with `hitrec remote add origin URL`")
    for r in remotes:
        console.print(f"{escape(r.name)}  {escape(r.url)}", soft_wrap=True)


@remote_app.command("remove")
def remote_remove(name: str = typer.Argument(..., help="The remote to forget.")) -> None:
    """Remove a remote (its remote-tracking ref stays until the next fetch)."""
    import subprocess

    from hitrec.sync.remotes import check_name, get_remote_url

    with open_repo() as repo:
        if get_remote_url(repo.git_dir, check_name(name)) is None:
            raise UsageError(f"no remote named {name!r}")
        subprocess.run(["git", "config", "--file", str(repo.git_dir / "config"), "--remove-section",
                        f"remote.{name}"], check=True, capture_output=True)
    console.print(f"removed remote {escape(name)}")


@app.command()
def login(
    url: str = typer.Argument(..., help="The hub (http://host:8642) or one collaboration's URL."),
    user: str = typer.Option(..., "--user", "-u", help="Your user name on the hub."),
) -> None:
    """Save a hub token (from HITREC_TOKEN or a prompt) in ~/.config/hitrec/credentials (0600)."""
    from hitrec.sync import credentials
    from hitrec.sync.remotes import split_url

    clean, in_url = split_url(url)
    token = os.environ.get("HITREC_TOKEN") or in_url.token
    if not token:
        token = typer.prompt(f"token for {user} at {clean}", hide_input=True, err=True)
    token = (token or "").strip()
    if not token:
        raise UsageError("no token given: paste the one `hitrec hub user add` printed, or set HITREC_TOKEN")
    if clean.endswith(".git"):
        _check_token(clean, credentials.Auth(user, token))
    path = credentials.store(clean, user, token)
    console.print(f"logged in to {escape(clean)} as {escape(user)} (saved in {escape(path)})", soft_wrap=True)


def _check_token(url: str, auth: object) -> None:
    """Fail early on a token the hub refuses (a missing collaboration is fine: push creates it)."""
    from hitrec.sync.git import list_refs
    from hitrec.sync.http import Http

    with Http() as http:
        list_refs(http, url, auth)  # type: ignore[arg-type]


def _summary(verb: str, result: object) -> str:
    r = result
    parts = [f"{r.fragments} fragment{'s' if r.fragments != 1 else ''}"]  # type: ignore[attr-defined]
    parts.append(f"{r.media.objects} media ({human_size(r.media.bytes)})")  # type: ignore[attr-defined]
    parts.append(f"{r.git.objects} git objects ({human_size(r.git.bytes)})")  # type: ignore[attr-defined]
    return f"{escape(verb)} " + ", ".join(parts)


def _run(command: str, operation: Callable[..., Any], remote: str | None, json_: bool) -> Any:
    """Run a push or pull with a progress bar; with --json print its summary and return None."""
    with open_repo() as repo, progress(command, unit="bytes") as bar:
        result = operation(repo, remote, bar)
    if json_:
        print_json(result.to_json())
        return None
    return result


@app.command()
def push(
    remote: str = typer.Argument(None, help="Remote name or URL (default: origin)."),
    json_: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Send the hub the fragments it lacks: media first, then commits; merges if others pushed first."""
    from hitrec.sync import ops

    result = _run("push", ops.push, remote, json_)
    if result is None:
        return
    merged = [p for p in result.pulls if not p.up_to_date]
    if result.up_to_date:
        console.print(f"{escape(result.remote)} already has all your fragments ({escape(result.url)})",
                      soft_wrap=True)
    else:
        console.print(_summary(f"pushed to {result.remote} ({result.url}):", result), soft_wrap=True)
    for pulled in merged:
        console.print(_summary("others had pushed too; merged by union and received", pulled), soft_wrap=True)
    if result.pull_error:
        warn(f"the push landed, but bringing in the others' work failed: {result.pull_error} "
             "Run `hitrec pull`.")


@app.command()
def pull(
    remote: str = typer.Argument(None, help="Remote name or URL (default: origin)."),
    json_: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Fetch new fragments from the hub, then the media they need, then merge the catalogs."""
    from hitrec.sync import ops

    result = _run("pull", ops.pull, remote, json_)
    if result is None:
        return
    if result.up_to_date:
        console.print(f"already up to date with {escape(result.remote)} ({escape(result.url)})", soft_wrap=True)
        return
    console.print(_summary(f"pulled from {result.remote} ({result.url}):", result), soft_wrap=True)


@app.command()
def clone(
    url: str = typer.Argument(..., help="The collaboration's URL, e.g. http://127.0.0.1:8642/film.git"),
    directory: Path = typer.Argument(None, help="Folder to create (default: the collaboration's name)."),
    json_: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Copy a collaboration from a hub into a new repo with remote `origin`."""
    from hitrec.sync import ops

    with progress("clone", unit="bytes") as bar:
        repo, result = ops.clone(url, directory, bar)
    repo.close()
    if json_:
        print_json({**result.to_json(), "path": str(repo.root)})
        return
    console.print(_summary(f"cloned {result.url} into {repo.root}:", result), soft_wrap=True)
    from hitrec.sync.remotes import split_url

    if split_url(url)[1].token:
        err_console.print("note: the token in the URL was not stored; run `hitrec login` before the next "
                          "pull or push.", soft_wrap=True)
