"""What a merge of fetched fragments reads, and how: the batched path (``Repo.preload_fragments`` with
the light object views of hitrec.store.raw_objects) must read exactly what dulwich reads, and the LFS
pointer check must hold whether or not the pointer blob is read."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from dulwich.objects import Blob, Commit, ShaFile, Tree
from media import make_wav

from hitrec.errors import CorruptRepoError
from hitrec.store import FragmentSpec, Repo
from hitrec.store.format import LFS_SPEC, format_pointer, pointer_blob_id
from hitrec.store.halves import MIN_ITEMS
from hitrec.store.model import MediaInfo, Person
from hitrec.store.raw_objects import RawCommit, RawTree, parse_raw
from hitrec.store.records import build_catalog_commit, build_fragment, catalog_tree_with, fragment_yaml
from hitrec.store.repo import PRELOAD_MIN

MANY = PRELOAD_MIN + 6  # enough for the batched reads
FORKED = MIN_ITEMS + 10  # enough for the checks to run on two CPUs (hitrec.store.halves)


def _fragment_objects(index: int, *, pointer: bytes | None, tz: int) -> tuple[Commit, list[ShaFile], bytes]:
    """One fragment as a hub might send it; ``pointer`` replaces the LFS pointer file hitrec would write."""
    media = b"RIFF media %d" % index
    oid = hashlib.sha256(media).hexdigest()
    info = MediaInfo(oid=oid, size=len(media), filename=f"m{index}.wav", kind="audio", mime="audio/wav",
                     duration=0.5, sample_rate=48000, channels=1)
    yaml_bytes = fragment_yaml(kind="audio", title=f"take {index}", tags=["vo"], license="CC0-1.0",
                               project="p", media=info)
    built = build_fragment(yaml_bytes=yaml_bytes, media=info, filename=info.filename, title=f"take {index}",
                           parents=(), author=Person("Mallory Ünal", "m@example.org"), when=1_700_000_000 + index,
                           tz=tz)
    if pointer is None:
        return built.commit, built.objects, media
    blob = Blob.from_string(pointer)
    tree = Tree()
    for obj in built.objects:
        if isinstance(obj, Tree):
            for entry in obj.items():
                sha = blob.id if entry.path == info.filename.encode() else entry.sha
                tree.add(entry.path, entry.mode, sha)
    commit = built.commit.copy()
    commit.tree = tree.id
    return commit, [o for o in built.objects if not isinstance(o, Tree | Commit)] + [blob, tree, commit], media


def _merge(tmp_path: Path, count: int, odd: bytes | None, tz: int = 0) -> tuple[Repo, str]:
    """A repo holding ``count`` fetched fragments (the middle one with pointer ``odd``), not yet merged."""
    repo = Repo.init(tmp_path / "mine")
    store = repo.dulwich.object_store
    trees: dict[str, bytes] = {}
    for i in range(count):
        commit, objects, media = _fragment_objects(i, pointer=odd if i == count // 2 else None, tz=tz)
        for obj in objects:
            store.add_object(obj)
        repo.media.put_verified([media], hashlib.sha256(media).hexdigest(), len(media))
        trees[commit.id.decode()] = commit.tree
    tree_id, objects = catalog_tree_with(store, None, trees)
    catalog = build_catalog_commit(tree_id=tree_id, parents=[t.encode() for t in trees], author=Person("M", "m@e.org"),
                                   when=1_700_000_000, tz=0, message="catalog\n")
    for obj in [*objects, catalog]:
        store.add_object(obj)
    return repo, catalog.id.decode()


def _oid_size(index: int) -> tuple[str, int]:
    media = b"RIFF media %d" % index
    return hashlib.sha256(media).hexdigest(), len(media)


@pytest.mark.parametrize(("count", "tz"), [(1, 0), (MANY, 0), (1, -(3 * 3600 + 30 * 60)), (MANY, -(3 * 3600 + 30 * 60)),
                                           (MANY, 5 * 3600 + 45 * 60), (FORKED, -3600)])
def test_a_merge_reads_every_fragment_as_dulwich_does(tmp_path: Path, count: int, tz: int) -> None:
    repo, catalog = _merge(tmp_path, count, None, tz)
    repo.merge_catalog(catalog)
    merged = {f.id: f for f in repo.fragments()}
    assert len(merged) == count
    fresh = Repo.open(repo.git_dir)  # no batched reads: one fragment at a time through dulwich
    for fid, fragment in merged.items():
        assert fresh.load_fragment(fid) == fragment
    some = next(iter(merged.values()))
    assert some.author == Person("Mallory Ünal", "m@example.org")
    assert some.created.utcoffset().total_seconds() == tz  # type: ignore[union-attr]


@pytest.mark.parametrize("count", [1, MANY], ids=["one-by-one", "batched"])
def test_a_pointer_written_another_valid_way_is_read_and_accepted(tmp_path: Path, count: int) -> None:
    """Not hitrec's bytes (the lines in another order), so its blob id differs and it is read: it says
    the same media, and the merge goes through."""
    oid, size = _oid_size(count // 2)
    reordered = f"version {LFS_SPEC}\nsize {size}\noid sha256:{oid}\n".encode()
    assert Blob.from_string(reordered).id != pointer_blob_id(oid, size)
    repo, catalog = _merge(tmp_path, count, reordered)
    assert repo.merge_catalog(catalog) == catalog
    assert len(repo.fragments()) == count


@pytest.mark.parametrize(("count", "problem"), [(n, p) for n in (1, MANY) for p in ("other-size", "other-oid",
                                                                                  "not-a-pointer")]
                         + [(FORKED, "other-size")])
def test_a_pointer_that_disagrees_with_the_record_stops_the_merge(tmp_path: Path, count: int, problem: str) -> None:
    oid, size = _oid_size(count // 2)
    odd = {"other-size": format_pointer(oid, size + 1), "other-oid": format_pointer("0" * 64, size),
           "not-a-pointer": b"RIFF the media itself"}[problem]
    repo, catalog = _merge(tmp_path, count, odd)
    with pytest.raises(CorruptRepoError, match=r"LFS pointer and fragment\.yaml disagree"):
        repo.merge_catalog(catalog)
    assert repo.catalog_head() is None and repo.fragments() == []


def test_the_pointer_blob_id_is_gits(tmp_path: Path) -> None:
    oid, size = _oid_size(3)
    assert pointer_blob_id(oid, size) == Blob.from_string(format_pointer(oid, size)).id


def test_the_light_views_read_what_dulwich_reads(project: Path) -> None:
    """Commits (with several parents, a signature-like multi-line header, a negative zone) and trees of a
    real repo, parsed both ways."""
    repo = Repo.find()
    a, = repo.record([FragmentSpec(make_wav(project / "a.wav", freq=200))])
    b, = repo.record([FragmentSpec(make_wav(project / "b.wav", freq=300))])
    c, = repo.record([FragmentSpec(make_wav(project / "c.wav", freq=400), parents=(a.id, b.id))])
    store = repo.dulwich.object_store
    signed = store[c.id.encode()].copy()
    signed.gpgsig = b"-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----"
    signed.author_timezone = -(7 * 3600)
    signed.message = b"title\n\nbody\n\n\nmore\n"
    for commit in (store[a.id.encode()], store[c.id.encode()], signed):
        view = parse_raw(commit.id, b"commit", commit.as_raw_string())
        assert isinstance(view, RawCommit)
        assert (view.tree, view.parents, view.author, view.author_time, view.author_timezone, view.message) == (
            commit.tree, commit.parents, commit.author, commit.author_time, commit.author_timezone, commit.message)
        tree = store[commit.tree]
        tview = parse_raw(tree.id, b"tree", tree.as_raw_string())
        assert isinstance(tview, RawTree)
        assert tview.items() == tree.items() and all(tview[e.path] == tree[e.path] for e in tree.items())
        assert b"fragment.yaml" in tview and b"nothing" not in tview


@pytest.mark.parametrize("raw", [
    b"",
    b"parent " + b"a" * 40 + b"\n\nmsg",
    b"tree " + b"a" * 39 + b"\nauthor A <a> 1 +0000\n\nmsg",
    b"tree " + b"a" * 40 + b"\n\nno author",
    b"tree " + b"a" * 40 + b"\nauthor A <a> 1 0000\n\nmsg",
    b"tree " + b"a" * 40 + b"\nauthor A <a> x +0000\n\nmsg",
    b"tree " + b"a" * 40 + b"\nauthor A <a> 1 +0000\nauthor B <b> 1 +0000\n\nmsg",
])
def test_a_malformed_commit_is_left_to_dulwich(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_raw(b"c" * 40, b"commit", raw)


@pytest.mark.parametrize("raw", [
    b"100644 name\0" + b"x" * 19,                       # an id cut short
    b"100644 \0" + b"x" * 20,                           # no name
    b"100644 a\0" + b"x" * 20 + b"100644 a\0" + b"y" * 20,  # the name twice
    b"10064x a\0" + b"x" * 20,                          # not an octal mode
    b"100644a" + b"x" * 20,                             # no name end
])
def test_a_malformed_tree_is_left_to_dulwich(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_raw(b"t" * 40, b"tree", raw)


def test_a_tree_entry_mode_is_read_as_git_writes_it() -> None:
    tree = Tree()
    tree.add(b"dir", stat.S_IFDIR, b"a" * 40)
    tree.add(b"file", 0o100644, b"b" * 40)
    view = parse_raw(tree.id, b"tree", tree.as_raw_string())
    assert isinstance(view, RawTree) and view.items() == tree.items()


def test_batched_reads_answer_each_name_in_order_across_blocks(project: Path) -> None:
    """Objects bigger than the read block, missing names between them, and many small ones."""
    from hitrec.store.catfile import _BLOCK, read_objects

    repo = Repo.find()
    store = repo.dulwich.object_store
    big = Blob.from_string(bytes(range(256)) * (2 * _BLOCK // 256 + 7))
    small = [Blob.from_string(b"small %d\n" % i) for i in range(300)]
    for blob in (big, *small):
        store.add_object(blob)
    names = [small[0].id, b"0" * 40, big.id, *[b.id for b in small[1:]], b"1" * 40, big.id]
    answers = list(read_objects(repo.git_dir, names))
    assert [a[0] for a in answers] == names
    by_name = {b.id: b.data for b in (big, *small)}
    for sha, kind, data in answers:
        if sha in by_name:
            assert kind == b"blob" and data == by_name[sha]
        else:
            assert kind is None and data == b""


def test_the_index_keeps_each_fragment_as_its_json(project: Path) -> None:
    import json

    repo = Repo.find()
    repo.record([FragmentSpec(make_wav(project / "é.wav"), title="Ünal's \"take\"", tags=("vo", "ü"))])
    fragment, = repo.fragments()
    doc, = repo.fragments_json()
    assert doc == json.dumps(fragment.to_json(), ensure_ascii=False)
    assert json.loads(doc)["media"] == fragment.media.to_json()


def test_batched_reads_that_git_cannot_answer_raise_for_the_fallback(tmp_path: Path) -> None:
    """git cat-file refusing (not a repository here): the caller is told, and reads through dulwich."""
    from hitrec.store.catfile import CatFileError, read_objects

    with pytest.raises(CatFileError, match="ended early"):
        list(read_objects(tmp_path, [b"0" * 40]))


def test_batched_reads_left_early_end_at_once(tmp_path: Path) -> None:
    """A reader that stops after the first answer (an error, Ctrl-C) while git still has names to read:
    closing the reads must end git, not wait for the writing thread that git's full pipes hold up."""
    import subprocess
    import sys

    Repo.init(tmp_path / "r")
    code = ("import sys\nfrom pathlib import Path\nfrom hitrec.store.catfile import read_objects\n"
            "reads = read_objects(Path(sys.argv[1]), [b'%040x' % i for i in range(200_000)])\n"
            "next(reads)\nreads.close()\nprint('closed')\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r" / ".hitrec")], capture_output=True,
                          timeout=20, check=False)
    assert done.stdout == b"closed\n", done.stderr


