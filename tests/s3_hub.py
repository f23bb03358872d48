"""A hub whose media lives in the session's SeaweedFS (tests/seaweed.py), for tests and benchmarks.

    with s3_hub(tmp_path, seaweed, "ada") as hub:       # HubProcess with --media s3://BUCKET/<prefix>
        hub.media_store("film")                         # the collaboration's S3MediaStore (as the hub sees it)
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

from hub_process import HubProcess
from seaweed import Seaweed


class S3Hub(HubProcess):
    def __init__(self, root: Path, weed: Seaweed, *, prefix: str | None = None, public_read: bool = False,
                 extra_args: list[str] | tuple[str, ...] = ()) -> None:
        self.weed = weed
        self.prefix = prefix or f"hub-{secrets.token_hex(5)}"
        super().__init__(root, public_read=public_read, env={**weed.env(), "HOME": str(Path(root).parent)},
                         extra_args=["--media", weed.media_url(self.prefix), "--s3-endpoint", weed.endpoint,
                                     *extra_args])

    def media_store(self, name: str):  # type: ignore[no-untyped-def]
        from hitrec.store.s3_media import S3Location, S3MediaStore

        location = S3Location.parse(self.weed.media_url(self.prefix), self.weed.endpoint).under(name)
        return S3MediaStore(location, self.weed.client())

    def object_route_lines(self) -> list[str]:
        """Log lines of requests for media bytes through the hub itself (none in S3 mode)."""
        return [line for line in self.log_text().splitlines()
                if '/info/lfs/objects/' in line and '/info/lfs/objects/batch' not in line]


@contextlib.contextmanager
def s3_hub(base: Path, weed: Seaweed, *users: str, **options: object) -> Iterator[S3Hub]:
    with S3Hub(base / "hub", weed, **options) as running:  # type: ignore[arg-type]
        for name in users:
            running.add_user(name, f"{name}@example.org")
        yield running
    log = running.log_text()
    assert weed.secret_key not in log and weed.access_key not in log
    for token in running.tokens.values():
        assert token not in log
