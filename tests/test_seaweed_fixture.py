"""The SeaweedFS fixture itself: loopback only, a bucket with the identity's credentials, a volume server
that a fault test can kill and bring back on the same data."""

from __future__ import annotations

import subprocess

import httpx
import pytest
from seaweed import Seaweed


def _listening(pids: list[int]) -> list[str]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines() if any(f"pid={pid}," in line for pid in pids)]


def test_seaweed_listens_on_loopback_only_and_survives_a_volume_kill(seaweed: Seaweed) -> None:
    assert seaweed.server is not None and seaweed.volume is not None
    addresses = _listening([seaweed.server.pid, seaweed.volume.pid])
    assert addresses and all(addr.startswith("127.0.0.1:") for addr in addresses), addresses
    client = seaweed.client()
    key = "fixture-test/object"
    client.put_object(Bucket=seaweed.bucket, Key=key, Body=b"tiny")
    url = client.generate_presigned_url("get_object", Params={"Bucket": seaweed.bucket, "Key": key},
                                        ExpiresIn=60)
    seaweed.kill_volume()
    try:
        with pytest.raises(httpx.HTTPError):
            httpx.get(url, timeout=2).raise_for_status()
    finally:
        seaweed.start_volume()
    assert httpx.get(url, timeout=10).content == b"tiny"


def test_wrong_credentials_are_refused(seaweed: Seaweed) -> None:
    import boto3
    from botocore.exceptions import ClientError

    stranger = boto3.client("s3", endpoint_url=seaweed.endpoint, aws_access_key_id=seaweed.access_key,
                            aws_secret_access_key="not-the-secret", region_name="us-east-1")
    with pytest.raises(ClientError):
        stranger.list_objects_v2(Bucket=seaweed.bucket)
