"""Fragment and catalog records as git objects (dulwich), and fragment.yaml.

A fragment is one commit: parents = the fragments it remixes, author = the contributor, tree =
``fragment.yaml`` + the media as a Git LFS pointer + ``.gitattributes`` (+ ``timeline.yaml`` for a
remix). The catalog branch's tree lays every fragment's tree out at ``fragments/<id[:2]>/<id>/``.
"""

from __future__ import annotations

import json
import re
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree, TreeEntry

from hitrec.errors import CorruptRepoError
from hitrec.store.format import (
    CATALOG_DIR as _CATALOG_DIR,
)
from hitrec.store.format import (
    FRAGMENT_YAML,
    GITATTRIBUTES,
    GITATTRIBUTES_NAME,
    SIDE_FILES,
    format_pointer,
)
from hitrec.store.model import FRAGMENT_FORMAT, MediaInfo, Person

RESERVED_NAMES = SIDE_FILES
FRAGMENT_TRAILER = "hitrec-fragment: 1"
CATALOG_DIR = _CATALOG_DIR.encode()
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")

_Obj = TypeVar("_Obj", Commit, Tree, Blob)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_filename(name: str) -> str:
    """The media's name inside a fragment tree: its base name, made harmless."""
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # undecodable bytes -> U+FFFD
    name = _UNSAFE.sub("_", name.rsplit("/", 1)[-1]).strip() or "media"
    if name in (".", ".."):
        name = "media"
    if name in RESERVED_NAMES or name.startswith("."):
        name = "media-" + name.lstrip(".")
    return name[:200]


def fragment_yaml(*, kind: str, title: str, tags: Iterable[str], license: str, project: str | None,
                  media: MediaInfo, extra: Mapping[str, Any] | None = None) -> bytes:
    record: dict[str, Any] = {
        "hitrec-fragment": FRAGMENT_FORMAT,
        "kind": kind,
        "title": title,
        "tags": list(tags),
        "license": license,
        "project": project,
        "media": {k: v for k, v in media.to_json().items() if v is not None and k != "kind"},
    }
    if extra:
        record.update(extra)
    return _emit_yaml(record).encode()


def _emit_yaml(record: Mapping[str, Any], indent: str = "") -> str:
    """Block-style YAML whose scalars are JSON (JSON scalars are valid YAML): readable, and 10x faster
    than yaml.dump for these small flat records."""
    lines = []
    for key, value in record.items():
        if isinstance(value, Mapping):
            lines.append(f"{indent}{key}:\n{_emit_yaml(value, indent + '  ')}")
        else:
            lines.append(f"{indent}{key}: {_yaml_scalar(value)}\n")
    return "".join(lines)


# Characters JSON leaves as they are but YAML reads as line breaks or refuses in a stream (DEL, the C1
# controls, BOM, non-characters), escaped the way both read alike.
_YAML_BREAKS = str.maketrans({c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF)})


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, float) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")):
            return ".nan" if value != value else (".inf" if value > 0 else "-.inf")
        text = repr(value)
        if "e" in text and "." not in text:  # YAML 1.1 floats need a dot: 1e-05 -> 1.0e-05
            text = text.replace("e", ".0e", 1)
        return text
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml_scalar(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False).translate(_YAML_BREAKS)


_LINES = re.compile(r"^( *)([A-Za-z][A-Za-z0-9_-]*):(?: (.+))?$", re.MULTILINE)
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}  # keys YAML 1.1 reads as bools
_YAML_FLOAT = re.compile(r"-?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?")  # what YAML 1.1 also reads as a float
# What the emitter never writes raw, so a text holding it goes to the YAML parser: control characters
# (escaped in JSON strings, and CR or TAB change how YAML splits lines), characters YAML folds as line
# breaks or refuses, and an escaped surrogate (JSON pairs them, YAML does not).
_NOT_OURS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]|\\\\u[dD][89a-fA-F]")


class _NotOurs(Exception):
    """The text is not exactly what ``_emit_yaml`` writes: let the YAML parser read it."""


def _strict_float(text: str) -> float:
    if not _YAML_FLOAT.fullmatch(text):  # e.g. 1e5, which YAML 1.1 reads as a string
        raise _NotOurs
    return float(text)


def _reject(_: str) -> Any:  # NaN, Infinity: JSON-only words, strings to YAML
    raise _NotOurs


_decode_json = json.JSONDecoder(parse_float=_strict_float, parse_constant=_reject).decode
_WORDS = {"null": None, "true": True, "false": False}
_JSON_AND_YAML_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+(?:[eE][-+][0-9]+)?")  # a float to both


