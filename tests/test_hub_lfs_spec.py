"""The hub against git-lfs and the Git LFS API documents: action tokens, locks, ranges, batch answers."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import time
from pathlib import Path

import httpx
import jsonschema
import pytest
from hub_git import commit_file, git, lfs_work_tree
from hub_process import HubProcess, module_hub

from hitrec.hub import actions

LFS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}

# git-lfs's docs/api/schemas/http-batch-response-schema.json (MIT, git-lfs authors), with the action's
# `expires_in` that docs/api/batch.md defines ("Whole number of seconds ... Maximum of 2147483647,
# minimum of -2147483647") and that the stored schema, being older, does not list.
_ACTION = {
    "type": "object",
    "properties": {
        "href": {"type": "string"},
        "header": {"type": "object", "additionalProperties": True},
        "expires_in": {"type": "integer", "maximum": 2147483647, "minimum": -2147483647},
        "expires_at": {"type": "string"},
    },
    "required": ["href"],
    "additionalProperties": False,
}
BATCH_RESPONSE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema",
    "type": "object",
    "properties": {
        "transfer": {"type": "string"},
        "objects": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "oid": {"type": "string"},
                    "size": {"type": "number", "minimum": 0},
                    "authenticated": {"type": "boolean"},
                    "actions": {
                        "type": "object",
                        "properties": {"download": _ACTION, "upload": _ACTION, "verify": _ACTION},
                        "additionalProperties": False,
                    },
                    "error": {
                        "type": "object",
                        "properties": {"code": {"type": "number"}, "message": {"type": "string"}},
                        "required": ["code", "message"],
                        "additionalProperties": False,
                    },
                },
                "required": ["oid", "size"],
                "additionalProperties": False,
            },
        },
        "message": {"type": "string"},
        "request_id": {"type": "string"},
        "documentation_url": {"type": "string"},
    },
    "required": ["objects"],
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    with module_hub(tmp_path_factory.mktemp("hubspec"), "ada", "bob") as running:
        yield running


def _basic(user: str, token: str) -> str:
    return base64.b64encode(f"{user}:{token}".encode()).decode()


def _batch(hub: HubProcess, name: str, operation: str, objects: list[object], user: str = "ada",
           **extra: object) -> httpx.Response:
    return httpx.post(hub.collaboration_url(name) + "/info/lfs/objects/batch", headers=LFS,
                      auth=(user, hub.tokens[user]), json={"operation": operation, "objects": objects, **extra})


def _put(hub: HubProcess, name: str, data: bytes) -> str:
    oid = hashlib.sha256(data).hexdigest()
    httpx.put(f"{hub.collaboration_url(name)}/info/lfs/objects/{oid}", content=data,
              auth=("ada", hub.tokens["ada"])).raise_for_status()
    return oid


# -- action tokens --------------------------------------------------------------------------------
def test_git_lfs_traces_show_no_user_token(hub: HubProcess, tmp_path: Path) -> None:
    """git-lfs prints batch answers under GIT_TRACE=1: they carry action tokens, never the user's."""
    token = hub.tokens["ada"]
    url = hub.collaboration_url("traced")
    work = lfs_work_tree(tmp_path / "work")
    data = os.urandom(40_000)
    commit_file(work, "a.bin", data)
    trace = {"GIT_TRACE": "1", "GIT_CURL_VERBOSE": "0"}
    pushed = git("lfs", "push", url, "main", cwd=work, token=token, env=trace)
    git("push", url, "main", cwd=work, token=token)
    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone), token=token, env={"GIT_LFS_SKIP_SMUDGE": "1"})
    git("lfs", "install", "--local", cwd=clone)
    pulled = git("lfs", "pull", cwd=clone, token=token, env=trace)
    assert (clone / "a.bin").read_bytes() == data
    for done in (pushed, pulled):
        text = done.stdout + done.stderr
        sent = re.findall(r'"Authorization": "Basic ([A-Za-z0-9+/=]+)"', text)  # the batch answer is
        assert sent and all(base64.b64decode(s).decode().startswith(f"ada:{actions.PREFIX}") for s in sent)
        assert token not in text and _basic("ada", token) not in text  # ...without the user's token
        assert '"expires_in": 3600' in text


