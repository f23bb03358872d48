"""Where a hub keeps its collaborations' media: each one's local ``lfs/`` folder (the default), or an
S3-compatible object store that clients reach directly (hitrec.store.s3_media; docs/storage.md).

    hitrec hub serve --media s3://BUCKET[/PREFIX] --s3-endpoint URL     # or, in <root>/hub.toml:

    [media]
    store = "s3://hitrec-media/hub1"
    s3_endpoint = "http://127.0.0.1:8333"
    s3_region = "us-east-1"        # optional
    url_ttl = 300                  # optional: seconds a presigned address lives

In S3 mode the hub never carries media bytes: a batch answer gives presigned PUT/GET addresses (and a
``verify`` action back to the hub), the hub's own object routes refuse, and the pre-receive hook asks
the store (``HITREC_HUB_MEDIA`` and friends in its environment) whether each pointed-to object is there,
of its size, with the SHA-256 checksum of its oid.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec.errors import HubError, MissingMediaError
from hitrec.store.s3_media import S3Location, S3MediaStore

CONFIG_FILE = "hub.toml"
URL_TTL = 300  # seconds: presigned addresses live minutes, not the hour of the hub's own action tokens
_ENV_MEDIA, _ENV_ENDPOINT, _ENV_REGION = "HITREC_HUB_MEDIA", "HITREC_HUB_S3_ENDPOINT", "HITREC_HUB_S3_REGION"
_LOOKUPS = 8  # HEADs at once when a batch asks about many objects


@dataclass(frozen=True)
class MediaConfig:
    """The hub's media store: None for local folders, else the object store's location."""

    s3: S3Location | None = None
    url_ttl: int = URL_TTL

    @property
    def direct(self) -> bool:
        """Whether clients move media straight to and from the store (presigned addresses)."""
        return self.s3 is not None

    def store(self, name: str) -> S3MediaStore:
        assert self.s3 is not None
        return S3MediaStore(self.s3.under(name))

    def prepare(self) -> str | None:
        """Import boto3 and make the client now (not in the first request), and ask whether the bucket
        answers; returns what is wrong (an ObjectStoreError's message), or None."""
        if self.s3 is None:
            return None
        from hitrec.errors import ObjectStoreError

        try:
            self.store("-").check_bucket()
        except ObjectStoreError as exc:
            return str(exc)
        return None

    def hook_env(self) -> dict[str, str]:
        """What the pre-receive hook needs to ask the same store (credentials come from the hub's own
        environment or boto config, which git passes on)."""
        if self.s3 is None:
            return {}
        env = {_ENV_MEDIA: self.s3.url()}
        if self.s3.endpoint:
            env[_ENV_ENDPOINT] = self.s3.endpoint
        if self.s3.region:
            env[_ENV_REGION] = self.s3.region
        return env


def resolve(root: Path, media: str | None, s3_endpoint: str | None, s3_region: str | None = None,
            url_ttl: int | None = None) -> MediaConfig:
    """The media store from the command line, else from ``<root>/hub.toml``, else local folders."""
    file: dict[str, Any] = {}
    path = Path(root) / CONFIG_FILE
    if path.is_file():
        try:
            file = tomllib.loads(path.read_text(encoding="utf-8")).get("media", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise HubError(f"{path} is not valid TOML ({exc}); fix it or remove it") from exc
        if not isinstance(file, dict):
            raise HubError(f"{path}: [media] must be a table")
    url = media or file.get("store")
    endpoint = s3_endpoint or file.get("s3_endpoint")
    region = s3_region or file.get("s3_region")
    ttl = url_ttl if url_ttl is not None else file.get("url_ttl", URL_TTL)
    if not isinstance(ttl, int) or not 1 <= ttl <= 7 * 24 * 3600:
        raise HubError(f"the presigned address lifetime must be 1 s to 7 days, not {ttl!r}")
    if url in (None, "", "local"):
        if endpoint:
            raise HubError("--s3-endpoint needs --media s3://BUCKET (the media stays in local folders otherwise)")
        return MediaConfig(None, ttl)
    for value, what in ((url, "store"), (endpoint, "s3_endpoint"), (region, "s3_region")):
        if value is not None and not isinstance(value, str):
            raise HubError(f"{path}: media {what} must be a string")
    try:
        location = S3Location.parse(str(url), endpoint, region)
    except ValueError as exc:
        raise HubError(f"{exc}; e.g. --media s3://hitrec-media --s3-endpoint http://127.0.0.1:8333") from exc
    return MediaConfig(location, ttl)


def from_hook_env(environ: dict[str, str] | os._Environ[str]) -> S3Location | None:
    url = environ.get(_ENV_MEDIA)
    if not url:
        return None
    return S3Location.parse(url, environ.get(_ENV_ENDPOINT), environ.get(_ENV_REGION))


def collaboration_name(git_dir: Path | str) -> str:
    base = os.path.basename(os.fspath(git_dir).rstrip("/"))
    return base[:-4] if base.endswith(".git") else base


def checks(store: S3MediaStore, objects: list[tuple[str, int]]) -> dict[str, str | None]:
    """``store.check`` of many objects, a few HEADs at a time."""
    if len(objects) <= 1:
        return {oid: store.check(oid, size) for oid, size in objects}
    with ThreadPoolExecutor(max_workers=_LOOKUPS, thread_name_prefix="hitrec-s3-head") as pool:
        found = pool.map(lambda item: store.check(item[0], item[1]), objects)
        return dict(zip((oid for oid, _ in objects), found, strict=True))


class DirectBatch:
    """A batch answer's view of an object store: which objects it holds (verified) and the presigned
    actions to move the others. ``verify_action(oid)`` is the hub's own verify action for an upload."""

    def __init__(self, store: S3MediaStore, ttl: int, verify_action: Callable[[str], dict[str, Any]] | None) -> None:
        self.store = store
        self.ttl = ttl
        self.verify_action = verify_action

    def states(self, objects: list[tuple[str, int]]) -> dict[str, str | None]:
        return checks(self.store, objects)

    def actions(self, oid: str, size: int, operation: str) -> dict[str, Any]:
        if operation == "download":
            return {"download": {"href": self.store.presigned_get(oid, self.ttl), "expires_in": self.ttl}}
        href, header = self.store.presigned_put(oid, size, self.ttl)
        found: dict[str, Any] = {"upload": {"href": href, "header": header, "expires_in": self.ttl}}
        if self.verify_action is not None:
            found["verify"] = self.verify_action(oid)
        return found


def problem_of(store: S3MediaStore, oid: str, size: int) -> str | None:
    """What the hub's verify answer and its hook say of an object the client says it uploaded."""
    try:
        return store.check(oid, size)
    except MissingMediaError:
        return "missing"