_T, _P, _Q = b"a" * 40, b"b" * 40, b"c" * 40
_WHO = b"A <a> 1 +0000"


@pytest.mark.parametrize("raw", [
    b"tree " + _T + b"\nparent " + _P + b"\nx y\nparent " + _Q + b"\nauthor " + _WHO + b"\n\nmsg",  # a late parent
    b"tree " + _T + b"\ntree " + _T + b"\nparent " + _P + b"\nauthor " + _WHO + b"\n\nmsg",  # after a second tree
    b"tree " + _T + b"\nauthor " + _WHO + b"\n B <b> 2 +0100\ncommitter " + _WHO + b"\n\nmsg",  # a continued author
    b"tree " + _T + b"\n " + _P + b"\nauthor " + _WHO + b"\n\nmsg",  # a continued tree
    b"tree " + _T + b"\nparent " + _P + b"\n x\nauthor " + _WHO + b"\n\nmsg",  # a continued parent
    b"tree " + b"g" * 40 + b"\nauthor " + _WHO + b"\n\nmsg",  # not hex
    b"tree " + _T + b"\nparent " + b"main:fragments/ab/" + b"c" * 22 + b"\nauthor " + _WHO + b"\n\nmsg",
])
def test_a_commit_dulwich_reads_otherwise_is_left_to_it(raw: bytes) -> None:
    """The light view reads a commit as dulwich does, or refuses it (dulwich then reads it): parents only
    right after the tree (git's rule too), headers continued on the next line, ids that are not hex (git
    cat-file would take ``main:path`` for a revision)."""
    try:
        view = parse_raw(b"c" * 40, b"commit", raw)
    except ValueError:
        return
    assert isinstance(view, RawCommit)
    commit = Commit.from_raw_string(Commit.type_num, raw)
    assert (view.tree, view.parents, view.author, view.author_time, view.author_timezone) == (
        commit.tree, commit.parents, commit.author, commit.author_time, commit.author_timezone)


