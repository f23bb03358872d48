"""The pre-receive hook of every hosted collaboration (``python -m hitrec.hub.hook``).

git's receive-pack runs it with the pushed objects quarantined and the ref updates on stdin
(``<old> <new> <ref>`` per line); a non-zero exit refuses the whole push and git discards the
objects. It refuses:

- any ref other than ``refs/heads/main`` (and deleting it);
- a new *fragment* commit (its tree has ``fragment.yaml``) whose author e-mail is not the pushing
  user's, unless the collaboration turned that check off (``HITREC_HUB_AUTHOR_CHECK=0``); catalog
  commits (a top-level ``fragments/`` tree) may be made by anyone, since they only merge;
- a catalog commit that removes or changes anything under ``fragments/`` compared with its catalog
  parents, or adds a fragment folder that is not exactly the tree of the fragment commit it names, or
  names a fragment commit that is neither in the pushed history nor already on main (any commit on
  top of a catalog is held to these rules, whatever else it is);
- a fragment whose media file is not an LFS pointer as hitrec writes one;
- a new commit whose Git LFS pointers name media the hub does not have (clients upload media first).

The server passes the pusher through ``HITREC_HUB_USER`` / ``HITREC_HUB_EMAIL``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable

from hitrec.store.format import (
    CATALOG_REF as MAIN,
)
from hitrec.store.format import (
    EMPTY_TREE,
    MAX_POINTER,
    SIDE_FILES,
    ZERO_SHA,
    exact_pointer,
    is_catalog_tree,
    is_fragment_tree,
    loose_pointer,
    media_objects_dir,
    stored_media_size,
)

# Where pointed-to media is checked: a local store's objects folder (a stat per pointer), or a function
# (oid, size) -> None when the hub's object store holds it verified, else what is wrong ("missing", ...).
MediaCheck = str | Callable[[str, int], str | None]

_AUTHOR = re.compile(rb"^author (.*) <([^>]*)> ", re.MULTILINE)
_TREE = re.compile(rb"^tree ([0-9a-f]{40})$", re.MULTILINE)
_PARENT = re.compile(rb"^parent ([0-9a-f]{40})$", re.MULTILINE)
_FRAGMENT_SIDE_FILES = {name.encode() for name in SIDE_FILES}
# What the checks read of an object: a blob's first bytes tell a pointer (a longer one is none), a commit's
# header sits at its start (10,000 parents take 480 KB); trees are read whole.
_KEEP = {"blob": MAX_POINTER + 1, "commit": 16 << 20, "tag": 1 << 20}


class Objects:
    """Reads objects through one ``git cat-file --batch`` process (sees the quarantined objects).

    ``prefetch`` asks for many objects at once (one write of all names from a thread, answers read
    as they come), so a push of 1,000 fragments costs three pipelined round trips, not 3,000."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(["git", "cat-file", "--batch"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self._cache: dict[str, tuple[str, bytes]] = {}

    def _answer(self) -> tuple[str, bytes]:
        """The next object; of a blob only its start is kept, of a commit its header (a 1 MB push can
        hold a blob or a commit message of gigabytes, all zeros: read whole, it took the hook to 964 MB)."""
        assert self.proc.stdout
        header = self.proc.stdout.readline().split()
        if len(header) < 3:
            return "missing", b""
        kind, size = header[1].decode(), int(header[2])
        data = self.proc.stdout.read(min(size, _KEEP.get(kind, size)))
        left = size - len(data)
        while left > 0:  # dropped as it comes
            skipped = len(self.proc.stdout.read(min(left, 1 << 20)))
            if not skipped:
                break
            left -= skipped
        self.proc.stdout.read(1)
        if kind == "commit":  # the checks read headers only: 1,000 prefetched messages must not pile up
            end = data.find(b"\n\n")
            data = data[:end + 2] if end >= 0 else data
        return kind, data

    def read(self, sha: str) -> tuple[str, bytes]:
        cached = self._cache.get(sha)
        if cached is not None:
            return cached
        assert self.proc.stdin
        self.proc.stdin.write(sha.encode() + b"\n")
        self.proc.stdin.flush()
        return self._answer()

    def forget(self) -> None:
        self._cache.clear()

    def prefetch(self, shas: list[str]) -> None:
        """Read ``shas`` now; later ``read``s of them are answered from memory until ``forget``."""
        wanted = list(dict.fromkeys(s for s in shas if s not in self._cache))
        if not wanted:
            return
        assert self.proc.stdin

        def write() -> None:  # on a thread: git's answers may fill its stdout pipe before we read
            assert self.proc.stdin
            self.proc.stdin.write("".join(f"{sha}\n" for sha in wanted).encode())
            self.proc.stdin.flush()

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        try:
            for sha in wanted:
                self._cache[sha] = self._answer()
        finally:
            writer.join()

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait()