def _decode_value(value: str) -> Any:
    """One value as ``json.loads`` (with the float rules above) reads it. The shapes the emitter writes
    most (a quoted string without escapes, a word, a plain integer, ``[]``) are read directly: 14
    values a record through the JSON decoder were a quarter of a metadata-only clone's time. Callers
    have refused raw control characters, which JSON strings may not hold, and escaped surrogates."""
    first = value[0]
    if first == '"':
        inner = value[1:-1]
        if len(value) > 1 and value[-1] == '"' and '"' not in inner and "\\" not in inner:
            return inner
    elif value in _WORDS:
        return _WORDS[value]
    elif value == "[]":
        return []
    elif value.isdigit() and value.isascii() and (first != "0" or len(value) == 1):
        return int(value)
    elif _JSON_AND_YAML_FLOAT.fullmatch(value):
        return float(value)
    return _decode_json(value)


def _read_own_yaml(text: str) -> dict[str, Any]:
    """Read what ``_emit_yaml`` writes (block mappings of JSON scalars, one per line, every line ended)
    without the YAML parser, 10x faster; anything else raises _NotOurs. Every value it accepts reads the
    same in YAML (tested against PyYAML with generated records). The lines are split by one ``findall``
    (a match per line, so as many matches as lines means every line is ours), not one regex call each."""
    if _NOT_OURS.search(text):
        raise _NotOurs
    lines = _LINES.findall(text)
    if len(lines) != text.count("\n") or not text.endswith("\n"):
        raise _NotOurs  # a line of another shape, a blank line, or no final line break
    root: dict[str, Any] = {}
    levels: list[tuple[int, dict[str, Any]]] = [(0, root)]
    depth, target = 0, root
    opened: list[tuple[dict[str, Any], str]] = []  # "key:" lines: a mapping follows, or YAML's null
    for spaces, key, value in lines:
        indent = len(spaces)
        if indent != depth:
            while indent < levels[-1][0]:
                levels.pop()
            depth, target = levels[-1]
            if indent != depth:
                raise _NotOurs
        if key in target or (len(key) <= 5 and key.lower() in _YAML_WORDS):
            raise _NotOurs
        if not value:
            child: dict[str, Any] = {}
            target[key] = child
            opened.append((target, key))
            depth, target = indent + 2, child
            levels.append((depth, child))
            continue
        try:
            target[key] = _decode_value(value)
        except (ValueError, RecursionError):
            raise _NotOurs from None
    for target, key in opened:
        if not target[key]:
            target[key] = None
    return root


_NESTING = (b"[", b"{", b"-", b"?")  # flow collections, block sequence entries, complex keys
_NESTING_LIMIT = 5000  # libyaml crashed at 30,000 nested, not at 10,000; a record has a few


def parse_fragment_yaml(data: bytes, where: str) -> dict[str, Any]:
    try:
        record = _read_own_yaml(data.decode("utf-8"))
    except (_NotOurs, UnicodeDecodeError):
        # Each of these characters opens at most one collection: 100,000 nested ones took libyaml
        # through the C stack (a segfault), ~1,000 the pure-Python loader past Python's recursion limit.
        if sum(data.count(c) for c in _NESTING) > _NESTING_LIMIT:
            raise CorruptRepoError(f"{where}: fragment.yaml nests too deep to read") from None
        try:
            record = yaml.load(data, Loader=_Loader)
        except (yaml.YAMLError, RecursionError) as exc:
            raise CorruptRepoError(f"{where}: fragment.yaml is not valid YAML") from exc
    if not isinstance(record, dict) or not isinstance(record.get("media"), dict):
        raise CorruptRepoError(f"{where}: fragment.yaml lacks its media section")
    version = record.get("hitrec-fragment")
    if version != FRAGMENT_FORMAT:
        raise CorruptRepoError(
            f"{where}: fragment.yaml has format {version!r}; this hitrec reads format {FRAGMENT_FORMAT}. "
            "Upgrade hitrec."
        )
    return record


@dataclass
class BuiltFragment:
    commit: Commit
    objects: list[ShaFile]
    fragment: Any = None  # the Fragment record, filled in by the writer

    @property
    def id(self) -> str:
        return self.commit.id.decode()


def build_fragment(*, yaml_bytes: bytes, media: MediaInfo, filename: str, title: str,
                   parents: Iterable[str], author: Person, when: int, tz: int,
                   extra_files: Mapping[str, bytes] | None = None) -> BuiltFragment:
    blobs = {
        FRAGMENT_YAML: Blob.from_string(yaml_bytes),
        GITATTRIBUTES_NAME: Blob.from_string(GITATTRIBUTES),
        filename: Blob.from_string(format_pointer(media.oid, media.size)),
    }
    for name, data in (extra_files or {}).items():
        blobs[name] = Blob.from_string(data)
    tree = Tree()
    for name, blob in blobs.items():
        tree.add(name.encode(), stat.S_IFREG | 0o644, blob.id)
    commit = Commit()
    commit.tree = tree.id
    commit.parents = [ObjectID(p.encode()) for p in parents]
    commit.author = commit.committer = str(author).encode()
    commit.author_time = commit.commit_time = when
    commit.author_timezone = commit.commit_timezone = tz
    commit.encoding = b"UTF-8"
    commit.message = f"{title}\n\n{FRAGMENT_TRAILER}\n".encode()
    return BuiltFragment(commit, [*blobs.values(), tree, commit])


