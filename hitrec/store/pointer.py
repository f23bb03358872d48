"""Git LFS pointer files: the small text a git tree holds in place of a media file."""

from __future__ import annotations

import re

from hitrec.errors import CorruptRepoError

LFS_SPEC = "https://git-lfs.github.com/spec/v1"
OID_RE = re.compile(r"^[0-9a-f]{64}$")

# Every file of a fragment's tree is LFS media except hitrec's own text files.
GITATTRIBUTES = (
    b"* filter=lfs diff=lfs merge=lfs -text\n"
    b"fragment.yaml -filter -diff -merge text\n"
    b"timeline.yaml -filter -diff -merge text\n"
    b".gitattributes -filter -diff -merge text\n"
)


def format_pointer(oid: str, size: int) -> bytes:
    return f"version {LFS_SPEC}\noid sha256:{oid}\nsize {size}\n".encode()


def parse_pointer(data: bytes) -> tuple[str, int]:
    """Return (oid, size) of an LFS pointer; CorruptRepoError when it is not one."""
    fields: dict[str, str] = {}
    try:
        for line in data.decode("ascii").splitlines():
            key, _, value = line.partition(" ")
            fields[key] = value
        oid = fields["oid"].removeprefix("sha256:")
        size = int(fields["size"])
    except (UnicodeDecodeError, KeyError, ValueError) as exc:
        raise CorruptRepoError("not a Git LFS pointer file") from exc
    if fields.get("version") != LFS_SPEC or not OID_RE.match(oid) or size < 0:
        raise CorruptRepoError("malformed Git LFS pointer file")
    return oid, size


def is_oid(text: str) -> bool:
    return bool(OID_RE.match(text))