def test_action_tokens_are_good_for_one_object_operation_and_collaboration(hub: HubProcess) -> None:
    media, other = b"scoped media", b"other media"
    oid, other_oid = hashlib.sha256(media).hexdigest(), _put(hub, "scoped", other)
    _put(hub, "elsewhere", media)
    answer = _batch(hub, "scoped", "upload", [{"oid": oid, "size": len(media)}]).json()
    upload = answer["objects"][0]["actions"]["upload"]
    assert upload["expires_in"] == 3600
    header = upload["header"]["Authorization"]
    assert hub.tokens["ada"] not in header and _basic("ada", hub.tokens["ada"]) not in header

    def request(method: str, name: str, what: str, auth: str, content: bytes = b"") -> int:
        return httpx.request(method, f"{hub.collaboration_url(name)}/info/lfs/objects/{what}",
                             headers={"Authorization": auth}, content=content).status_code

    assert request("PUT", "scoped", other_oid, header, other) == 401  # another oid
    assert request("PUT", "elsewhere", oid, header, media) == 401  # another collaboration
    assert request("GET", "scoped", oid, header) == 401  # another operation (and not there yet)
    assert request("PUT", "scoped", oid, header, media) == 200
    download = _batch(hub, "scoped", "download", [{"oid": oid, "size": len(media)}]).json()
    get_header = download["objects"][0]["actions"]["download"]["header"]["Authorization"]
    assert request("GET", "scoped", oid, get_header) == 200
    assert request("PUT", "scoped", oid, get_header, media) == 401  # a download token cannot upload
    assert request("GET", "scoped", other_oid, get_header) == 401
    # never a user token: not for a batch, not for git
    bad = httpx.post(hub.collaboration_url("scoped") + "/info/lfs/objects/batch", headers={**LFS,
                     "Authorization": get_header}, json={"operation": "download", "objects": []})
    assert bad.status_code == 401
    refs = httpx.get(hub.collaboration_url("scoped") + "/info/refs?service=git-upload-pack",
                     headers={"Authorization": get_header})
    assert refs.status_code == 401
    # expired: minted with the hub's own key, for this very object, a second ago
    key = actions.load_key(hub.root)
    digest = hashlib.sha256(hub.tokens["ada"].encode()).hexdigest()
    scope = actions.Scope("scoped", oid, "download")
    expired = actions.mint(key, "ada", digest, scope, int(time.time()) - 1)
    fresh = actions.mint(key, "ada", digest, scope, int(time.time()) + 60)
    assert request("GET", "scoped", oid, actions.basic_header("ada", expired)) == 401
    assert request("GET", "scoped", oid, actions.basic_header("ada", fresh)) == 200
    assert request("GET", "scoped", oid, f"Bearer {fresh}") == 200
    forged = fresh[:-1] + ("0" if fresh[-1] != "0" else "1")
    assert request("GET", "scoped", oid, actions.basic_header("ada", forged)) == 401
    later = actions.mint(key, "ada", digest, scope, int(time.time()) + 120)  # a changed expiry, same mac
    assert request("GET", "scoped", oid, "Bearer " + later.rsplit("_", 1)[0] + "_" + fresh.rsplit("_", 1)[1]) == 401
    assert stat_mode(hub.root / actions.KEY_FILE) == 0o600


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_new_token_or_a_revocation_ends_its_action_tokens(hub: HubProcess) -> None:
    hub.add_user("carol", "carol@example.org")
    oid = _put(hub, "revoked", b"carol's media")
    href_header = _batch(hub, "revoked", "download", [{"oid": oid, "size": 13}], user="carol").json()
    header = href_header["objects"][0]["actions"]["download"]["header"]["Authorization"]
    url = f"{hub.collaboration_url('revoked')}/info/lfs/objects/{oid}"
    assert httpx.get(url, headers={"Authorization": header}).status_code == 200
    hub.new_token("carol")
    assert httpx.get(url, headers={"Authorization": header}).status_code == 401
    header = _batch(hub, "revoked", "download", [{"oid": oid, "size": 13}], user="carol").json()[
        "objects"][0]["actions"]["download"]["header"]["Authorization"]
    hub.revoke("carol")
    assert httpx.get(url, headers={"Authorization": header}).status_code == 401