def tree_entries(data: bytes) -> list[tuple[bytes, bytes, str]]:
    """(mode, name, sha) for each entry of a raw tree object."""
    entries = []
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        entries.append((data[pos:space], data[space + 1:nul], data[nul + 1:nul + 21].hex()))
        pos = nul + 21
    return entries


def check_push(updates: list[tuple[str, str, str]], *, email: str, author_check: bool,
               lfs_objects: MediaCheck) -> list[str]:
    """Problems with a push (empty when it may land)."""
    problems: list[str] = []
    tips = []
    for _old, new, ref in updates:
        if ref != MAIN:
            problems.append(f"{ref}: a hitrec hub accepts pushes to {MAIN} only")
        elif new == ZERO_SHA:
            problems.append(f"{ref}: deleting the catalog is not allowed")
        else:
            tips.append(new)
    if problems or not tips:
        return problems
    listed = subprocess.run(["git", "rev-list", *tips, "--not", "--all"], capture_output=True, check=False)
    if listed.returncode != 0:
        return [f"cannot list the pushed commits: {listed.stderr.decode(errors='replace').strip()}"]
    commits = listed.stdout.decode().split()
    pushed = set(commits)
    objects = Objects()
    try:
        for start in range(0, len(commits), _PREFETCH):
            part = commits[start:start + _PREFETCH]
            _prefetch(objects, part)
            for sha in part:
                problems += _check_commit(objects, sha, email=email, author_check=author_check,
                                          lfs_objects=lfs_objects, pushed=pushed)
                if len(problems) >= 20:
                    problems.append("... (more problems not shown)")
                    return problems
            objects.forget()
    finally:
        objects.close()
    return problems


_PREFETCH = 1000  # commits read ahead at once, with their trees and fragment pointers


def _prefetch(objects: Objects, commits: list[str], *, pointers: bool = True) -> None:
    """Read what ``_check_commit`` will ask for, in three pipelined rounds: the commits, their trees,
    then the pointer files of fragment trees (the checks themselves are unchanged)."""
    objects.prefetch(commits)
    trees = []
    for sha in commits:
        kind, raw = objects._cache.get(sha, ("missing", b""))
        match = _TREE.search(raw.split(b"\n\n", 1)[0] + b"\n") if kind == "commit" else None
        if match:
            trees.append(match.group(1).decode())
    objects.prefetch(trees)
    if not pointers:
        return
    blobs = []
    for tree in trees:
        kind, data = objects._cache.get(tree, ("missing", b""))
        if kind != "tree":
            continue
        entries = tree_entries(data)
        if is_fragment_tree({name.decode(errors="replace") for _, name, _ in entries}):
            blobs += [blob for mode, name, blob in entries
                      if name not in _FRAGMENT_SIDE_FILES and not mode.startswith(b"4")]
    objects.prefetch(blobs)


