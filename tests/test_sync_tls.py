"""A hub serving HTTPS (--tls-cert/--tls-key) and the client over https://: httpx for the LFS requests,
git for the commits, both trusting a private CA through SSL_CERT_FILE alone."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_process import HubProcess
from sync_helpers import noise_wav, sha256_file, user_env

from hitrec.store import Repo


def run_hitrec(*args: str, cwd: Path, env: dict[str, str] | None = None,
               check: bool = False) -> subprocess.CompletedProcess:
    """hitrec with ``env`` over this environment minus any CA settings of the machine's own."""
    base = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "GIT_SSL_CAINFO")}
    return subprocess.run([sys.executable, "-m", "hitrec", *args], cwd=cwd, env={**base, **(env or {})},
                          capture_output=True, text=True, check=check, timeout=120)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "hub.pem", folder / "hub.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_hub(tmp_path: Path, certificate: tuple[Path, Path]) -> Iterator[HubProcess]:
    cert, key = certificate
    with HubProcess(tmp_path / "hub", extra_args=["--tls-cert", str(cert), "--tls-key", str(key)]) as hub:
        hub.add_user("ada", "ada@example.org")
        yield hub


def test_push_and_clone_over_https(tmp_path: Path, tls_hub: HubProcess, certificate: tuple[Path, Path]) -> None:
    assert tls_hub.url.startswith("https://")
    url = tls_hub.collaboration_url("film")
    env = {**user_env("Ada", "ada@example.org", tls_hub.tokens["ada"]), "SSL_CERT_FILE": str(certificate[0]),
           "HOME": str(tmp_path)}
    run_hitrec("init", "a", cwd=tmp_path, env=env, check=True)
    big = noise_wav(tmp_path / "big.wav", (9 << 20) + 77, seed=3)  # streamed, not sent whole
    small = noise_wav(tmp_path / "small.wav", 5000, seed=4)
    for take in (big, small):
        run_hitrec("add", str(take), cwd=tmp_path / "a", env=env, check=True)
    run_hitrec("remote", "add", "origin", url, cwd=tmp_path / "a", env=env, check=True)
    pushed = run_hitrec("push", cwd=tmp_path / "a", env=env)
    assert pushed.returncode == 0, pushed.stderr
    cloned = run_hitrec("clone", url, "b", cwd=tmp_path, env=env)
    assert cloned.returncode == 0, cloned.stderr
    copy = Repo(tmp_path / "b")
    fragments = list(copy.fragments())
    assert len(fragments) == 2
    for fragment in fragments:
        assert sha256_file(copy.media_path(fragment.media.oid)) == fragment.media.oid
    copy.close()


def test_an_untrusted_certificate_is_one_clear_error(tmp_path: Path, tls_hub: HubProcess) -> None:
    env = {**user_env("Ada", "ada@example.org", tls_hub.tokens["ada"]), "HOME": str(tmp_path)}
    r = run_hitrec("clone", tls_hub.collaboration_url("film"), "b", cwd=tmp_path, env=env)
    assert r.returncode != 0
    assert "certificate" in r.stderr.lower() and "Traceback" not in r.stderr
    assert tls_hub.tokens["ada"] not in r.stderr
    assert not (tmp_path / "b").exists()


def test_tls_needs_both_files(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    r = run_hitrec("hub", "serve", "--root", str(tmp_path / "hub"), "--port", "0",
                   "--tls-cert", str(certificate[0]), cwd=tmp_path)
    assert r.returncode == 2 and "--tls-key" in r.stderr
    r = run_hitrec("hub", "serve", "--root", str(tmp_path / "hub"), "--port", "0",
                   "--tls-cert", str(certificate[0]), "--tls-key", str(certificate[0]), cwd=tmp_path)
    assert r.returncode != 0 and "HTTPS" in r.stderr and "Traceback" not in r.stderr
