"""A derived SQLite index of fragments, for fast listing, prefix lookup and media dedupe.

It is a cache: it records which catalog commit it reflects, and anything it lacks is rebuilt from git.
Opening it writes nothing when it is already set up (WAL mode, schema), so reading works on a full
disk; when it cannot be written, ``IndexUnavailable`` says so and the repo reads git instead.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar, cast

from hitrec.errors import CorruptRepoError, RepoError
from hitrec.store.model import Fragment, MediaInfo, Person

SCHEMA_VERSION = "3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fragments (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    author_name TEXT NOT NULL,
    author_email TEXT NOT NULL,
    created INTEGER NOT NULL,
    tz INTEGER NOT NULL,
    parents TEXT NOT NULL,
    tags TEXT NOT NULL,
    license TEXT NOT NULL,
    project TEXT,
    oid TEXT NOT NULL,
    has_timeline INTEGER NOT NULL,
    media TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fragments_oid ON fragments (oid);
CREATE INDEX IF NOT EXISTS fragments_created ON fragments (created);
CREATE TABLE IF NOT EXISTS edges (child TEXT NOT NULL, parent TEXT NOT NULL, PRIMARY KEY (child, parent));
CREATE INDEX IF NOT EXISTS edges_parent ON edges (parent);
"""
COLUMNS = ("id, kind, title, author_name, author_email, created, tz, parents, tags, license, project, "
           "oid, has_timeline, media")


_DUMPS = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False), set up once
IndexRow = tuple[Any, ...]  # the fragments table's columns, COLUMNS then doc


def fragment_row(f: Fragment) -> IndexRow:
    """The index row of a fragment: its columns, then its JSON document."""
    dumps = _DUMPS
    offset = f.created.utcoffset()
    media = dumps(f.media.to_json())
    # the doc is json.dumps(f.to_json()): its media, always last, is the text just made
    doc = f"{dumps(f.to_json(media=False))[:-1]}, \"media\": {media}}}"
    return (f.id, f.kind, f.title, f.author.name, f.author.email, int(f.created.timestamp()),
            int(offset.total_seconds()) if offset else 0, " ".join(f.parents),
            dumps(list(f.tags)) if f.tags else "[]", f.license, f.project, f.media.oid, int(f.has_timeline),
            media, doc)


# sqlite's answers that mean "cannot write here now", not "this file is damaged"
_UNAVAILABLE = {"SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM"}


class IndexUnavailable(RepoError):
    """The index cannot be written (a full disk, a read-only folder); git still has everything."""

    def __init__(self, path: Path | None, exc: sqlite3.Error) -> None:
        super().__init__(f"the index {path} cannot be written ({exc}); free some space on that disk")
        self.path = path


class IndexDamaged(CorruptRepoError):
    """sqlite found the index file damaged; it is only a cache of git: `hitrec fsck` replaces it."""

    def __init__(self, path: Path | None, exc: sqlite3.Error) -> None:
        super().__init__(f"the repo index {path} is damaged ({exc}); run `hitrec fsck` to rebuild it")
        self.path = path