def _check_commit(objects: Objects, sha: str, *, email: str, author_check: bool,
                  lfs_objects: MediaCheck, pushed: set[str]) -> list[str]:
    kind, raw = objects.read(sha)
    if kind != "commit":
        return [f"{sha[:12]}: not a commit"]
    header = raw.split(b"\n\n", 1)[0] + b"\n"
    tree_match = _TREE.search(header)
    author_match = _AUTHOR.search(header)
    if not tree_match or not author_match:
        return [f"commit {sha[:12]}: malformed header"]
    _, tree = objects.read(tree_match.group(1).decode())
    entries = tree_entries(tree)
    names = {name for _, name, _ in entries}
    problems = []
    parents = [p.decode() for p in _PARENT.findall(header)]
    fragment = is_fragment_tree({name.decode(errors="replace") for name in names})
    if fragment:
        author = author_match.group(2).decode(errors="replace")
        if author_check and author.strip().lower() != email.strip().lower():
            problems.append(
                f"fragment {sha[:12]} is authored by <{author}>, but you push as <{email}>: "
                "only its author may publish a fragment"
            )
        for mode, name, blob in entries:
            if name not in _FRAGMENT_SIDE_FILES and not mode.startswith(b"4"):
                problems += _check_pointer(objects, blob, f"fragment {sha[:12]}", lfs_objects, fragment=True)
    # Whatever follows a catalog is held to the catalog's rules (else a plain commit, a fragment or a
    # fragment with a fragments/ folder on top of main would drop everyone's fragments from its view).
    if _catalog_entries(entries) or any(_is_catalog(objects, p) for p in parents):
        problems += _check_catalog(objects, sha, parents, pushed)
    elif not fragment:
        problems += _check_tree_pointers(objects, entries, f"commit {sha[:12]}", lfs_objects, depth=0)
    return problems


def _is_catalog(objects: Objects, sha: str) -> bool:
    kind, raw = objects.read(sha)
    tree = _TREE.search(raw.split(b"\n\n", 1)[0] + b"\n") if kind == "commit" else None
    if not tree:
        return False
    _, data = objects.read(tree.group(1).decode())
    return _catalog_entries(tree_entries(data))


def _catalog_entries(entries: list[tuple[bytes, bytes, str]]) -> bool:
    return is_catalog_tree((name, mode.startswith(b"4")) for mode, name, _ in entries)


def _check_catalog(objects: Objects, sha: str, parents: list[str], pushed: set[str]) -> list[str]:
    """A catalog commit may only add fragments, each exactly the tree of its fragment commit.

    Compared with every catalog parent (or the empty tree for the first catalog): nothing under
    ``fragments/`` is removed or changed, and each fragment folder new to all of them is
    ``fragments/<id[:2]>/<id>`` holding the tree of fragment commit ``<id>``. So no push can drop or
    alter anyone's fragment in what ``git clone`` shows.
    """
    where = f"catalog commit {sha[:12]}"
    _prefetch(objects, parents, pointers=False)  # a catalog's parents may be 1,000 fragments
    bases = [p for p in parents if _is_catalog(objects, p)] or [EMPTY_TREE]
    added: dict[str, str] | None = None
    for base in bases:
        diff = subprocess.run(["git", "diff-tree", "-r", "-t", "--no-renames", base, sha, "--", "fragments"],
                              capture_output=True, check=False)
        if diff.returncode != 0:
            return [f"{where}: cannot compare it with {base[:12]}"]
        here: dict[str, str] = {}
        for line in diff.stdout.decode(errors="replace").splitlines():
            meta, _, path = line.partition("\t")
            fields = meta.split()
            if len(fields) != 5:
                continue
            new_mode, new_sha, status = fields[1], fields[3], fields[4]
            depth = len(path.split("/"))
            is_tree = new_mode == "040000"
            if status == "D" or (depth <= 2 and not is_tree) or (depth >= 3 and status != "A"):
                return [f"{where} removes or changes {path}: a catalog may only add fragments"]
            if depth == 3:
                here[path] = new_sha
        added = here if added is None else {k: v for k, v in added.items() if k in here}
    objects.prefetch([path.rsplit("/", 1)[1] for path in added or {}])
    problems = []
    for path, tree in (added or {}).items():
        _, prefix, fragment_id = path.split("/")
        if len(fragment_id) != 40 or prefix != fragment_id[:2]:
            problems.append(f"{where}: {path} is not fragments/<id[:2]>/<id>")
            continue
        kind, raw = objects.read(fragment_id)
        own = _TREE.search(raw.split(b"\n\n", 1)[0] + b"\n") if kind == "commit" else None
        if own is None or own.group(1).decode() != tree:
            problems.append(f"{where}: {path} is not the tree of fragment commit {fragment_id[:12]}")
        elif fragment_id not in pushed and not _published(fragment_id):
            # a fragment commit sent along but not in the pushed history was never checked (its author)
            problems.append(f"{where}: fragment {fragment_id[:12]} is neither in the pushed history nor "
                            "on the hub: make it a parent of the catalog commit")
        if len(problems) >= 20:
            break
    return problems


