"""A hub whose media lives in a real SeaweedFS: media moves between clients and the object store
directly (presigned addresses from the batch answer), with hitrec and with the plain git-lfs client; the
store refuses wrong bytes, the hub and its hook refuse pointers to media the store does not hold
verified, strangers get no address, and no S3 credential reaches a log, an answer or an error."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import httpx
import jsonschema
import pytest
from conftest import run_hitrec
from hub_git import auth_header, commit_file, git, lfs_clone, lfs_work_tree
from s3_hub import S3Hub, s3_hub
from seaweed import Seaweed
from sync_helpers import ADA, noise_wav, user_env
from test_hub_lfs_spec import BATCH_RESPONSE_SCHEMA

LFS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, seaweed: Seaweed):
    with s3_hub(tmp_path_factory.mktemp("s3hub"), seaweed, "ada", "bob") as running:
        yield running


def _batch(hub: S3Hub, name: str, operation: str, objects: list[dict], user: str | None = "ada",
           token: str | None = None) -> httpx.Response:
    auth = (user, token or hub.tokens[user]) if user else None
    return httpx.post(hub.collaboration_url(name) + "/info/lfs/objects/batch", headers=LFS, auth=auth,
                      json={"operation": operation, "objects": objects})


def _secrets_absent(weed: Seaweed, *texts: str) -> None:
    for text in texts:
        assert weed.secret_key not in text


def test_hitrec_push_clone_pull_move_media_through_the_object_store_only(hub: S3Hub, tmp_path: Path,
                                                                         seaweed: Seaweed) -> None:
    env = user_env(*ADA, hub.tokens["ada"])
    url = hub.collaboration_url("film")
    a = tmp_path / "a"
    assert run_hitrec("init", str(a), cwd=tmp_path, env=env).returncode == 0
    small = noise_wav(tmp_path / "small.wav", 20_000, seed=1)
    big = noise_wav(tmp_path / "big.wav", 9 << 20, seed=2)  # past the client's streaming threshold
    for path in (small, big):
        added = run_hitrec("add", str(path), cwd=a, env=env)
        assert added.returncode == 0, added.stderr
    assert run_hitrec("remote", "add", "origin", url, cwd=a, env=env).returncode == 0
    pushed = run_hitrec("push", cwd=a, env=env)
    assert pushed.returncode == 0, pushed.stderr
    oids = {hashlib.sha256(p.read_bytes()).hexdigest(): p.stat().st_size for p in (small, big)}
    store = hub.media_store("film")
    assert sorted(store.oids()) == sorted(oids)
    assert all(store.check(oid, size) is None for oid, size in oids.items())
    assert not list((hub.collaboration_path("film") / "lfs" / "objects").rglob("*/*/*"))  # none on the hub

    cloned = run_hitrec("clone", url, str(tmp_path / "b"), cwd=tmp_path, env=env)
    assert cloned.returncode == 0, cloned.stderr
    more = noise_wav(tmp_path / "more.wav", 30_000, seed=3)
    assert run_hitrec("add", str(more), cwd=a, env=env).returncode == 0
    assert run_hitrec("push", cwd=a, env=env).returncode == 0
    pulled = run_hitrec("pull", cwd=tmp_path / "b", env=env)
    assert pulled.returncode == 0, pulled.stderr
    checked = run_hitrec("fsck", "--json", cwd=tmp_path / "b", env=env)
    assert checked.returncode == 0 and json.loads(checked.stdout)["ok"], checked.stdout
    assert json.loads(checked.stdout)["media_checked"] == 3
    # the gallery's player is sent to the store too (307 to a presigned GET with the media's type)
    listed = run_hitrec("log", "--json", cwd=tmp_path / "b", env=env)
    assert listed.returncode == 0, listed.stderr
    fragment = json.loads(listed.stdout)[0]
    player = httpx.get(f"{hub.url}/-/c/film/f/{fragment['id']}/media", auth=("ada", hub.tokens["ada"]))
    assert player.status_code == 307, player.text
    fetched = httpx.get(player.headers["location"])
    assert fetched.status_code == 200 and fetched.headers["content-type"].startswith("audio/")
    assert hashlib.sha256(fetched.content).hexdigest() == fragment["media"]["oid"]
    assert hub.object_route_lines() == []  # the bytes never passed through the hub
    verified = [line for line in hub.log_text().splitlines() if "POST /film.git/info/lfs/verify/" in line]
    assert len(verified) == 3 and all('" 200 ' in line for line in verified)  # hitrec ran each verify action
    _secrets_absent(seaweed, pushed.stdout + pushed.stderr, cloned.stdout + cloned.stderr, hub.log_text())


def test_plain_git_lfs_pushes_and_pulls_through_an_s3_hub(hub: S3Hub, tmp_path: Path, seaweed: Seaweed) -> None:
    token = hub.tokens["ada"]
    url = hub.collaboration_url("plain")
    work = lfs_work_tree(tmp_path / "work")
    data = os.urandom(200_000)
    commit_file(work, "a.bin", data)
    pushed = git("push", url, "main", cwd=work, token=token, env={"GIT_TRACE": "1"})
    oid = hashlib.sha256(data).hexdigest()
    assert hub.media_store("plain").check(oid, len(data)) is None
    assert '"verify"' in pushed.stderr and "x-amz-checksum-sha256" in pushed.stderr  # followed as given
    clone = lfs_clone(url, tmp_path / "clone", token=token)
    assert (clone / "a.bin").read_bytes() == data
    assert hub.object_route_lines() == []
    _secrets_absent(seaweed, pushed.stdout + pushed.stderr, hub.log_text())


def test_the_store_refuses_wrong_bytes_and_verify_and_the_hook_refuse_what_it_lacks(hub: S3Hub, tmp_path: Path) -> None:
    data = os.urandom(5000)
    oid = hashlib.sha256(data).hexdigest()
    answer = _batch(hub, "wrong", "upload", [{"oid": oid, "size": len(data)}]).json()
    jsonschema.validate(answer, BATCH_RESPONSE_SCHEMA)  # git-lfs's own schema of batch answers
    actions = answer["objects"][0]["actions"]
    upload, verify = actions["upload"], actions["verify"]
    assert 0 < upload["expires_in"] <= 600 and set(upload["header"]) == {"x-amz-checksum-sha256"}
    assert base64.b64decode(upload["header"]["x-amz-checksum-sha256"]) == bytes.fromhex(oid)
    assert httpx.put(upload["href"], content=data[::-1], headers=upload["header"]).status_code == 400
    tampered = upload["href"].replace(oid, hashlib.sha256(b"another").hexdigest())
    assert httpx.put(tampered, content=data, headers=upload["header"]).status_code == 403
    checked = httpx.post(verify["href"], headers={**LFS, **verify["header"]}, json={"oid": oid, "size": len(data)})
    assert checked.status_code == 404 and "upload it again" in checked.json()["message"]
    # a plain git push of a pointer to it: the hook asks the store, and refuses
    work = lfs_work_tree(tmp_path / "work")
    (work / ".gitattributes").unlink()
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"
    (work / "a.bin").write_text(pointer)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "pointer only", cwd=work)
    push = ("push", "--no-verify", hub.collaboration_url("wrong"), "main")  # git-lfs's own pre-push check off
    refused = git(*push, cwd=work, token=hub.tokens["ada"], check=False)
    assert refused.returncode != 0 and "does not have" in refused.stderr, refused.stderr
    # the right bytes: stored, verified, and then the same push lands
    assert httpx.put(upload["href"], content=data, headers=upload["header"]).status_code == 200
    checked = httpx.post(verify["href"], headers={**LFS, **verify["header"]}, json={"oid": oid, "size": len(data) + 1})
    assert checked.status_code == 422
    checked = httpx.post(verify["href"], headers={**LFS, **verify["header"]}, json={"oid": oid, "size": len(data)})
    assert checked.status_code == 200
    again = _batch(hub, "wrong", "upload", [{"oid": oid, "size": len(data)}]).json()
    assert "actions" not in again["objects"][0]  # held, verified: nothing to send
    landed = git(*push, cwd=work, token=hub.tokens["ada"], check=False)
    assert landed.returncode == 0, landed.stderr


def test_strangers_get_no_address_and_the_hubs_own_object_routes_refuse(hub: S3Hub) -> None:
    data = b"private media"
    oid = hashlib.sha256(data).hexdigest()
    hub.media_store("secret").put_verified([data], oid, len(data))
    hub.create("secret")
    for user, token in ((None, None), ("ada", "hrt_not-a-token"), ("mallory", "x")):
        refused = _batch(hub, "secret", "download", [{"oid": oid, "size": len(data)}], user=user, token=token)
        assert refused.status_code == 401 and "X-Amz" not in refused.text and "href" not in refused.text
    ok = _batch(hub, "secret", "download", [{"oid": oid, "size": len(data)}]).json()["objects"][0]
    href = ok["actions"]["download"]["href"]
    assert "X-Amz-Signature" in href and httpx.get(href).content == data
    assert httpx.get(href.replace("X-Amz-Signature=", "X-Amz-Signature=0")).status_code == 403  # tampered
    direct = httpx.get(f"{hub.collaboration_url('secret')}/info/lfs/objects/{oid}", auth=("ada", hub.tokens["ada"]))
    assert direct.status_code == 404 and "object store" in direct.json()["message"]
    put = httpx.put(f"{hub.collaboration_url('secret')}/info/lfs/objects/{oid}", content=data)
    assert put.status_code == 401


def test_an_unreachable_store_is_a_503_naming_no_credential(tmp_path: Path, seaweed: Seaweed) -> None:
    from hub_process import HubProcess

    env = {**seaweed.env(), "HOME": str(tmp_path)}
    with HubProcess(tmp_path / "hub", env=env, extra_args=["--media", "s3://hitrec-test", "--s3-endpoint",
                                                           "http://127.0.0.1:9"]) as dead:
        token = dead.add_user("ada", "ada@example.org")
        dead.create("film")
        answer = httpx.post(dead.collaboration_url("film") + "/info/lfs/objects/batch", headers=LFS,
                            auth=("ada", token), json={"operation": "download",
                                                       "objects": [{"oid": "a" * 64, "size": 1}]}, timeout=60)
        assert answer.status_code == 503 and "cannot reach the object store" in answer.json()["message"]
        _secrets_absent(seaweed, answer.text, dead.log_text())
        assert seaweed.access_key not in answer.text + dead.log_text()
        assert auth_header("ada", token) not in dead.log_text()


def test_hub_toml_sets_the_store_and_short_lived_addresses_expire(tmp_path: Path, seaweed: Seaweed) -> None:
    """[media] in ROOT/hub.toml instead of flags; url_ttl = 2: an address unused for 3 s is refused."""
    import time

    from hub_process import HubProcess

    root = tmp_path / "hub"
    root.mkdir()
    (root / "hub.toml").write_text(f'[media]\nstore = "{seaweed.media_url("toml")}"\n'
                                   f's3_endpoint = "{seaweed.endpoint}"\nurl_ttl = 2\n')
    with HubProcess(root, env={**seaweed.env(), "HOME": str(tmp_path)}) as configured:
        assert "media in s3://" in configured.log_text()
        token = configured.add_user("ada", "ada@example.org")
        data = b"short-lived"
        oid = hashlib.sha256(data).hexdigest()
        answer = httpx.post(configured.collaboration_url("film") + "/info/lfs/objects/batch", headers=LFS,
                            auth=("ada", token), json={"operation": "upload", "objects": [{"oid": oid, "size": 11}]})
        upload = answer.json()["objects"][0]["actions"]["upload"]
        assert upload["expires_in"] == 2
        time.sleep(3)
        late = httpx.put(upload["href"], content=data, headers=upload["header"])
        assert late.status_code == 403 and "expired" in late.text.lower()