def _translated(path: Path | None, exc: sqlite3.Error) -> BaseException:
    """sqlite's error as the store's: "cannot write here now" (IndexUnavailable), a damaged file
    (IndexDamaged); anything else (a misuse of sqlite) stays what it is."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    if "_".join(name.split("_")[:2]) in _UNAVAILABLE:
        return IndexUnavailable(path, exc)
    if isinstance(exc, sqlite3.DatabaseError):
        return IndexDamaged(path, exc)
    return exc


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _reading(method: _Method) -> _Method:
    """An index query whose sqlite errors are the store's (see _translated)."""

    @functools.wraps(method)
    def wrapper(self: Index, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            translated = _translated(self.path, exc)
            if translated is exc:
                raise
            raise translated from exc

    return cast(_Method, wrapper)


class Index:
    """The index at ``path``, or in memory when ``path`` is None."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        with self._writing():
            self.db = sqlite3.connect(":memory:" if path is None else path, timeout=60, isolation_level=None)
            try:
                if self._stored_schema() != SCHEMA_VERSION:
                    self._set_up()
                elif self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            except BaseException:
                self.db.close()
                raise

    def _set_up(self) -> None:
        self.db.execute("PRAGMA journal_mode=WAL")
        if self._stored_schema() is not None:  # an index from another hitrec: start over
            self.db.executescript("DROP TABLE fragments; DROP TABLE edges; DROP TABLE meta;")
        self.db.executescript(SCHEMA)

    def _stored_schema(self) -> str | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return row[0] if row else ""

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """sqlite's errors become the store's (see _translated)."""
        try:
            yield
        except sqlite3.Error as exc:
            translated = _translated(self.path, exc)
            if translated is exc:
                raise
            raise translated from exc

    def close(self) -> None:
        self.db.close()

    # --- state ---------------------------------------------------------------------------------
    def indexed_catalog(self) -> str | None:
        with self._writing():
            row = self.db.execute("SELECT value FROM meta WHERE key='catalog'").fetchone()
            version = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if version is None or version[0] != SCHEMA_VERSION:
            return None
        return row[0] if row else None

    def begin(self) -> None:
        with self._writing():
            self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        with self._writing():
            self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE``, the block, ``COMMIT`` (unless the block rolled back itself); an error rolls
        back, and a rollback that fails too (a full disk) cannot hide the error that caused it."""
        self.begin()
        try:
            yield
            if self.db.in_transaction:
                self.commit()
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.rollback()
            raise

    def reset(self) -> None:
        with self._writing():
            self._reset()

    def _reset(self) -> None:
        self.db.execute("DELETE FROM fragments")
        self.db.execute("DELETE FROM edges")
        self.db.execute("DELETE FROM meta")

    def set_catalog(self, sha: str | None) -> None:
        with self._writing():
            self._set_catalog(sha)

    def _set_catalog(self, sha: str | None) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('catalog', ?)", (sha or "",))

    def insert(self, fragments: Iterable[Fragment]) -> None:
        self.insert_rows([fragment_row(f) for f in fragments])

    def insert_rows(self, rows: Sequence[IndexRow]) -> None:
        """Rows made by ``fragment_row`` (possibly in another process: they are plain tuples)."""
        edges = [(row[0], parent) for row in rows for parent in row[7].split()]
        with self._writing():
            self.db.executemany(f"INSERT OR REPLACE INTO fragments ({COLUMNS}, doc) VALUES "
                                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            self.db.executemany("INSERT OR IGNORE INTO edges VALUES (?, ?)", edges)

    # --- queries -------------------------------------------------------------------------------
    @_reading
    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM fragments").fetchone()[0]

    @_reading
    def ids_with_prefix(self, prefix: str, limit: int = 11) -> list[str]:
        upper = prefix + "g"  # hex ids: every id with the prefix sorts below prefix + 'g'
        rows = self.db.execute("SELECT id FROM fragments WHERE id >= ? AND id < ? LIMIT ?",
                               (prefix, upper, limit))
        return [r[0] for r in rows]

    @_reading
    def get(self, fragment_id: str) -> Fragment | None:
        row = self.db.execute(f"SELECT {COLUMNS} FROM fragments WHERE id = ?", (fragment_id,)).fetchone()
        return _fragment(row) if row else None

    @_reading
    def by_oid(self, oid: str) -> Fragment | None:
        row = self.db.execute(f"SELECT {COLUMNS} FROM fragments WHERE oid = ? ORDER BY created LIMIT 1",
                              (oid,)).fetchone()
        return _fragment(row) if row else None

    @_reading
    def children(self, fragment_id: str) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT child FROM edges WHERE parent = ? ORDER BY child",
                               (fragment_id,))
        return [r[0] for r in rows]

    @_reading
    def all_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM fragments")]

    @_reading
    def query(self, *, author: str | None = None, kind: str | None = None, tag: str | None = None,
              project: str | None = None, limit: int | None = None) -> list[Fragment]:
        sql, args = _select(COLUMNS, author=author, kind=kind, tag=tag, project=project, limit=limit)
        return [_fragment(row) for row in self.db.execute(sql, args)]

    @_reading
    def query_json(self, *, author: str | None = None, kind: str | None = None, tag: str | None = None,
                   project: str | None = None, limit: int | None = None) -> list[str]:
        """The same fragments as ``query``, as stored JSON documents (fast listing)."""
        sql, args = _select("doc", author=author, kind=kind, tag=tag, project=project, limit=limit)
        return [row[0] for row in self.db.execute(sql, args)]


def _select(columns: str, *, author: str | None, kind: str | None, tag: str | None, project: str | None,
            limit: int | None) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if author:
        where.append("(author_email = ? OR author_name LIKE ? ESCAPE '\\')")
        args += [author, "%" + author.replace("%", "\\%").replace("_", "\\_") + "%"]
    if kind:
        where.append("kind = ?")
        args.append(kind)
    if tag:
        where.append("EXISTS (SELECT 1 FROM json_each(tags) WHERE json_each.value = ?)")
        args.append(tag)
    if project:
        where.append("project = ?")
        args.append(project)
    sql = f"SELECT {columns} FROM fragments"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created DESC, rowid DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return sql, args


def _fragment(row: Sequence[Any]) -> Fragment:
    (fid, kind, title, name, email, created, tz, parents, tags, license_, project, _oid, has_timeline,
     media) = row
    when = datetime.fromtimestamp(created, timezone(timedelta(seconds=tz)))
    return Fragment(
        id=fid, kind=kind, title=title, author=Person(name, email), created=when,
        parents=tuple(parents.split()) if parents else (), tags=tuple(json.loads(tags)),
        license=license_, project=project, media=MediaInfo.from_json(json.loads(media)),
        has_timeline=bool(has_timeline),
    )
