"""The hub's gallery, server side, against a real hub process: routes, JSON twins, media, safety,
sessions (stateless: two hub processes on one root share them), and the cache invalidated by a push."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gallery_support import ADA, XSS, Seeded, seed
from hub_process import HubProcess
from media import make_wav

from hitrec.hub.gallery import sessions
from hitrec.media.probe import probe
from hitrec.store import FragmentSpec, Repo

HTML = {"accept": "text/html,application/xhtml+xml"}
JSON = {"accept": "application/json"}


@dataclasses.dataclass
class Site:
    hub: HubProcess
    seeded: Seeded
    base: Path

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.hub.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("gallery")
    with HubProcess(base / "hub", env={"HOME": str(base)}) as hub:
        hub.add_user("ada", "ada@example.org")
        hub.add_user("bob", "bob@example.org")
        hub.create("film", author_check=False)
        seeded = seed(hub.collaboration_path("film"), base / "media")
        yield Site(hub, seeded, base)
    log = hub.log_text()
    for token in hub.tokens.values():
        assert token not in log


def auth(site: Site, user: str = "ada") -> dict[str, str]:
    return {"authorization": f"Bearer {site.hub.tokens[user]}"}


def login(site: Site, user: str = "ada", token: str | None = None) -> httpx.Response:
    return httpx.post(site.hub.url + "/-/login", data={"user": user, "token": token or site.hub.tokens[user],
                                                       "next": "/-/c/film"},
                      headers={"origin": site.hub.url}, timeout=30)


def test_the_health_check_stays_plain_text_for_tools(site: Site) -> None:
    assert site.get("/").text == "hitrec hub\n"
    assert site.get("/-/health").text == "hitrec hub\n"
    assert site.get("/", headers=HTML).status_code == 303  # a browser on a private hub: the login page


def test_every_answer_carries_the_security_headers(site: Site) -> None:
    answers = [site.get("/"), site.get("/-/c/film", headers=HTML), site.get("/-/nothing", headers=auth(site)),
               site.get("/film.git/info/refs?service=git-upload-pack", headers=auth(site)),
               site.get("/film.git/info/refs?service=git-upload-pack"),  # a 401
               site.get("/-/c/film", headers={**JSON, **auth(site)}), site.get("/-/static/gallery.css")]
    for answer in answers:
        assert "default-src" in answer.headers["content-security-policy"], answer.url
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert "'self'" in site.get("/-/c/film", headers={**HTML, **auth(site)}).headers["content-security-policy"]


def test_pages_and_their_json_twins(site: Site) -> None:
    ids = site.seeded.ids
    hub = site.get("/", headers={**JSON, **auth(site)}).json()
    assert hub["collaborations"][0]["name"] == "film"
    assert hub["collaborations"][0]["fragments"] == 7
    assert hub["collaborations"][0]["contributors"] == 3
    page = site.get("/-/c/film", headers={**JSON, **auth(site)}).json()
    assert {f["id"] for f in page["fragments"]} == set(ids.values())
    audio = site.get("/-/c/film?kind=audio", headers={**JSON, **auth(site)}).json()
    assert {f["id"] for f in audio["fragments"]} == {ids["tone"], ids["xss"], ids["derived"], ids["piece"]}
    never = site.get("/-/c/film?sort=never", headers={**JSON, **auth(site)}).json()
    assert {f["id"] for f in never["fragments"]} == {ids["clip"], ids["picture"], ids["story"], ids["piece"]}
    remixed = site.get("/-/c/film?sort=remixed", headers={**JSON, **auth(site)}).json()
    assert remixed["fragments"][0]["id"] == ids["tone"]  # remixed by two
    found = site.get("/-/c/film?q=FOX+crow", headers={**JSON, **auth(site)}).json()
    assert [f["id"] for f in found["fragments"]] == [ids["story"]]
    tagged = site.get("/-/c/film?tag=music&author=cy@example.org", headers={**JSON, **auth(site)}).json()
    assert [f["id"] for f in tagged["fragments"]] == [ids["derived"]]
    longer = site.get("/-/c/film?min_duration=1.2&license=cc-by-4.0", headers={**JSON, **auth(site)}).json()
    assert [f["id"] for f in longer["fragments"]] == [ids["tone"]]
    fragment = site.get(f"/-/c/film/f/{ids['tone']}", headers={**JSON, **auth(site)}).json()
    assert fragment["fragment"]["id"] == ids["tone"]
    assert set(fragment["remixes"]) == {ids["derived"], ids["piece"]}
    assert fragment["attribution"].startswith("“A low tone” by Ada Lovelace, http")
    assert fragment["attribution"].endswith(", CC-BY-4.0")
    assert {n["id"] for n in fragment["lineage"]["nodes"]} == {ids["tone"], ids["derived"], ids["piece"]}
    story = site.get(f"/-/c/film/f/{ids['story']}", headers={**JSON, **auth(site)}).json()
    assert "<script>" in story["text"]
    contributor = site.get("/-/c/film/contributor?id=ADA@example.org", headers={**JSON, **auth(site)}).json()
    assert {f["fragment"]["id"] for f in contributor["fragments"]} == {ids["tone"], ids["story"], ids["piece"]}
    assert [p["piece"] for p in contributor["pieces"]] == [ids["piece"]]


def test_the_piece_page_computes_payouts_with_the_credits_code(site: Site) -> None:
    from hitrec.ops.credits import credits

    piece = site.seeded.ids["piece"]
    page = site.get(f"/-/c/film/piece/{piece}?profit=1234.56&currency=eur", headers={**JSON, **auth(site)}).json()
    repo = Repo.open(site.hub.collaboration_path("film"))
    try:
        expected = credits(repo, piece, profit="1234.56", currency="EUR").to_json()
    finally:
        repo.close()
    assert page["credits"] == expected
    cents = [c["payout"]["cents"] for c in page["credits"]["contributors"]]
    assert sum(cents) == page["credits"]["payouts"]["pool_cents"]
    assert [len(t["clips"]) for t in page["tracks"]] == [2, 1]
    assert set(page["explain"]) == {"ada@example.org", "bea@example.org", "cy@example.org"}
    bad = site.get(f"/-/c/film/piece/{piece}?profit=lots", headers={**JSON, **auth(site)}).json()
    assert "error" in bad and "payouts" not in bad["credits"]
    html = site.get(f"/-/c/film/piece/{piece}?profit=100", headers={**HTML, **auth(site)}).text
    assert XSS not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_media_is_served_with_its_recorded_type_and_byte_ranges(site: Site) -> None:
    fid = site.seeded.ids["clip"]
    whole = site.get(f"/-/c/film/f/{fid}/media", headers=auth(site))
    assert whole.headers["content-type"] == "video/webm"
    assert whole.headers["accept-ranges"] == "bytes"
    part = site.get(f"/-/c/film/f/{fid}/media", headers={**auth(site), "range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(whole.content)}"
    assert site.get(f"/-/c/film/f/{fid}/media", headers={**auth(site), "range": "bytes=99999999-"}).status_code == 416
    download = site.get(f"/-/c/film/f/{fid}/media?download=1", headers=auth(site))
    assert download.headers["content-disposition"].startswith("attachment;")


def test_media_that_claims_to_be_html_or_svg_is_never_served_as_such(site: Site) -> None:
    repo = Repo.open(site.hub.collaboration_path("film"))
    made = {}
    try:
        for name, mime in (("page.txt", "text/html"), ("drawing.txt", "image/svg+xml")):
            path = site.base / name
            path.write_text(f"<html><script>alert('{name}')</script></html>")
            fragment, = repo.record([FragmentSpec(path, title=name, author=ADA,
                                                  media=dataclasses.replace(probe(path), mime=mime))])
            made[name] = fragment.id
    finally:
        repo.close()
    for fid in made.values():
        answer = site.get(f"/-/c/film/f/{fid}/media", headers=auth(site))
        assert answer.headers["content-type"] == "application/octet-stream"
        assert answer.headers["content-disposition"].startswith("attachment;")
        assert "sandbox" in answer.headers["content-security-policy"]


def test_names_and_paths_cannot_leave_the_root(site: Site) -> None:
    for path in ("/-/static/../routes.py", "/-/static/%2e%2e/routes.py", "/-/c/..%2Fhub", "/-/c/.spool",
                 "/-/c/film/f/../../../users.json", "/-/c/film/f/" + "a" * 40, "/-/c/film/picture/../x",
                 "/-/c/film/contributor?id=nobody@example.org"):
        answer = site.get(path, headers={**JSON, **auth(site)})
        assert answer.status_code == 404, path
        assert "token_sha256" not in answer.text


def test_the_feed_is_atom_with_everything_escaped(site: Site) -> None:
    answer = site.get("/-/c/film/feed.atom", headers=auth(site))
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(answer.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in feed.findall("a:entry", ns)]
    assert XSS in titles  # parsed back as text: it was escaped in the XML
    assert len(titles) >= 7


def test_a_private_hub_asks_strangers_to_log_in(site: Site) -> None:
    answer = site.get("/-/c/film?kind=audio", headers=HTML)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/-/login?next=%2F-%2Fc%2Ffilm%3Fkind%3Daudio"
    assert site.get("/-/c/film", headers=JSON).status_code == 401
    media = site.get(f"/-/c/film/f/{site.seeded.ids['clip']}/media")
    assert media.status_code == 401 and not media.content.startswith(b"\x1a\x45")
    assert site.get(f"/-/c/film/picture/{site.seeded.oids['clip']}").status_code == 401
    assert site.get("/-/c/film", headers={**JSON, "authorization": "Bearer hrt_wrong"}).status_code == 401


def test_login_gives_a_signed_session_cookie_that_revoking_ends(site: Site) -> None:
    answer = login(site, "bob")
    assert answer.status_code == 303 and answer.headers["location"] == "/-/c/film"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain http here
    value = cookie.split(";")[0].split("=", 1)[1]
    assert site.hub.tokens["bob"] not in cookie
    jar = {sessions.COOKIE: value}
    assert site.get("/-/c/film", headers=JSON, cookies=jar).status_code == 200
    assert "bob" in site.get("/-/c/film", headers=HTML, cookies=jar).text
    # a session is stateless: another hub process on the same root takes it (its key file is shared)
    with HubProcess(site.hub.root) as other:
        assert other.url != site.hub.url
        assert httpx.get(other.url + "/-/c/film", headers=JSON, cookies=jar, timeout=30).status_code == 200
        site.hub.new_token("bob")  # a new token ends the sessions made with the old one, everywhere
        assert httpx.get(other.url + "/-/c/film", headers=JSON, cookies=jar, timeout=30).status_code == 401
    assert site.get("/-/c/film", headers=HTML, cookies=jar).status_code == 303
    assert login(site, "bob").status_code == 303  # the new token logs in
    jar = {sessions.COOKIE: login(site, "bob").headers["set-cookie"].split(";")[0].split("=", 1)[1]}
    assert site.get("/-/c/film", headers=JSON, cookies=jar).status_code == 200
    site.hub.revoke("bob")
    assert site.get("/-/c/film", headers=JSON, cookies=jar).status_code == 401
    # a forged or altered cookie is refused
    forged = jar[sessions.COOKIE].replace("bob", "ada")
    assert site.get("/-/c/film", headers=JSON, cookies={sessions.COOKIE: forged}).status_code == 401


def test_login_refuses_wrong_tokens_slowly_and_foreign_forms(site: Site) -> None:
    import time

    started = time.monotonic()
    wrong = login(site, "ada", token="hrt_guess")
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    assert time.monotonic() - started >= 0.5
    assert "do not match" in wrong.text
    other = login(site, "bob", token=site.hub.tokens["ada"])  # a real token, but not this user's
    assert other.status_code == 401
    foreign = httpx.post(site.hub.url + "/-/login", data={"user": "ada", "token": site.hub.tokens["ada"]},
                         headers={"origin": "http://evil.example"}, timeout=30)
    assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        sneaky = httpx.post(site.hub.url + "/-/login", data={"user": "ada", "token": site.hub.tokens["ada"],
                                                             "next": target},
                            headers={"origin": site.hub.url}, timeout=30)
        assert sneaky.headers["location"] == "/"


def test_logout_clears_the_cookie(site: Site) -> None:
    answer = httpx.post(site.hub.url + "/-/logout", headers={"origin": site.hub.url}, timeout=30)
    assert answer.status_code == 303
    assert "Max-Age=0" in answer.headers["set-cookie"]
    assert httpx.post(site.hub.url + "/-/logout", headers={"origin": "http://evil.example"},
                      timeout=30).status_code == 403


def test_a_new_fragment_shows_once_the_catalog_moves(site: Site) -> None:
    before = site.get("/-/c/film", headers={**JSON, **auth(site)}).json()["total"]
    repo = Repo.open(site.hub.collaboration_path("film"))
    try:
        fragment, = repo.record([FragmentSpec(make_wav(site.base / "late.wav", seconds=0.3, freq=123, rate=8000,
                                                       channels=1), title="Late arrival", author=ADA)])
    finally:
        repo.close()
    after = site.get("/-/c/film", headers={**JSON, **auth(site)}).json()
    assert after["total"] == before + 1
    assert after["fragments"][0]["id"] == fragment.id


def test_a_public_read_hub_shows_its_pages_to_everyone(tmp_path: Path) -> None:
    with HubProcess(tmp_path / "hub", public_read=True) as hub:
        hub.create("open")
        assert httpx.get(hub.url + "/", headers=HTML, timeout=30).status_code == 200
        page = httpx.get(hub.url + "/-/c/open", headers=JSON, timeout=30)
        assert page.status_code == 200 and json.loads(page.text)["total"] == 0
        assert "Log in" not in httpx.get(hub.url + "/", headers=HTML, timeout=30).text


def test_pictures_are_a_placeholder_until_made_then_the_picture(site: Site) -> None:
    import time

    for key in ("clip", "tone", "picture"):
        url = f"/-/c/film/picture/{site.seeded.oids[key]}"
        first = site.get(url, headers=auth(site))
        assert first.status_code == 200
        assert first.headers["content-type"] in ("image/svg+xml", "image/webp")
        deadline = time.monotonic() + 60
        while first.headers["content-type"] != "image/webp" and time.monotonic() < deadline:
            time.sleep(0.2)
            first = site.get(url, headers=auth(site))
        assert first.headers["content-type"] == "image/webp", key
        assert first.content[:4] == b"RIFF" and first.content[8:12] == b"WEBP"
    assert site.get(f"/-/c/film/picture/{'0' * 64}", headers=auth(site)).status_code == 404


def test_the_fragment_page_draws_its_lineage_with_links(site: Site) -> None:
    ids = site.seeded.ids
    html = site.get(f"/-/c/film/f/{ids['tone']}", headers={**HTML, **auth(site)}).text
    picture = html[html.index('<div class="lineage-picture">'):]
    picture = picture[:picture.index("</div>")]
    assert "<svg" in picture
    for fid in (ids["derived"], ids["piece"]):
        assert f'href="/-/c/film/f/{fid}"' in picture
    xss = site.get(f"/-/c/film/f/{ids['xss']}", headers={**HTML, **auth(site)}).text
    assert XSS not in xss


def test_hub_serve_prints_the_gallery_address(site: Site) -> None:
    assert f"gallery: {site.hub.url}/" in site.hub.log_text()


@pytest.mark.slow
def test_the_demo_keeps_its_hub_running_for_a_browser(tmp_path: Path) -> None:
    import os
    import re
    import signal

    from conftest import run_hitrec

    done = run_hitrec("demo", str(tmp_path / "demo"), "--keep-hub", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    pid = int(re.search(r"kept running \(pid (\d+)", out).group(1))  # type: ignore[union-attr]
    try:
        url = re.search(r"open (http://127\.0\.0\.1:\d+)/ in a browser", out).group(1)  # type: ignore[union-attr]
        page = httpx.get(url + "/-/c/date-with-destiny", headers=HTML, timeout=30)
        assert page.status_code == 200 and "Morgan" in page.text  # public reads: no login needed
    finally:
        os.kill(pid, signal.SIGTERM)


def test_a_session_cookie_is_secure_under_https(tmp_path: Path) -> None:
    import subprocess

    cert, key = tmp_path / "hub.pem", tmp_path / "hub.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    with HubProcess(tmp_path / "hub", extra_args=["--tls-cert", str(cert), "--tls-key", str(key)]) as hub:
        token = hub.add_user("ada", "ada@example.org")
        assert hub.url.startswith("https://")
        answer = httpx.post(hub.url + "/-/login", data={"user": "ada", "token": token},
                            headers={"origin": hub.url}, verify=str(cert), timeout=30)
        assert answer.status_code == 303
        assert "; Secure" in answer.headers["set-cookie"]
