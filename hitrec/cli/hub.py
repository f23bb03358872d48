"""hub commands: serve a hub, create collaborations, manage users and their tokens."""

from __future__ import annotations

from pathlib import Path

import typer

from hitrec.cli.app import app
from hitrec.cli.output import console, print_json

hub_app = typer.Typer(help="Run a hub that hosts collaborations (git smart HTTP + Git LFS).",
                      no_args_is_help=True)
user_app = typer.Typer(help="Manage the hub's users and their tokens.", no_args_is_help=True)
hub_app.add_typer(user_app, name="user")
app.add_typer(hub_app, name="hub")

_ROOT = typer.Option(Path("."), "--root", envvar="HITREC_HUB_ROOT",
                     help="The hub's folder (collaborations, users).", show_default=True)
_JSON = typer.Option(False, "--json", help="Print JSON.")


def _size(text: str) -> int:
    from hitrec.errors import UsageError

    units = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
             "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40,
             "tib": 1 << 40}
    stripped = text.strip().lower()
    number = stripped.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = stripped[len(number):].strip()
    try:
        value = float(number) * units[unit]
    except (ValueError, KeyError):
        raise UsageError(f"invalid size {text!r}: give bytes or a number with K, M, G or T") from None
    return int(value)


@hub_app.command("serve")
def serve(
    root: Path = _ROOT,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8642, "--port", help="Port to listen on (0 picks a free one)."),
    public_read: bool = typer.Option(False, "--public-read", help="Let anyone clone and pull."),
    max_object_size: str = typer.Option("64G", "--max-object-size", help="Largest media upload."),
    max_push_size: str = typer.Option("4G", "--max-push-size", help="Largest git request body."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Log problems only, not every request."),
    tls_cert: Path | None = typer.Option(None, "--tls-cert", help="Serve HTTPS with this certificate (PEM)."),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="The certificate's private key (PEM)."),
    media: str | None = typer.Option(None, "--media", help="Keep media in an object store, s3://BUCKET[/PREFIX] "
                                     "(default: each collaboration's lfs/ folder; or [media] in ROOT/hub.toml)."),
    s3_endpoint: str | None = typer.Option(None, "--s3-endpoint", help="The S3 endpoint URL (SeaweedFS, MinIO; "
                                           "default: AWS). Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY."),
    s3_region: str | None = typer.Option(None, "--s3-region", help="The S3 region (default us-east-1)."),
    s3_url_ttl: int | None = typer.Option(None, "--s3-url-ttl", help="Seconds a presigned media address lives "
                                          "(default 300)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Serve with this many processes (one socket)."),
    repack_after: int = typer.Option(2000, "--repack-after", min=0, help="Pack a collaboration into one pack "
                                     "with a bitmap (fast clones) once this many git objects lie outside it "
                                     "(0: never)."),
    trusted_proxy: list[str] = typer.Option(
        [], "--trusted-proxy", help="Believe X-Forwarded-Proto/-For from this proxy address (repeatable; "
        "'*' any; 'none' no proxy). Default: loopback only."),
) -> None:
    """Serve every collaboration under ROOT at http://HOST:PORT/<name>.git until interrupted
    (https:// with --tls-cert and --tls-key). Several hubs may serve one ROOT (docs/scale.md)."""
    import logging

    from hitrec.errors import UsageError
    from hitrec.hub.app import HubConfig
    from hitrec.hub.media import resolve
    from hitrec.hub.server import serve as run

    pid = " [%(process)d]" if workers > 1 else ""  # which worker served a request
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format=f"%(asctime)s %(levelname)s %(name)s{pid}: %(message)s")
    config = HubConfig(root=root, public_read=public_read, max_object_size=_size(max_object_size),
                       max_push_size=_size(max_push_size), repack_after=repack_after,
                       media=resolve(root, media, s3_endpoint, s3_region, s3_url_ttl))
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("HTTPS needs both --tls-cert and --tls-key.")
    tls = (tls_cert, tls_key) if tls_cert is not None and tls_key is not None else None

    def ready(url: str) -> None:
        access = "public reads" if public_read else "reads and writes need a token"
        if config.media.s3 is not None:
            access += f"; media in {config.media.s3.url()}"
        console.print(f"hitrec hub serving {root.resolve()} at {url}/<name>.git ({access})", soft_wrap=True)
        console.print(f"gallery: {url}/ (open it in a browser)", soft_wrap=True)
        console.file.flush()

    proxies = [p for p in trusted_proxy if p.lower() != "none"] if trusted_proxy else None
    run(config, host, port, on_ready=ready, tls=tls, workers=workers, trusted_proxies=proxies)


