"""Sync commands: remote add/list/remove, login, push, pull, clone, fetch, prune."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hitrec.cli.app import app
from hitrec.cli.common import human_size, open_repo
from hitrec.cli.output import console, err_console, escape, print_json, progress, warn

if TYPE_CHECKING:
    from hitrec.ops.pull import PullResult
    from hitrec.ops.push import PushResult

remote_app = typer.Typer(help="Name the hubs this repo syncs with.", no_args_is_help=True)
app.add_typer(remote_app, name="remote")


@remote_app.command("add")
def remote_add(
    name: str = typer.Argument(..., help="A short name, e.g. origin."),
    url: str = typer.Argument(..., help="The collaboration's URL, e.g. http://127.0.0.1:8642/film.git"),
    replace: bool = typer.Option(False, "--replace", help="Point an existing remote at a new URL."),
) -> None:
    """Add a remote (credentials in the URL are dropped: use `hitrec login`)."""
    from hitrec.ops import remote

    with open_repo() as repo:
        result = remote.add(repo, name, url, replace=replace)
    added = result.remotes[0]
    console.print(f"remote {escape(added.name)} -> {escape(added.url)}", soft_wrap=True)
    if result.dropped_token:
        err_console.print("note: the token in the URL was not stored; run `hitrec login` to save it.")


@remote_app.command("list")
def remote_list(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List remotes."""
    from hitrec.ops import remote

    with open_repo() as repo:
        result = remote.list_(repo)
    if json_:
        print_json(result.to_json())
        return
    if not result.remotes:
        console.print("no remotes yet: add one with `hitrec remote add origin URL`")
    for r in result.remotes:
        console.print(f"{escape(r.name)}  {escape(r.url)}", soft_wrap=True)


@remote_app.command("remove")
def remote_remove(name: str = typer.Argument(..., help="The remote to forget.")) -> None:
    """Remove a remote (its remote-tracking ref stays until the next fetch)."""
    from hitrec.ops import remote

    with open_repo() as repo:
        remote.remove(repo, name)
    console.print(f"removed remote {escape(name)}")


@app.command()
def login(
    url: str = typer.Argument(..., help="The hub (http://host:8642) or one collaboration's URL."),
    user: str = typer.Option(..., "--user", "-u", help="Your user name on the hub."),
) -> None:
    """Save a hub token (from HITREC_TOKEN or a prompt) in ~/.config/hitrec/credentials (0600)."""
    from hitrec.ops.login import login
    from hitrec.sync.remotes import split_url

    clean, in_url = split_url(url)
    token = os.environ.get("HITREC_TOKEN") or in_url.token
    if not token:
        token = typer.prompt(f"token for {user} at {clean}", hide_input=True, err=True)
    result = login(clean, user, token)
    console.print(f"logged in to {escape(result.url)} as {escape(result.user)} (saved in {escape(result.path)})",
                  soft_wrap=True)


def _summary(verb: str, result: PushResult | PullResult) -> str:
    parts = [f"{result.fragments} fragment{'s' if result.fragments != 1 else ''}"]
    parts.append(f"{result.media.objects} media ({human_size(result.media.bytes)})")
    parts.append(f"{result.git.objects} git objects ({human_size(result.git.bytes)})")
    return f"{escape(verb)} " + ", ".join(parts)


@app.command()
def push(
    remote: str = typer.Argument(None, help="Remote name or URL (default: origin)."),
    json_: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Send the hub the fragments it lacks: media first, then commits; merges if others pushed first."""
    from hitrec.ops.push import push

    with open_repo() as repo, progress("push", unit="bytes") as bar:
        result = push(repo, remote, bar)
    if json_:
        print_json(result.to_json())
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
    media: bool = typer.Option(None, "--media/--no-media",
                               help="--no-media: records, lineage and timelines only (media comes when a "
                                    "command needs it, or with `hitrec fetch`); remembered for the remote."),
    json_: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Fetch new fragments from the hub, then the media they need, then merge the catalogs."""
    from hitrec.ops.pull import pull

    with open_repo() as repo, progress("pull", unit="bytes") as bar:
        result = pull(repo, remote, bar, media=media)
    if json_:
        print_json(result.to_json())
        return
    if result.up_to_date:
        console.print(f"already up to date with {escape(result.remote)} ({escape(result.url)})", soft_wrap=True)
        return
    console.print(_summary(f"pulled from {result.remote} ({result.url}):", result), soft_wrap=True)


@app.command()
def clone(
    url: str = typer.Argument(..., help="The collaboration's URL, e.g. http://127.0.0.1:8642/film.git"),
    directory: Path = typer.Argument(None, help="Folder to create (default: the collaboration's name)."),
    no_media: bool = typer.Option(False, "--no-media",
                                  help="Records, lineage and timelines only: media is fetched when a command "
                                       "needs it (cat, checkout, render, remix, verify) or with `hitrec fetch`."),
    json_: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Copy a collaboration from a hub into a new repo with remote `origin` (an interrupted clone is
    finished by running it again)."""
    from hitrec.ops.clone import clone
    from hitrec.sync.remotes import split_url

    with progress("clone", unit="bytes") as bar:
        result = clone(url, directory, bar, media=not no_media)
    if json_:
        print_json(result.to_json())
        return
    console.print(_summary(f"cloned {result.pull.url} into {result.path}:", result.pull), soft_wrap=True)
    if no_media:
        err_console.print("media is fetched when a command needs it; `hitrec fetch --all` gets it all now.",
                          soft_wrap=True)
    if split_url(url)[1].token:
        err_console.print("note: the token in the URL was not stored; run `hitrec login` before the next "
                          "pull or push.", soft_wrap=True)


@app.command()
def fetch(
    fragments: list[str] = typer.Argument(None, help="Fragment ids or unique prefixes."),
    all_: bool = typer.Option(False, "--all", help="The media of every fragment in the catalog."),
    sources: bool = typer.Option(False, "--sources", help="Also the media each named fragment was made from."),
    json_: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Fetch fragments' media from the hub ahead of use (a `clone --no-media` fetches it on demand)."""
    from hitrec.ops.fetch import fetch as run_fetch

    with open_repo() as repo, progress("fetch", unit="bytes") as bar:
        result = run_fetch(repo, fragments or [], every=all_, sources=sources, progress=bar)
    if json_:
        print_json(result.to_json())
        return
    console.print(f"fetched {result.objects} media ({human_size(result.bytes)}); {result.present} already here",
                  soft_wrap=True)


@app.command()
def prune(
    fragments: list[str] = typer.Argument(None, help="Only these fragments' media (default: all)."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Say what would be freed; remove nothing."),
    json_: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Free local media the hub is confirmed to hold (never the only copy); it is fetched again on demand."""
    from hitrec.ops.prune import prune as run_prune

    with open_repo() as repo, progress("prune") as bar:
        result = run_prune(repo, fragments or None, dry_run=dry_run, progress=bar)
    if json_:
        print_json(result.to_json())
        return
    verb = "would free" if dry_run else "freed"
    console.print(f"{verb} {result.removed} media ({human_size(result.bytes)})", soft_wrap=True)
    kept = result.kept_only_copy + result.kept_unconfirmed
    if kept:
        console.print(f"kept {kept}: {result.kept_only_copy} only this repo has (push them first), "
                      f"{result.kept_unconfirmed} the hub did not confirm holding", soft_wrap=True)
