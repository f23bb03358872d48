"""Attacks on a real hub's gallery that once worked (each test fails without its fix): a forged Host
header poisoning the page cache for every stranger, a logged-out cookie that kept working, and a huge
profit on the piece page taking it down with a 500."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest
from gallery_support import Seeded, seed
from hub_process import HubProcess

HTML = {"accept": "text/html,application/xhtml+xml"}


@dataclasses.dataclass
class Site:
    hub: HubProcess
    seeded: Seeded


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("attack")
    with HubProcess(base / "hub", public_read=True, env={"HOME": str(base)}) as hub:
        hub.add_user("ada", "ada@example.org")
        hub.create("film", author_check=False)
        yield Site(hub, seed(hub.collaboration_path("film"), base / "media"))
    assert "Traceback" not in hub.log_text()


def test_a_forged_host_header_does_not_poison_the_pages_of_other_strangers(site: Site) -> None:
    url = f"{site.hub.url}/-/c/film/f/{site.seeded.ids['tone']}"
    forged = httpx.get(url, headers={**HTML, "host": "evil.example"}, timeout=30)
    assert forged.status_code == 200 and "evil.example" in forged.text  # its own answer names its Host
    honest = httpx.get(url, headers=HTML, timeout=30)
    assert honest.status_code == 200
    assert "evil.example" not in honest.text
    assert f"{site.hub.url}/film.git" in honest.text


def test_logging_out_ends_the_session_for_every_copy_of_its_cookie(site: Site) -> None:
    hub = site.hub
    answer = httpx.post(hub.url + "/-/login", data={"user": "ada", "token": hub.tokens["ada"], "next": "/-/c/film"},
                        headers={"origin": hub.url}, timeout=30)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].split(";")[0]
    page = "/-/c/film/f/" + site.seeded.ids["tone"]
    who = httpx.get(hub.url + "/", headers={"accept": "application/json", "cookie": cookie}, timeout=30)
    assert who.status_code == 200
    logged_in = httpx.get(hub.url + page, headers={**HTML, "cookie": cookie}, timeout=30).text
    assert "ada" in logged_in and "Log out" in logged_in
    out = httpx.post(hub.url + "/-/logout", headers={"origin": hub.url, "cookie": cookie}, timeout=30)
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
    # someone who copied the cookie before the logout (a shared computer, a proxy's log) is a stranger now
    after = httpx.get(hub.url + page, headers={**HTML, "cookie": cookie}, timeout=30)
    assert after.status_code == 200 and "Log out" not in after.text
    assert list((hub.root / ".sessions-ended").iterdir())
    with HubProcess(hub.root, public_read=True) as other:  # in every process serving the root
        elsewhere = httpx.get(other.url + page, headers={**HTML, "cookie": cookie}, timeout=30)
        assert elsewhere.status_code == 200 and "Log out" not in elsewhere.text
    # a fresh login works again, even within the same second (each login's cookie is its own)
    again = httpx.post(hub.url + "/-/login", data={"user": "ada", "token": hub.tokens["ada"], "next": "/"},
                       headers={"origin": hub.url}, timeout=30)
    fresh = again.headers["set-cookie"].split(";")[0]
    assert "Log out" in httpx.get(hub.url + page, headers={**HTML, "cookie": fresh}, timeout=30).text


@pytest.mark.parametrize("profit", ["1e30", "9" * 40, "1e999999999", "123456789012345678901234567.89"])
def test_a_huge_profit_on_the_piece_page_is_a_message_not_a_crash(site: Site, profit: str) -> None:
    answer = httpx.get(f"{site.hub.url}/-/c/film/piece/{site.seeded.ids['piece']}", params={"profit": profit},
                       headers=HTML, timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    if profit.startswith("1234"):
        assert "123456789012345678901234567.89" in answer.text
    else:
        assert "too large" in answer.text


def test_a_huge_profit_is_refused_with_a_message_and_big_amounts_print() -> None:
    from hitrec.credits.payouts import format_amount, parse_amount
    from hitrec.errors import UsageError

    with pytest.raises(UsageError, match="too large"):
        parse_amount("1e5000", 2)
    assert format_amount(10**32 + 5, 2) == "1" + "0" * 30 + ".05"


HOSTILE = [  # each once made the hub answer 500 with a traceback in its log
    ("/-/c/film/f/{tone}/media", {"range": "bytes=" + "9" * 5000 + "-"}),
    ("/-/c/film/f/{tone}/media", {"range": "bytes=-" + "9" * 5000}),
    ("/film.git/info/lfs/objects/{tone_oid}", {"range": "bytes=" + "9" * 5000 + "-"}),
    ("/-/c/film?" + "&".join(f"a{i}=1" for i in range(60)), {}),
    ("/-/c/film/f/{tone}?depth=" + "9" * 5000, {}),
    ("/-/c/film/f/{tone}?depth=%C2%B2", {}),
    ("/-/c/film?page=%C2%B2", {}),
    ("/-/c/film", {"cookie": b"hitrec_session=hrs_\xb2_ada_" + b"a" * 16 + b"_" + b"b" * 64}),
]


@pytest.mark.parametrize(("path", "headers"), HOSTILE)
def test_hostile_numbers_and_queries_are_answered_not_crashed_on(site: Site, path: str,
                                                                  headers: dict[str, str | bytes]) -> None:
    logged = len(site.hub.log_text())
    url = site.hub.url + path.format(tone=site.seeded.ids["tone"], tone_oid=site.seeded.oids["tone"])
    answer = httpx.get(url, headers={**HTML, **headers}, timeout=30)  # type: ignore[dict-item]
    assert answer.status_code in (200, 400), answer.text[:200]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "Traceback" not in site.hub.log_text()[logged:]