@pytest.mark.parametrize("count", [1, MANY], ids=["one-by-one", "batched"])
def test_a_media_entry_that_is_not_a_file_is_read_and_refused(tmp_path: Path, count: int) -> None:
    """The pointer's blob id alone vouches for a file: a submodule entry (git needs no object for it)
    carrying the id of hitrec's pointer, with no such blob anywhere, must not pass as a checked pointer."""
    repo, catalog = _merge(tmp_path, count, None)
    store = repo.dulwich.object_store
    head = store[catalog.encode()]
    middle = head.parents[count // 2]
    commit = store[middle]
    tree = store[commit.tree]
    oid, size = _oid_size(count // 2)
    linked = Tree()
    for entry in tree.items():
        mode = 0o160000 if entry.path == f"m{count // 2}.wav".encode() else entry.mode
        linked.add(entry.path, mode, entry.sha)
    assert linked[f"m{count // 2}.wav".encode()][1] == pointer_blob_id(oid, size)
    odd = commit.copy()
    odd.tree = linked.id
    store.add_object(linked)
    store.add_object(odd)
    trees = {(odd.id if p == middle else p).decode(): store[p].tree if p != middle else linked.id
             for p in head.parents}
    tree_id, objects = catalog_tree_with(store, None, trees)
    other = build_catalog_commit(tree_id=tree_id, parents=[t.encode() for t in trees], author=Person("M", "m@e.org"),
                                 when=1_700_000_000, tz=0, message="catalog\n")
    for obj in [*objects, other]:
        store.add_object(obj)
    blob_id = pointer_blob_id(oid, size).decode()
    (Path(store.path) / blob_id[:2] / blob_id[2:]).unlink()  # the pointer blob is nowhere
    with pytest.raises(CorruptRepoError):
        repo.merge_catalog(other.id.decode())
    assert repo.catalog_head() is None


def test_a_big_object_is_read_in_linear_time(tmp_path: Path) -> None:
    """A fetched tree may hold any file, and the batched reads read each: gluing every pipe read of a
    big object onto what was read before took 43 s for 100 MB (quadratic); reading the rest at once, 0.3 s."""
    import subprocess
    import time

    from hitrec.store.catfile import read_objects

    git_dir = tmp_path / "big.git"
    subprocess.run(["git", "init", "-q", "--bare", str(git_dir)], check=True)
    data = hashlib.sha256(b"seed").digest() * (64 * 1024 * 1024 // 32)
    (tmp_path / "big").write_bytes(data)
    sha = subprocess.run(["git", "--git-dir", str(git_dir), "-c", "core.compression=0", "hash-object", "-w",
                          str(tmp_path / "big")], check=True, capture_output=True).stdout.strip()
    start = time.monotonic()
    (name, kind, read), = list(read_objects(git_dir, [sha]))
    took = time.monotonic() - start
    assert (name, kind) == (sha, b"blob") and read == data
    assert took < 6, f"{took:.1f} s for 64 MB"


@pytest.mark.parametrize("count", [1, MANY], ids=["one-by-one", "batched"])
@pytest.mark.parametrize("kind", ["blob", "tree"])
def test_a_catalog_entry_that_is_not_a_commit_stops_the_merge(tmp_path: Path, count: int, kind: str) -> None:
    """A catalog may name any object (git does not look behind its entries): a blob or tree there was an
    AttributeError out of the merge, not the CorruptRepoError that says what is wrong."""
    repo, catalog = _merge(tmp_path, count, None)
    store = repo.dulwich.object_store
    head = store[catalog.encode()]
    odd: ShaFile = Blob.from_string(b"not a commit")
    if kind == "tree":
        odd = Tree()
        odd.add(b"x", 0o100644, Blob.from_string(b"x").id)
    store.add_object(odd)
    trees = {p.decode(): store[p].tree for p in head.parents}
    trees[odd.id.decode()] = next(iter(trees.values()))
    tree_id, objects = catalog_tree_with(store, None, trees)
    other = build_catalog_commit(tree_id=tree_id, parents=[], author=Person("M", "m@e.org"), when=1_700_000_000,
                                 tz=0, message="catalog\n")
    for obj in [*objects, other]:
        store.add_object(obj)
    with pytest.raises(CorruptRepoError, match=f"is a {kind} where a commit belongs"):
        repo.merge_catalog(other.id.decode())
    assert repo.catalog_head() is None