def _published(sha: str) -> bool:
    """Whether commit ``sha`` is already reachable from the hub's main (so it was checked when pushed)."""
    done = subprocess.run(["git", "merge-base", "--is-ancestor", sha, MAIN], capture_output=True, check=False)
    return done.returncode == 0


def _check_tree_pointers(objects: Objects, entries: list[tuple[bytes, bytes, str]], where: str,
                         lfs_objects: MediaCheck, depth: int) -> list[str]:
    problems = []
    for mode, _, sha in entries:
        if mode.startswith(b"4") and depth < 32:
            _, tree = objects.read(sha)
            problems += _check_tree_pointers(objects, tree_entries(tree), where, lfs_objects, depth + 1)
        elif mode.startswith(b"100"):
            problems += _check_pointer(objects, sha, where, lfs_objects)
    return problems


def _check_pointer(objects: Objects, blob: str, where: str, lfs_objects: MediaCheck, *,
                   fragment: bool = False) -> list[str]:
    """A fragment's media file must be a pointer in the one form hitrec writes; anywhere else, whatever
    a client would read as a pointer (hitrec's parse_pointer takes lines in any order, CRLF, any
    length; git-lfs its old version names) must name media the hub has."""
    kind, data = objects.read(blob)
    if fragment:
        exact = exact_pointer(data) if kind == "blob" else None
        if exact is None:
            return [f"{where}: its media file is not a Git LFS pointer as hitrec writes one"]
        oid, size = exact
    else:
        if kind != "blob":
            return []
        found = loose_pointer(data)
        if found is None:
            return []
        oid, size = found
    if not isinstance(lfs_objects, str):
        problem = lfs_objects(oid, size)
        if problem is None:
            return []
        if problem != "missing":
            return [f"{where} points to media {oid[:12]} that the hub's object store {problem}: upload it "
                    "again (`hitrec push` and `git lfs push` do)"]
        actual = None
    else:
        actual = stored_media_size(lfs_objects, oid)
    if actual is None:
        return [f"{where} points to media {oid[:12]} that the hub does not have: upload the media "
                "first (`hitrec push` and `git lfs push` do)"]
    if actual != size:
        return [f"{where} points to media {oid[:12]} of {size} bytes, but the hub's copy has {actual}"]
    return []


def main() -> int:
    updates = []
    for line in sys.stdin.read().splitlines():
        parts = line.split()
        if len(parts) == 3:
            updates.append((parts[0], parts[1], parts[2]))
    git_dir = os.path.realpath(os.environ.get("GIT_DIR", "."))
    media: MediaCheck = media_objects_dir(git_dir)
    if os.environ.get("HITREC_HUB_MEDIA"):  # the hub keeps media in an object store: ask it
        media = _object_store_check(git_dir)
    try:
        problems = check_push(
            updates,
            email=os.environ.get("HITREC_HUB_EMAIL", ""),
            author_check=os.environ.get("HITREC_HUB_AUTHOR_CHECK", "1") != "0",
            lfs_objects=media,
        )
    except Exception as exc:  # an ObjectStoreError (no credential in it): refuse, say why
        from hitrec.errors import HitrecError

        if not isinstance(exc, HitrecError):
            raise
        problems = [f"cannot check the pushed media: {exc}"]
    for problem in problems:
        sys.stderr.write(f"hitrec hub: refused: {problem}\n")
    return 1 if problems else 0


def _object_store_check(git_dir: str) -> Callable[[str, int], str | None]:
    import site

    site.main()  # the hook starts with -S (fast); boto3 lives in site-packages
    from hitrec.hub.media import collaboration_name, from_hook_env, problem_of
    from hitrec.store.s3_media import S3MediaStore

    location = from_hook_env(os.environ)
    assert location is not None
    store = S3MediaStore(location.under(collaboration_name(git_dir)))
    return lambda oid, size: problem_of(store, oid, size)


if __name__ == "__main__":
    sys.exit(main())
