"""The repo format: the one module that knows how a hitrec collaboration is laid out in git.

Client, hub hook, sync and gallery all read and write collaborations through these names and functions,
so the format is defined once:

- refs: the catalog branch ``refs/heads/main``; a remote's tracking ref ``refs/remotes/<name>/main``;
  a pull's fetched-but-unmerged catalog ``refs/hitrec/incoming/<name>``;
- a **fragment commit**: its tree holds ``fragment.yaml`` (+ the media as a Git LFS pointer under its
  file name, ``.gitattributes``, and ``timeline.yaml`` for a remix);
- a **catalog commit**: its tree holds a ``fragments/`` folder laying out every fragment's tree at
  ``fragments/<id[:2]>/<id>/`` (that is the definition; its message says ``catalog: ...`` for people);
- the **Git LFS pointer** (spec v1), written exactly one way and read strictly (``parse_pointer``) or as
  leniently as any Git LFS client would (``loose_pointer``: what the hub must account for);
- **media objects** are named by SHA-256 in the Git LFS layout ``<oid[:2]>/<oid[2:4]>/<oid>``.

Light on purpose (``os`` and ``re`` only): the hub's pre-receive hook imports it for every push.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Collection, Iterable

from hitrec.errors import CorruptRepoError

# --- refs --------------------------------------------------------------------------------------------
MAIN_BRANCH = "main"
CATALOG_REF = "refs/heads/main"
ZERO_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def tracking_ref(remote: str) -> str:
    """The ref that remembers where ``remote``'s catalog was when we last synced with it."""
    return f"refs/remotes/{remote}/{MAIN_BRANCH}"


def incoming_ref(remote: str) -> str:
    """Where a pull keeps a fetched catalog until its media has arrived and it is merged."""
    return f"refs/hitrec/incoming/{remote}"


def read_ref(git_dir: str | os.PathLike[str], ref: str = CATALOG_REF) -> str | None:
    """A ref's value read from the files (loose, then ``packed-refs``) without git or dulwich: the fast
    path of ``log``, a no-op ``pull`` and the hub's every request."""
    try:
        with open(os.path.join(git_dir, ref), encoding="ascii") as f:
            value = f.read().strip()
        if len(value) == 40:
            return value
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, UnicodeDecodeError):
        pass
    try:
        with open(os.path.join(git_dir, "packed-refs"), encoding="ascii", errors="replace") as f:
            for line in f:
                sha, _, name = line.rstrip("\n").partition(" ")
                if name == ref and len(sha) == 40:
                    return sha
    except FileNotFoundError:
        pass
    return None


# --- trees -------------------------------------------------------------------------------------------
FRAGMENT_YAML = "fragment.yaml"
TIMELINE_YAML = "timeline.yaml"
GITATTRIBUTES_NAME = ".gitattributes"
SIDE_FILES = frozenset({FRAGMENT_YAML, TIMELINE_YAML, GITATTRIBUTES_NAME})  # hitrec's own text files
CATALOG_DIR = "fragments"
CATALOG_MESSAGE_PREFIX = "catalog:"

# Every file of a fragment's tree is LFS media except hitrec's own text files.
GITATTRIBUTES = (
    b"* filter=lfs diff=lfs merge=lfs -text\n"
    b"fragment.yaml -filter -diff -merge text\n"
    b"timeline.yaml -filter -diff -merge text\n"
    b".gitattributes -filter -diff -merge text\n"
)


def is_fragment_tree(names: Collection[str]) -> bool:
    """Whether a commit whose top-level tree has these entry names is a fragment commit."""
    return FRAGMENT_YAML in names


def is_catalog_tree(entries: Iterable[tuple[bytes, bool]]) -> bool:
    """Whether a top-level tree, given as ``(name, is_folder)`` entries, makes its commit a catalog
    commit: it has a ``fragments/`` folder. The one definition, for the writer and the hub's hook."""
    return any(is_folder and name == _CATALOG_DIR_B for name, is_folder in entries)


_CATALOG_DIR_B = CATALOG_DIR.encode()


# --- Git LFS pointers --------------------------------------------------------------------------------
LFS_SPEC = "https://git-lfs.github.com/spec/v1"
# Versions that some Git LFS client still reads as a pointer (git-lfs accepts the pre-release names).
LFS_SPECS_READ = frozenset({LFS_SPEC, "https://hawser.github.com/spec/v1", "http://git-media.io/v/2"})
MAX_POINTER = 1024  # git-lfs reads nothing larger as a pointer
OID_RE = re.compile(r"^[0-9a-f]{64}\Z")  # \Z: "$" would let an oid end in a newline
_OID = re.compile(r"[0-9a-f]{64}")
POINTER_EXACT = re.compile(rb"version https://git-lfs\.github\.com/spec/v1\noid sha256:([0-9a-f]{64})\n"
                           rb"size (0|[1-9][0-9]{0,18})\n")


def is_oid(text: str) -> bool:
    return bool(OID_RE.match(text))


def format_pointer(oid: str, size: int) -> bytes:
    return f"version {LFS_SPEC}\noid sha256:{oid}\nsize {size}\n".encode()


def pointer_blob_id(oid: str, size: int) -> bytes:
    """The git blob id of ``format_pointer(oid, size)``: a tree entry with this id holds exactly that
    pointer, so a reader that only checks it need not read the blob (a metadata-only clone of 10,000
    fragments then reads 10,000 fewer objects)."""
    data = format_pointer(oid, size)
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest().encode()


def exact_pointer(data: bytes) -> tuple[str, int] | None:
    """(oid, size) when ``data`` is a pointer exactly as hitrec writes one, else None."""
    match = POINTER_EXACT.fullmatch(data)
    return (match.group(1).decode(), int(match.group(2))) if match else None


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


def loose_pointer(data: bytes) -> tuple[str, int] | None:
    """(oid, size) of anything a client could take for an LFS pointer, read as leniently as any of them
    (any line order, CRLF, padding, old version names); None when no client would."""
    if len(data) > MAX_POINTER:
        return None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        fields[key] = value.strip()
    oid = fields.get("oid", "").removeprefix("sha256:")
    if fields.get("version") not in LFS_SPECS_READ or not _OID.fullmatch(oid):
        return None
    try:
        size = int(fields.get("size", ""))
    except ValueError:
        return None  # no client can use it
    return oid, size


# --- media objects -----------------------------------------------------------------------------------
LFS_DIR = "lfs"  # a collaboration's local media store, inside its git folder (``.hitrec/`` or ``name.git``)


def media_relpath(oid: str) -> str:
    """A media object's path inside a media folder, in the Git LFS layout. Only media stores use it."""
    if not OID_RE.match(oid):
        raise ValueError(f"not a sha256 oid: {oid!r}")
    return f"{oid[:2]}/{oid[2:4]}/{oid}"


def media_objects_dir(git_dir: str) -> str:
    """Where a collaboration's local media store keeps its objects (hitrec.store.local_media)."""
    return os.path.join(git_dir, LFS_DIR, "objects")


def stored_media_size(objects_dir: str, oid: str) -> int | None:
    """The size of media ``oid`` in a local store's objects folder, None if absent: the light check the
    hub's hook makes for every pointer of a push (no pathlib, no store import: ~30 ms per 1,000)."""
    try:
        return os.stat(os.path.join(objects_dir, media_relpath(oid))).st_size
    except OSError:
        return None