def now_and_tz() -> tuple[int, int]:
    return int(time.time()), time.localtime().tm_gmtoff


# --- the catalog -------------------------------------------------------------------------------

def read_commit(store: Any, sha: bytes) -> Commit:
    """The commit ``sha`` from a dulwich object store (KeyError if absent)."""
    return _typed(store[sha], Commit, sha)


def read_tree(store: Any, sha: bytes) -> Tree:
    return _typed(store[sha], Tree, sha)


def read_blob(store: Any, sha: bytes) -> Blob:
    return _typed(store[sha], Blob, sha)


def of_kind(obj: Any, kind: bytes, sha: bytes) -> Any:
    """``obj`` (read by ``sha``: dulwich's object, or a batched read's view of hitrec.store.raw_objects)
    if it is a ``kind`` object (``b"commit"``, ``b"tree"``, ``b"blob"``), else the CorruptRepoError of
    ``read_commit`` and friends: a catalog or a tree may name any object."""
    if getattr(obj, "type_name", None) != kind:
        raise _wrong_kind(obj, kind, sha)
    return obj


def _typed(obj: Any, kind: type[_Obj], sha: bytes) -> _Obj:
    if not isinstance(obj, kind):
        raise _wrong_kind(obj, kind.type_name, sha)
    return obj


def _wrong_kind(obj: Any, kind: bytes, sha: bytes) -> CorruptRepoError:
    found = getattr(obj, "type_name", b"?")
    return CorruptRepoError(f"git object {sha.decode()[:12]} is a {found.decode()} where a {kind.decode()} "
                            "belongs; run `hitrec fsck`")


def catalog_entries(store: Any, root_tree_id: bytes | None) -> dict[bytes, Tree]:
    """Shard name -> shard tree of a catalog root tree."""
    if root_tree_id is None:
        return {}
    root = store[root_tree_id]
    if CATALOG_DIR not in root:
        return {}
    _, fragments_id = root[CATALOG_DIR]
    fragments = store[fragments_id]
    return {entry.path: store[entry.sha] for entry in fragments.items()}


def catalog_fragment_trees(store: Any, root_tree_id: bytes | None) -> dict[str, bytes]:
    """Fragment id -> fragment tree id, for every fragment in a catalog tree."""
    out: dict[str, bytes] = {}
    for shard in catalog_entries(store, root_tree_id).values():
        for entry in shard.items():
            out[entry.path.decode()] = entry.sha
    return out


def catalog_tree_with(store: Any, base_root: bytes | None, additions: Mapping[str, bytes], *,
                      beside: Iterable[TreeEntry] = ()) -> tuple[bytes, list[ShaFile]]:
    """A new catalog root tree: ``base_root`` plus ``additions`` (fragment id -> its tree id).

    What sits beside ``fragments/`` at the top (a README plain git put on main) is kept: the base root's
    entries, then ``beside`` (the other side of a merge), which wins for a name both have."""
    shards = catalog_entries(store, base_root)
    new_objects: list[ShaFile] = []
    touched: dict[bytes, Tree] = {}
    for fragment_id, tree_id in additions.items():
        key = fragment_id[:2].encode()
        if key not in touched:
            old = shards.get(key)
            touched[key] = Tree.from_string(old.as_raw_string()) if old is not None else Tree()
        touched[key].add(fragment_id.encode(), stat.S_IFDIR, ObjectID(tree_id))
    shards.update(touched)
    new_objects.extend(touched.values())
    fragments = Tree()
    for key, shard in shards.items():
        fragments.add(key, stat.S_IFDIR, shard.id)
    top: dict[bytes, tuple[int, bytes]] = {}
    for entry in [*(store[base_root].items() if base_root is not None else ()), *beside]:
        if entry.path != CATALOG_DIR:
            top[entry.path] = (entry.mode, entry.sha)
    root = Tree()
    for name, (mode, sha) in top.items():
        root.add(name, mode, ObjectID(sha))
    root.add(CATALOG_DIR, stat.S_IFDIR, fragments.id)
    new_objects += [fragments, root]
    return root.id, new_objects


def build_catalog_commit(*, tree_id: bytes, parents: Iterable[bytes], author: Person, when: int,
                         tz: int, message: str) -> Commit:
    commit = Commit()
    commit.tree = tree_id
    commit.parents = [ObjectID(p) for p in parents]
    commit.author = commit.committer = str(author).encode()
    commit.author_time = commit.commit_time = when
    commit.author_timezone = commit.commit_timezone = tz
    commit.encoding = b"UTF-8"
    commit.message = message.encode()
    return commit