@hub_app.command("create")
def create(
    name: str = typer.Argument(..., help="Collaboration name (served at /<name>.git)."),
    root: Path = _ROOT,
    author_check: bool = typer.Option(True, "--author-check/--no-author-check",
                                      help="Refuse fragments not authored by the pusher."),
    json_out: bool = _JSON,
) -> None:
    """Create an empty collaboration (a first push by a hub user creates one too)."""
    from hitrec.ops import hub

    result = hub.create(root, name, author_check=author_check)
    if json_out:
        print_json(result.to_json())
    else:
        console.print(f"created collaboration {name} at {result.collaboration.path}")


@hub_app.command("set")
def set_option(
    name: str = typer.Argument(..., help="Collaboration name."),
    root: Path = _ROOT,
    author_check: bool = typer.Option(..., "--author-check/--no-author-check",
                                      help="Refuse fragments not authored by the pusher."),
) -> None:
    """Change a collaboration's rules."""
    from hitrec.ops import hub

    hub.set_author_check(root, name, author_check)
    console.print(f"{name}: author check {'on' if author_check else 'off'}")


@hub_app.command("list")
def list_collaborations(root: Path = _ROOT, json_out: bool = _JSON) -> None:
    """List the hub's collaborations."""
    from hitrec.ops import hub

    result = hub.list_collaborations(root)
    if json_out:
        print_json(result.to_json())
    else:
        for collaboration in result.collaborations:
            console.print(collaboration.name)


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="User name."),
    email: str = typer.Option(..., "--email", help="The e-mail their fragments are authored with."),
    root: Path = _ROOT,
    json_out: bool = _JSON,
) -> None:
    """Add a user and print their new token (shown once; the hub keeps only its hash)."""
    from hitrec.ops import hub

    result = hub.add_user(root, name, email)
    if json_out:
        print_json(result.to_json())
    else:
        user = result.user
        console.print(f"added hub user {user.name} <{user.email}>; their token (shown once):")
        console.print(result.token, soft_wrap=True)


@user_app.command("token")
def user_token(name: str = typer.Argument(...), root: Path = _ROOT, json_out: bool = _JSON) -> None:
    """Give a user a new token; the old one stops working at once."""
    from hitrec.ops import hub

    result = hub.new_token(root, name)
    if json_out:
        print_json(result.to_json())
    else:
        console.print(f"new token for {name} (shown once):")
        console.print(result.token, soft_wrap=True)


@user_app.command("list")
def user_list(root: Path = _ROOT, json_out: bool = _JSON) -> None:
    """List users (never their tokens)."""
    from hitrec.ops import hub

    result = hub.list_users(root)
    if json_out:
        print_json(result.to_json())
        return
    for u in result.users:
        state = " (revoked)" if u.revoked else ""
        console.print(f"{u.name}  <{u.email}>  since {u.created}{state}")


@user_app.command("revoke")
def user_revoke(name: str = typer.Argument(...), root: Path = _ROOT, json_out: bool = _JSON) -> None:
    """Revoke a user's token: it stops working at once, even on a running hub."""
    from hitrec.ops import hub

    result = hub.revoke_user(root, name)
    if json_out:
        print_json(result.to_json())
    else:
        console.print(f"revoked {result.user.name}'s token")
