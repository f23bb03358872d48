"""What only the S3 media store does, on the session's real SeaweedFS: multipart puts verified before
they complete, presigned addresses the store itself enforces (checksum, expiry, one object, one method),
the stored checksum ``check`` reads, errors without credentials. moto for the unit-level cases."""

from __future__ import annotations

import hashlib
import os
import secrets
import time

import httpx
import pytest
from seaweed import Seaweed

from hitrec.errors import DamagedMediaError, MissingMediaError, ObjectStoreError
from hitrec.store import s3_media
from hitrec.store.s3_media import S3Location, S3MediaStore, oid_checksum


def _oid(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _store(weed: Seaweed, client=None) -> S3MediaStore:
    location = S3Location.parse(weed.media_url(f"unit-{secrets.token_hex(6)}"), weed.endpoint)
    return S3MediaStore(location, client or weed.client())


def _uploads(weed: Seaweed) -> list[dict]:
    return weed.client().list_multipart_uploads(Bucket=weed.bucket).get("Uploads") or []


def test_locations_parse_and_keys_follow_the_git_lfs_layout() -> None:
    location = S3Location.parse("s3://media/hub1/", "http://127.0.0.1:9000")
    assert (location.bucket, location.prefix, location.url()) == ("media", "hub1", "s3://media/hub1")
    oid = _oid(b"x")
    assert S3MediaStore(location.under("film")).key(oid) == f"hub1/film/objects/{oid[:2]}/{oid[2:4]}/{oid}"
    assert S3MediaStore(S3Location.parse("s3://media").under("film")).key(oid).startswith("film/objects/")
    for bad in ("media", "s3://", "s3://a@b/x", "s3://b/x?versionId=1"):
        with pytest.raises(ValueError):
            S3Location.parse(bad)


def test_multipart_puts_are_verified_before_they_complete(seaweed: Seaweed, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(s3_media, "MULTIPART_MIN", 5 << 20)
    monkeypatch.setattr(s3_media, "PART_SIZE", 5 << 20)
    store = _store(seaweed)
    data = os.urandom(12 << 20)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    assert store.put_file(source) == (_oid(data), len(data))
    assert store.check(_oid(data), len(data)) is None  # the verified oid in its metadata
    with store.open_read(_oid(data), (7 << 20) - 3, (7 << 20) + 5) as reader:
        assert reader.read() == data[(7 << 20) - 3:(7 << 20) + 5]
    assert store.verify(_oid(data)) is None
    damaged = bytearray(data)
    damaged[-1] ^= 1
    other = _oid(data + b"other")
    with pytest.raises(DamagedMediaError):
        store.put_verified([bytes(damaged)], other, len(damaged))
    assert not store.has(other)
    assert not [u for u in _uploads(seaweed) if u["Key"].startswith(store.key(other).rsplit("/", 3)[0])]


def test_a_presigned_put_takes_exactly_the_oids_bytes_once_signed(seaweed: Seaweed) -> None:
    store = _store(seaweed)
    data = os.urandom(3000)
    oid = _oid(data)
    url, headers = store.presigned_put(oid, len(data), ttl=60)
    assert seaweed.secret_key not in url
    assert httpx.put(url, content=data[:-1] + b"!", headers=headers).status_code == 400  # wrong bytes
    assert httpx.put(url, content=data).status_code == 403  # the signed checksum header left out
    assert httpx.put(url.replace(oid, _oid(b"other")), content=data, headers=headers).status_code == 403
    assert not store.has(oid)
    assert httpx.put(url, content=data, headers=headers).status_code == 200
    assert store.check(oid, len(data)) is None and store.check(oid, len(data) + 1) is not None
    get = store.presigned_get(oid, ttl=60)
    assert httpx.get(get).content == data
    assert httpx.get(get, headers={"Range": "bytes=10-19"}).content == data[10:20]
    assert httpx.put(get, content=data, headers=headers).status_code == 403  # one method
    assert httpx.delete(get).status_code == 403
    assert store.has(oid)


def test_an_expired_presigned_address_is_refused(seaweed: Seaweed) -> None:
    store = _store(seaweed)
    data = b"expires"
    url, headers = store.presigned_put(_oid(data), len(data), ttl=1)
    time.sleep(2.1)
    answer = httpx.put(url, content=data, headers=headers)
    assert answer.status_code == 403 and "expired" in answer.text.lower()


def test_an_object_without_the_checksum_is_not_taken_as_verified(seaweed: Seaweed) -> None:
    store = _store(seaweed)
    data = b"put by someone else"
    seaweed.client().put_object(Bucket=seaweed.bucket, Key=store.key(_oid(data)), Body=data)
    assert store.has(_oid(data))
    assert store.check(_oid(data), len(data)) == "was stored without a SHA-256 checksum of its oid"
    assert store.check(_oid(b"never"), 5) == "missing"


def test_store_errors_name_the_problem_and_no_credential(seaweed: Seaweed) -> None:
    import boto3

    wrong = boto3.client("s3", endpoint_url=seaweed.endpoint, aws_access_key_id=seaweed.access_key,
                         aws_secret_access_key="wrong" + seaweed.secret_key, region_name="us-east-1")
    store = _store(seaweed, wrong)
    with pytest.raises(ObjectStoreError) as refused:
        store.has(_oid(b"x"))
    assert "refused" in str(refused.value) and seaweed.endpoint in str(refused.value)
    gone = S3MediaStore(S3Location.parse("s3://b", "http://127.0.0.1:9"), seaweed.client())
    gone._client = boto3.client("s3", endpoint_url="http://127.0.0.1:9", aws_access_key_id=seaweed.access_key,
                                aws_secret_access_key=seaweed.secret_key, region_name="us-east-1")
    with pytest.raises(ObjectStoreError) as unreachable:
        gone.put_verified([b"x"], _oid(b"x"), 1)
    for error in (refused.value, unreachable.value):
        text = str(error) + repr(error.__cause__)
        assert seaweed.secret_key not in text and seaweed.access_key not in str(error)


def test_moto_unit_case_missing_bucket_and_missing_object() -> None:
    """moto (an AWS fake, at an edge we do not own) for what a real store makes awkward to arrange."""
    from moto import mock_aws

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    with mock_aws():
        import boto3

        client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        store = S3MediaStore(S3Location.parse("s3://absent-bucket/p"), client)
        with pytest.raises(ObjectStoreError, match="create bucket 'absent-bucket' first"):
            store.put_verified([b"x"], _oid(b"x"), 1)
        client.create_bucket(Bucket="absent-bucket")
        with pytest.raises(MissingMediaError):
            store.open_read(_oid(b"x"))
        store.put_verified([b"x"], _oid(b"x"), 1)
        assert store.has(_oid(b"x")) and store.size(_oid(b"x")) == 1
        assert oid_checksum(_oid(b"x")) == "LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE="


def test_the_hubs_media_setting_from_flags_then_hub_toml_else_local(tmp_path) -> None:
    from hitrec.errors import HubError
    from hitrec.hub.media import resolve

    assert resolve(tmp_path, None, None).s3 is None
    flagged = resolve(tmp_path, "s3://media/hub1", "http://127.0.0.1:8333", url_ttl=60)
    assert flagged.s3 is not None and flagged.s3.url() == "s3://media/hub1" and flagged.url_ttl == 60
    assert flagged.hook_env() == {"HITREC_HUB_MEDIA": "s3://media/hub1",
                                  "HITREC_HUB_S3_ENDPOINT": "http://127.0.0.1:8333"}
    (tmp_path / "hub.toml").write_text('[media]\nstore = "s3://other"\ns3_endpoint = "http://h:1"\n')
    from_file = resolve(tmp_path, None, None)
    assert from_file.s3 is not None and from_file.s3.bucket == "other" and from_file.url_ttl == 300
    assert resolve(tmp_path, "s3://media", None).s3.bucket == "media"  # type: ignore[union-attr]
    for args, message in ((("local", "http://h:1"), "--s3-endpoint needs --media"),
                          (("media-bucket", None), "s3://BUCKET"),
                          (("s3://b", None, None, 0), "1 s to 7 days")):
        with pytest.raises(HubError, match=message):
            resolve(tmp_path, *args)
    (tmp_path / "hub.toml").write_text("[media\n")
    with pytest.raises(HubError, match="not valid TOML"):
        resolve(tmp_path, None, None)