# -- locks ----------------------------------------------------------------------------------------
def test_git_lfs_push_does_not_advise_lock_verification(hub: HubProcess, tmp_path: Path) -> None:
    """A 404 on locks/verify (locking.md, "Not Found Response") is git-lfs's "no locks here": it turns
    verification off for the remote quietly instead of printing advice on every push."""
    work = lfs_work_tree(tmp_path / "work")
    commit_file(work, "a.bin", os.urandom(1000))
    url = hub.collaboration_url("nolocks")
    git("remote", "add", "origin", url, cwd=work)
    done = git("push", "origin", "main", cwd=work, token=hub.tokens["ada"])
    output = done.stdout + done.stderr
    assert "locksverify" not in output and "Locking support detected" not in output, output
    assert "does not support the Git LFS locking API" not in output
    config = git("config", "--get-regexp", r"lfs\..*locksverify", cwd=work, check=False).stdout
    assert config.strip().endswith("false")  # git-lfs noted "not implemented" for this remote
    listed = httpx.get(url + "/info/lfs/locks", headers=LFS, auth=("ada", hub.tokens["ada"]))
    created = httpx.post(url + "/info/lfs/locks", headers=LFS, auth=("ada", hub.tokens["ada"]),
                         json={"path": "a.bin"})
    unlocked = httpx.post(url + "/info/lfs/locks/1/unlock", headers=LFS, auth=("ada", hub.tokens["ada"]),
                          json={})
    for answer in (listed, created, unlocked):
        assert answer.status_code == 404 and "locks" in answer.json()["message"]
    assert httpx.post(url + "/info/lfs/locks/verify", headers=LFS, json={}).status_code == 401


# -- ranges ---------------------------------------------------------------------------------------
def _raw_get(hub: HubProcess, target: str, range_header: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    port = int(hub.url.rsplit(":", 1)[1])
    auth = _basic("ada", hub.tokens["ada"])
    head = (f"{method} {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
            f"Range: {range_header}\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    raw = b"".join(chunks)
    head_bytes, _, body = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(("ask", "status", "part"), [
    ("bytes=10-19", 206, (10, 20)),
    ("bytes=0-0", 206, (0, 1)),
    ("bytes=990-5000", 206, (990, 1000)),  # past the end: what there is
    ("bytes=995-", 206, (995, 1000)),
    ("bytes=-7", 206, (993, 1000)),
    ("bytes=-5000", 206, (0, 1000)),
    ("bytes = 3 - 4", 206, (3, 5)),
    ("bytes=1000-", 416, None),
    ("bytes=5000-6000", 416, None),
    ("bytes=-0", 416, None),
    ("bytes=0-1,5-6", 200, (0, 1000)),  # several ranges: the whole (RFC 9110 may)
    ("bytes=9-3", 200, (0, 1000)),  # invalid: ignored
    ("items=0-3", 200, (0, 1000)),
])
def test_ranges(hub: HubProcess, ask: str, status: int, part: tuple[int, int] | None) -> None:
    data = os.urandom(1000)
    oid = _put(hub, "ranges", data)
    target = f"/ranges.git/info/lfs/objects/{oid}"
    got, headers, body = _raw_get(hub, target, ask)
    assert got == status
    if part is None:
        assert headers["content-range"] == "bytes */1000"
        return
    assert body == data[part[0]:part[1]] and int(headers["content-length"]) == len(body)
    if status == 206:
        assert headers["content-range"] == f"bytes {part[0]}-{part[1] - 1}/1000"
    else:
        assert "content-range" not in headers
    got, headers, body = _raw_get(hub, target, ask, method="HEAD")
    assert got == status and body == b"" and int(headers["content-length"]) == part[1] - part[0]


def test_big_media_ranges_from_the_middle(hub: HubProcess) -> None:
    """Big media is read in aligned blocks (hitrec.hub.files): a range must end where it says."""
    data = os.urandom((3 << 20) + 11)
    oid = _put(hub, "ranges", data)
    with httpx.Client(auth=("ada", hub.tokens["ada"]), timeout=60) as http:
        for start, end in ((1, 4096), (4095, (2 << 20) + 3), ((1 << 20) - 1, len(data) - 2)):
            got = http.get(f"{hub.collaboration_url('ranges')}/info/lfs/objects/{oid}",
                           headers={"Range": f"bytes={start}-{end}"})
            assert got.status_code == 206 and got.content == data[start:end + 1], (start, end)


def test_an_interrupted_git_lfs_download_resumes(hub: HubProcess, tmp_path: Path) -> None:
    """git-lfs resumes from its partial file with ``Range: bytes=N-(size-1)`` and insists on a 206."""
    token = hub.tokens["ada"]
    url = hub.collaboration_url("resume")
    work = lfs_work_tree(tmp_path / "work")
    data = os.urandom(300_000)
    oid = hashlib.sha256(data).hexdigest()
    commit_file(work, "a.bin", data)
    git("push", url, "main", cwd=work, token=token)
    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone), token=token, env={"GIT_LFS_SKIP_SMUDGE": "1"})
    git("lfs", "install", "--local", cwd=clone)
    incomplete = clone / ".git" / "lfs" / "incomplete"  # what a killed download leaves
    incomplete.mkdir(parents=True)
    for suffix in (".part", ".tmp"):  # git-lfs >= 3.0 names it .part, before that .tmp
        (incomplete / f"{oid}{suffix}").write_bytes(data[:123_456])
    done = git("lfs", "pull", cwd=clone, token=token, env={"GIT_TRACE": "1"})
    assert "server accepted resume download request" in done.stderr, done.stderr[-3000:]
    assert (clone / "a.bin").read_bytes() == data
    served = [line for line in hub.log_text().splitlines() if f"GET /resume.git/info/lfs/objects/{oid}" in line]
    assert re.search(rf'" 206 in=0 out={len(data) - 123_456} ', served[-1]), served


