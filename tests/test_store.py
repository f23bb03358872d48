"""The local repo on disk: fragment commits, catalog, media store, index, git interop."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from media import make_image, make_wav

from hitrec.errors import (
    AmbiguousFragmentError,
    CorruptRepoError,
    DuplicateMediaError,
    NotARepoError,
    UnknownFragmentError,
)
from hitrec.store import FragmentSpec, Repo
from hitrec.store.format import parse_pointer


def git(repo: Repo, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo.git_dir), *args], check=True, capture_output=True,
                          text=True).stdout


def test_fragment_is_a_commit_with_pointer_and_parents(project: Path) -> None:
    repo = Repo.find()
    a = make_wav(project / "a.wav", freq=300)
    b = make_image(project / "b.png")
    fa, = repo.record([FragmentSpec(a, title="voice", tags=("vo",))])
    fb, = repo.record([FragmentSpec(b, parents=(fa.id,))])
    assert fb.parents == (fa.id,)
    # the commit's parents are the remix-of sources and its author the contributor
    assert git(repo, "log", "-1", "--format=%P|%an <%ae>", fb.id).strip() == f"{fa.id}|Ada Tester <ada@example.org>"
    files = git(repo, "ls-tree", "--name-only", fa.id).split()
    assert sorted(files) == [".gitattributes", "a.wav", "fragment.yaml"]
    oid, size = parse_pointer(git(repo, "cat-file", "blob", f"{fa.id}:a.wav").encode())
    assert oid == hashlib.sha256(a.read_bytes()).hexdigest() and size == a.stat().st_size
    assert repo.media_path(oid).read_bytes() == a.read_bytes()
    assert repo.media_path(oid).relative_to(repo.git_dir).parts[:4] == ("lfs", "objects", oid[:2], oid[2:4])
    # the catalog branch reaches every fragment and shows the lineage
    graph = git(repo, "log", "--graph", "--format=%H %s", "main")
    assert fa.id in graph and fb.id in graph
    tree = git(repo, "ls-tree", "-r", "--name-only", "main")
    assert f"fragments/{fb.id[:2]}/{fb.id}/fragment.yaml" in tree
    subprocess.run(["git", "--git-dir", str(repo.git_dir), "fsck", "--strict", "--no-dangling"], check=True)


def test_git_objects_are_remembered_only_within_the_block(project: Path) -> None:
    repo = Repo.find()
    fragment, = repo.record([FragmentSpec(make_wav(project / "a.wav", freq=300))])
    sha = fragment.id.encode()
    assert repo.git_object(sha) is not repo.git_object(sha)  # read afresh each time
    with repo.remembering_objects():
        first = repo.git_object(sha)
        with repo.remembering_objects():  # a nested block shares what the outer one read
            assert repo.git_object(sha) is first
        assert repo.git_object(sha) is first
        assert repo.load_fragment(fragment.id) == fragment
        with pytest.raises(KeyError):
            repo.git_object(b"0" * 40)
    assert repo.git_object(sha) is not first


def test_git_lfs_sees_the_media_as_lfs(project: Path) -> None:
    if shutil.which("git-lfs") is None:
        pytest.skip("git-lfs is not installed (.ci/run installs it)")
    repo = Repo.find()
    fa, = repo.record([FragmentSpec(make_wav(project / "a.wav"))])
    out = git(repo, "lfs", "ls-files", "--long", "main")
    assert fa.media.oid in out


def test_prefixes_resolve_and_ambiguity_lists_candidates(project: Path) -> None:
    repo = Repo.find()
    recorded = repo.record([FragmentSpec(make_wav(project / f"{i}.wav", freq=200 + i)) for i in range(40)])
    one = recorded[0].id
    assert repo.resolve(one[:7]) == one
    assert repo.resolve(one.upper()) == one
    with pytest.raises(UnknownFragmentError):
        repo.resolve("ffff0000")
    with pytest.raises(UnknownFragmentError):
        repo.resolve("abc")  # too short
    with pytest.raises(UnknownFragmentError):
        repo.resolve("not-hex!")


def test_ambiguous_prefix_lists_candidates(project: Path) -> None:
    repo = Repo.find()
    seen: dict[str, str] = {}
    pair: tuple[str, str] | None = None
    batch = 0
    while pair is None:  # about 320 fragments until two share 4 hex characters (birthday bound)
        specs = [FragmentSpec(make_wav(project / f"{batch}-{i}.wav", seconds=0.01, freq=50 + batch * 200 + i))
                 for i in range(200)]
        for f in repo.record(specs):
            if f.id[:4] in seen:
                pair = (seen[f.id[:4]], f.id)
            seen[f.id[:4]] = f.id
        batch += 1
    with pytest.raises(AmbiguousFragmentError) as info:
        repo.resolve(pair[0][:4])
    assert set(pair) <= set(info.value.candidates)
    assert pair[0][:12] in str(info.value) or pair[0] in str(info.value)


def test_identical_media_is_stored_once_and_named(project: Path) -> None:
    repo = Repo.find()
    a = make_wav(project / "a.wav")
    copy = project / "copy.wav"
    shutil.copy(a, copy)
    fa, = repo.record([FragmentSpec(a)])
    with pytest.raises(DuplicateMediaError) as info:
        repo.record([FragmentSpec(copy)])
    assert info.value.fragment_id == fa.id and "Ada Tester" in str(info.value)
    assert len(repo.fragments()) == 1
    assert len(list(repo.media.oids())) == 1


def test_index_rebuilds_from_git(project: Path) -> None:
    repo = Repo.find()
    repo.record([FragmentSpec(make_wav(project / f"{i}.wav", freq=300 + i)) for i in range(3)])
    repo.close()
    (project / ".hitrec" / "index.sqlite").unlink()
    for extra in ("-wal", "-shm"):
        (project / ".hitrec" / f"index.sqlite{extra}").unlink(missing_ok=True)
    again = Repo.find()
    assert len(again.fragments()) == 3


def test_batch_is_one_pack(project: Path) -> None:
    repo = Repo.find()
    repo.record([FragmentSpec(make_wav(project / f"{i}.wav", seconds=0.1, freq=100 + i)) for i in range(50)])
    packs = list((repo.git_dir / "objects" / "pack").glob("*.pack"))
    assert len(packs) == 1
    assert len(repo.fragments()) == 50
    # git itself accepts the pack and its index
    git(repo, "verify-pack", str(packs[0].with_suffix(".idx")))
    git(repo, "fsck", "--strict", "--no-dangling")
    assert len(git(repo, "log", "--format=%H", "main").split()) == 51  # 50 fragments + 1 catalog commit


def test_merge_catalog_is_a_union(tmp_path: Path) -> None:
    left = Repo.init(tmp_path / "left")
    right = Repo.init(tmp_path / "right")
    shared, = left.record([FragmentSpec(make_wav(tmp_path / "s.wav", freq=100))])
    # right starts from left's history
    for sha in left.dulwich.object_store:
        right.dulwich.object_store.add_object(left.dulwich.object_store[sha])
    right.media.put_file(left.media_path(shared.media.oid))
    right.merge_catalog(left.catalog_head())
    assert right.catalog_head() == left.catalog_head()
    mine, = left.record([FragmentSpec(make_wav(tmp_path / "l.wav", freq=200))])
    theirs, = right.record([FragmentSpec(make_wav(tmp_path / "r.wav", freq=300))])
    for sha in right.dulwich.object_store:
        if sha not in left.dulwich.object_store:
            left.dulwich.object_store.add_object(right.dulwich.object_store[sha])
    left.media.put_file(right.media_path(theirs.media.oid))
    merged = left.merge_catalog(right.catalog_head())
    assert {f.id for f in left.fragments()} == {shared.id, mine.id, theirs.id}
    assert len(left.dulwich[merged.encode()].parents) == 2
    # merging again changes nothing
    assert left.merge_catalog(right.catalog_head()) == merged


def test_find_walks_up_and_fails_clearly(project: Path, tmp_path: Path) -> None:
    sub = project / "a" / "b"
    sub.mkdir(parents=True)
    assert Repo.find(sub).root == project.resolve()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(NotARepoError):
        Repo.find(outside)


@pytest.mark.parametrize("title", ["plain", "Inès: «quoted» \"x\" 'y' #not-a-comment", "line\nbreak\ttab",
                                   "sep\u2028para\u2029nel\x85bom\ufeff", "- [dash] {brace}: yes", "null", "1.5",
                                   "", "😀 emoji", "back\\slash"])
def test_fragment_yaml_round_trips(title: str) -> None:
    import yaml

    from hitrec.store.model import MediaInfo
    from hitrec.store.records import fragment_yaml, parse_fragment_yaml

    media = MediaInfo(oid="a" * 64, size=3, filename="x.wav", kind="audio", mime="audio/wav", duration=1e-05,
                      fps=23.976, sample_rate=48000)
    data = fragment_yaml(kind="audio", title=title, tags=[title, "b"], license="CC0-1.0", project=None, media=media)
    record = parse_fragment_yaml(data, "test")
    assert record["title"] == title and record["tags"] == [title, "b"] and record["project"] is None
    assert record["media"]["duration"] == 1e-05 and record["media"]["fps"] == 23.976
    assert yaml.safe_load(data) == record


def _foreign_catalog(tmp_path: Path, yaml_bytes: bytes, filename: str, media: bytes) -> tuple[Repo, str]:
    """A repo (as a hub might send) whose one fragment carries a hand-made fragment.yaml."""
    from hitrec.store.model import MediaInfo, Person
    from hitrec.store.records import build_catalog_commit, build_fragment, catalog_tree_with, now_and_tz

    other = Repo.init(tmp_path / "foreign")
    oid = hashlib.sha256(media).hexdigest()
    other.media.put_verified([media], oid, len(media))
    info = MediaInfo(oid=oid, size=len(media), filename=filename, kind="audio", mime="audio/wav")
    when, tz = now_and_tz()
    built = build_fragment(yaml_bytes=yaml_bytes, media=info, filename=filename, title="x", parents=(),
                           author=Person("Mallory", "m@example.org"), when=when, tz=tz)
    store = other.dulwich.object_store
    for obj in built.objects:
        store.add_object(obj)
    tree_id, objects = catalog_tree_with(store, None, {built.id: built.commit.tree})
    catalog = build_catalog_commit(tree_id=tree_id, parents=[built.commit.id], author=Person("M", "m@e.org"),
                                   when=when, tz=tz, message="catalog: record 1 fragment\n")
    for obj in [*objects, catalog]:
        store.add_object(obj)
    return other, catalog.id.decode()


@pytest.mark.parametrize("problem", ["future-format", "escaping-filename", "bad-size"])
def test_merge_refuses_malformed_fragments_and_keeps_the_ref(project: Path, tmp_path: Path, problem: str) -> None:
    repo = Repo.find()
    mine, = repo.record([FragmentSpec(make_wav(project / "a.wav"))])
    head = repo.catalog_head()
    media = b"RIFF fake media"
    oid = hashlib.sha256(media).hexdigest()
    filename = "x.wav"
    record = {"format": 1, "filename": "x.wav", "size": len(media)}
    if problem == "future-format":
        record["format"] = 2
    elif problem == "escaping-filename":
        record["filename"] = filename = str(tmp_path / "ESCAPED.txt")
    else:
        record["size"] = "3"
    yaml_bytes = (f"hitrec-fragment: {record['format']}\nkind: audio\ntitle: x\ntags: []\nlicense: CC0-1.0\n"
                  f"project: null\nmedia:\n  oid: {oid}\n  size: {record['size']!r}\n"
                  f"  filename: {json.dumps(record['filename'])}\n  mime: audio/wav\n").encode()
    other, catalog = _foreign_catalog(tmp_path, yaml_bytes, filename.rsplit("/", 1)[-1], media)
    for sha in other.dulwich.object_store:
        repo.dulwich.object_store.add_object(other.dulwich.object_store[sha])
    repo.media.put_verified([media], oid, len(media))
    with pytest.raises(CorruptRepoError):
        repo.merge_catalog(catalog)
    assert repo.catalog_head() == head
    assert [f.id for f in repo.fragments()] == [mine.id]
    assert not (tmp_path / "ESCAPED.txt").exists()


def test_merge_after_a_crash_indexes_everything(project: Path, tmp_path: Path) -> None:
    """A crash between the ref update and the index update, then a merge: no fragment goes missing."""
    repo = Repo.find()
    a = make_wav(project / "a.wav", freq=100)
    r = subprocess.run([sys.executable, "-m", "hitrec", "add", "a.wav"], cwd=project, capture_output=True,
                       env={**os.environ, "HITREC_CRASH_AT": "ref-updated"})
    assert r.returncode != 0
    other = Repo.init(tmp_path / "other")
    theirs, = other.record([FragmentSpec(make_wav(tmp_path / "b.wav", freq=200))])
    for sha in other.dulwich.object_store:
        repo.dulwich.object_store.add_object(other.dulwich.object_store[sha])
    repo.media.put_file(other.media_path(theirs.media.oid))
    repo.merge_catalog(other.catalog_head())
    assert len(repo.fragments()) == 2
    with pytest.raises(DuplicateMediaError):
        repo.record([FragmentSpec(a)])


def test_damaged_index_is_rebuilt(project: Path) -> None:
    repo = Repo.find()
    repo.record([FragmentSpec(make_wav(project / "a.wav"))])
    repo.close()
    (project / ".hitrec" / "index.sqlite").write_bytes(os.urandom(4096))
    for extra in ("-wal", "-shm"):
        (project / ".hitrec" / f"index.sqlite{extra}").unlink(missing_ok=True)
    again = Repo.find()
    assert len(again.fragments()) == 1


def test_an_index_found_damaged_while_reading_is_one_line_and_fsck_replaces_it(project: Path, cli) -> None:
    """sqlite can open an index whose pages are damaged and only fail on a query ("database disk image is
    malformed"): that is the store's CorruptRepoError in one line, and `hitrec fsck`, which the line
    sends you to, sets the index aside and rebuilds it (it used to fail on the same error)."""
    import sqlite3

    repo = Repo.find()
    notes = [project / f"note{i}.txt" for i in range(150)]
    for i, note in enumerate(notes):
        note.write_text(f"note {i} " * 30)
    repo.record_batch([FragmentSpec(n, title=f"a long title for note {i} " * 6) for i, n in enumerate(notes)])
    repo.close()
    index = project / ".hitrec" / "index.sqlite"
    db = sqlite3.connect(index)
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    page = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    assert pages > 40
    data = bytearray(index.read_bytes())
    data[pages // 2 * page:] = b"\xff" * (len(data) - pages // 2 * page)  # the second half of the pages
    index.write_bytes(bytes(data))

    r = cli("log")
    assert r.exit_code == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "index" in r.stderr and "is damaged" in r.stderr and "run `hitrec fsck`" in r.stderr
    r = cli("fsck", "--quick")
    assert r.exit_code == 0, r.output
    assert "set it aside as index.sqlite.damaged and rebuilt it from git (150 fragments)" in r.stdout
    assert (project / ".hitrec" / "index.sqlite.damaged").exists()
    assert len(cli("log", "--json").json()) == 150


def test_readding_repairs_a_damaged_media_object(project: Path, cli) -> None:
    a = make_wav(project / "a.wav")
    fragment = cli("add", str(a), "--json").json()["added"][0]
    repo = Repo.find()
    path = repo.media_path(fragment["media"]["oid"])
    repo.close()
    os.chmod(path, 0o644)
    path.write_bytes(b"garbage")
    assert cli("fsck", "--quick").exit_code == 1  # the size differs: --quick sees it too
    assert cli("add", str(a)).exit_code == 0  # "already recorded", and the verified bytes replace the damage
    assert cli("fsck").exit_code == 0



def test_dead_writers_lock_files_are_removed_by_the_next_writer(project: Path, cli) -> None:
    """A writer killed mid-update leaves git's ``<ref>.lock`` behind (a push killed after the hub moved
    its ref left ``refs/remotes/origin/main.lock``, and the re-run died with dulwich's FileLocked). No
    process holds them open: the next writer removes them when it takes the repo lock."""
    assert cli("add", str(make_wav(project / "a.wav", freq=310))).exit_code == 0
    git_dir = project / ".hitrec"
    locks = [git_dir / "refs" / "heads" / "main.lock", git_dir / "refs" / "remotes" / "origin" / "main.lock",
             git_dir / "packed-refs.lock"]
    for lock in locks:
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.write_text("0" * 40 + "\n")
    assert cli("add", str(make_wav(project / "b.wav", freq=320))).exit_code == 0
    assert [lock for lock in locks if lock.exists()] == []
    repo = Repo.find()
    try:
        repo.dulwich.refs[b"refs/remotes/origin/main"] = repo.catalog_head().encode()  # no FileLocked
        with repo.lock():
            assert repo.clear_stale_locks() == []
    finally:
        repo.close()


def test_a_live_writers_lock_file_gets_a_clear_message(project: Path, cli, monkeypatch) -> None:
    from hitrec.store import stale

    monkeypatch.setattr(stale, "LIVE_WAIT", 0.3)
    assert cli("add", str(make_wav(project / "a.wav", freq=330))).exit_code == 0
    lock = project / ".hitrec" / "refs" / "heads" / "main.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1], 'w'); "
                               "print('holding', flush=True); time.sleep(60)", str(lock)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        r = cli("add", str(make_wav(project / "b.wav", freq=340)))
        assert r.exit_code == 1 and r.stderr.count("error:") == 1 and "Traceback" not in r.output
        assert f"process {holder.pid}" in r.stderr and "main.lock" in r.stderr
        assert lock.exists()  # a live writer's lock is never taken from it
    finally:
        holder.kill()
        holder.wait()
    assert cli("add", str(make_wav(project / "b.wav", freq=340))).exit_code == 0  # its writer gone: removed
    assert not lock.exists()


def _index_pack_in(git_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """A real ``git index-pack`` (what ``git fetch`` runs for a pull) part-way into a pack: it is
    writing ``objects/pack/tmp_pack_*``, and waits for the rest of the pack on its stdin."""
    pack_dir = git_dir / "objects" / "pack"
    before = set(pack_dir.glob("tmp_pack_*"))
    proc = subprocess.Popen(["git", "--git-dir", str(git_dir), "index-pack", "--stdin"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None
    proc.stdin.write(b"PACK\0\0\0\2\0\0\0\5")  # a header, then it waits for the objects
    proc.stdin.flush()
    for _ in range(500):
        new = set(pack_dir.glob("tmp_pack_*")) - before
        if new:
            return proc, new.pop()
        time.sleep(0.01)
    raise AssertionError("git index-pack wrote no temp pack")


def test_temp_packs_of_killed_fetches_are_removed_by_the_next_writer(project: Path, cli) -> None:
    """A pull SIGKILLed while git received the pack left ``objects/pack/tmp_pack_*`` for good (found by
    killing real pulls at random moments). The next writer removes it under the repo lock; a live
    writer's temp pack (a fetch still running) is kept."""
    assert cli("add", str(make_wav(project / "a.wav", freq=350))).exit_code == 0
    git_dir = project / ".hitrec"
    dead, dead_pack = _index_pack_in(git_dir)
    dead.kill()
    dead.wait()
    live, live_pack = _index_pack_in(git_dir)
    try:
        assert dead_pack.exists()
        assert cli("add", str(make_wav(project / "b.wav", freq=360))).exit_code == 0
        assert not dead_pack.exists()
        assert live_pack.exists()  # its writer is still at it
    finally:
        live.kill()
        live.wait()
    assert cli("add", str(make_wav(project / "c.wav", freq=370))).exit_code == 0
    assert list((git_dir / "objects" / "pack").glob("tmp*")) == []
    assert cli("fsck").exit_code == 0


def test_repo_open_reads_a_hub_collaboration(tmp_path: Path, monkeypatch, hub) -> None:
    """The hub keeps a collaboration as a bare ``name.git`` with ``lfs/`` inside; ``Repo.open`` reads it
    through the same Repo a client uses (fragments, records, media, index)."""
    from sync_helpers import ADA, client_repo, record, set_env, user_env

    from hitrec.ops.push import push

    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    client = client_repo(tmp_path, "ada", hub.collaboration_url("gallery"))
    ids = record(client, tmp_path / "in", 3)
    push(client)
    client.close()
    bare = Repo.open(hub.collaboration_path("gallery"))
    try:
        assert bare.git_dir == hub.collaboration_path("gallery").resolve()
        assert bare.catalog_head() == hub.catalog_head("gallery")
        assert {f.id for f in bare.fragments()} == set(ids)
        for fid in ids:
            fragment = bare.fragment(fid[:10])
            assert bare.media.verify(fragment.media.oid) is None
            with bare.media.open_read(fragment.media.oid, 0, 4) as reader:
                assert reader.read() == b"RIFF"
    finally:
        bare.close()
    with pytest.raises(NotARepoError):
        Repo.open(tmp_path / "nowhere.git")
