"""Remote URLs and credentials: what is stored, what is printed, which token a URL gets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hitrec.errors import UsageError
from hitrec.sync import credentials
from hitrec.sync.remotes import name_from_url, redact_url, split_url


def test_split_url_strips_and_returns_credentials() -> None:
    clean, creds = split_url("http://ada:hrt_x%2Fy@127.0.0.1:8642/film.git/")
    assert clean == "http://127.0.0.1:8642/film.git"
    assert (creds.user, creds.token) == ("ada", "hrt_x/y")
    assert split_url("https://hub.example.org/a.git")[1].token is None
    with pytest.raises(UsageError) as info:
        split_url("ssh://ada:secret@host/x.git")
    assert "secret" not in str(info.value)


def test_redact_and_names() -> None:
    assert redact_url("see http://u:t@h:1/x.git now") == "see http://h:1/x.git now"
    assert name_from_url("http://h:1/date-with-destiny.git") == "date-with-destiny"
    assert name_from_url("http://h:1/") == "collaboration"


def test_lookup_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials.store("http://127.0.0.1:8642", "ada", "hrt_hub")
    credentials.store("http://127.0.0.1:8642/film.git", "ada2", "hrt_film")
    path = credentials.credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert credentials.lookup("http://127.0.0.1:8642/film.git").token == "hrt_film"  # longest prefix
    assert credentials.lookup("http://127.0.0.1:8642/other.git").token == "hrt_hub"
    assert credentials.lookup("http://127.0.0.1:8642/film.gitx").token == "hrt_hub"  # path boundary
    assert credentials.lookup("http://127.0.0.1:9999/film.git") is None
    monkeypatch.setenv("HITREC_TOKEN", "hrt_env")
    auth = credentials.lookup("http://127.0.0.1:8642/film.git")
    assert (auth.user, auth.token) == ("ada2", "hrt_env")
    _, in_url = split_url("http://eve:hrt_url@127.0.0.1:8642/film.git")
    assert credentials.lookup("http://127.0.0.1:8642/film.git", in_url).token == "hrt_url"
    assert "hrt_url" not in repr(credentials.lookup("http://127.0.0.1:8642/film.git", in_url))
    assert credentials.forget("http://127.0.0.1:8642/film.git")
    monkeypatch.delenv("HITREC_TOKEN")
    assert credentials.lookup("http://127.0.0.1:8642/film.git").token == "hrt_hub"


def test_scrub_hides_every_form_of_the_token() -> None:
    auth = credentials.Auth("ada", "hrt_secret")
    text = f"a hrt_secret b {auth.header()} c {auth.header().split()[1]}"
    assert "hrt_secret" not in auth.scrub(text)
    assert auth.header().split()[1] not in auth.scrub(text)


def test_xdg_config_home_is_respected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert credentials.store("http://h:1", "u", "t") == tmp_path / "cfg" / "hitrec" / "credentials"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert credentials.credentials_path() == Path.home() / ".config" / "hitrec" / "credentials"


def test_piped_reads_ahead_and_passes_errors_on() -> None:
    import threading

    from hitrec.sync.lfs import _piped

    assert b"".join(_piped(iter([b"a", b"b", b"c"]))) == b"abc"

    def broken():  # type: ignore[no-untyped-def]
        yield b"x"
        raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        list(_piped(broken()))
    before = threading.active_count()
    endless = _piped(iter(lambda: b"y" * 10, None), depth=2)
    assert next(endless) == b"y" * 10
    endless.close()  # the consumer gives up (say, a hash mismatch): the reader thread stops
    assert threading.active_count() <= before