# -- batch answers --------------------------------------------------------------------------------
def test_malformed_batch_objects_get_per_object_422s_in_schema(hub: HubProcess) -> None:
    good = b"valid"
    good_oid = _put(hub, "schema", good)
    objects: list[object] = [
        {"oid": 123, "size": 5}, {"size": 5}, {"oid": "0" * 64, "size": -1}, {"oid": "0" * 64, "size": "12"},
        {"oid": "0" * 64, "size": 1.5}, {"oid": "0" * 64, "size": True}, {"oid": "0" * 64},
        {"oid": ["x"], "size": None}, "not an object", {"oid": "A" * 64, "size": 1},
        {"oid": good_oid, "size": len(good)},
    ]
    for operation in ("upload", "download"):
        answer = _batch(hub, "schema", operation, objects)
        assert answer.status_code == 200
        body = answer.json()
        jsonschema.validate(body, BATCH_RESPONSE_SCHEMA)
        *bad, last = body["objects"]
        assert [o["error"]["code"] for o in bad] == [422] * len(bad)
        assert bad[0]["oid"] == "123" and bad[1]["oid"] == "" and bad[2]["size"] == 0
        assert last["oid"] == good_oid and "error" not in last
        assert ("download" in last["actions"]) if operation == "download" else ("actions" not in last)


def test_another_hash_algorithm_is_a_409_per_object(hub: HubProcess) -> None:
    """batch.md: object error "409 - The specified hash algorithm disagrees with the server's acceptable
    options" (a 200 answer with per-object errors; the whole-batch error codes list no 409)."""
    answer = _batch(hub, "schema", "upload", [{"oid": "a" * 128, "size": 3}, {"oid": "b" * 64, "size": 4}],
                    hash_algo="sha512")
    assert answer.status_code == 200
    body = answer.json()
    jsonschema.validate(body, BATCH_RESPONSE_SCHEMA)
    assert [o["error"]["code"] for o in body["objects"]] == [409, 409]
    assert all("actions" not in o for o in body["objects"])
    assert body["hash_algo"] == "sha256"
    assert _batch(hub, "schema", "upload", [], hash_algo=256).status_code == 422  # not even a string
    same = _batch(hub, "schema", "upload", [{"oid": "b" * 64, "size": 4}], hash_algo="sha256").json()
    assert "upload" in same["objects"][0]["actions"]


def test_action_tokens_parse_any_user_name_and_refuse_garbage(hub: HubProcess) -> None:
    key, scope = b"k" * 32, actions.Scope("film", "a" * 64, "upload")
    token = actions.mint(key, "a_b.c-d", "digest", scope, 2_000_000_000)
    assert actions.parse(token) == (2_000_000_000, "a_b.c-d", token.rsplit("_", 1)[1])
    assert actions.check(key, token, scope, "digest", now=1_999_999_999)
    assert not actions.check(key, token, scope, "other digest", now=1_999_999_999)
    assert not actions.check(key, token, scope, "digest", now=2_000_000_001)
    url = f"{hub.collaboration_url('garbage')}/info/lfs/objects/{'a' * 64}"
    for bad in ("hra_", "hra_1_ada_", "hra_x_ada_" + "0" * 64, "hra_99_../x_" + "0" * 64, "hra_" + "9" * 40):
        assert actions.parse(bad) is None
        assert httpx.get(url, headers={"Authorization": f"Bearer {bad}"}).status_code == 401
