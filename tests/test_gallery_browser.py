"""The gallery in a real browser: Debian's chromium driven by Playwright (nothing is downloaded), against
a real hub process. One browser for the module. Screenshots of every page go to tests/artifacts/gallery/;
axe-core (from npm, tests/.node) checks the main pages for serious accessibility problems."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from gallery_support import XSS, Seeded, seed
from hub_process import HubProcess
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
TESTS = Path(__file__).resolve().parent
AXE = TESTS / ".node" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = TESTS / "artifacts" / "gallery"


@dataclasses.dataclass
class Site:
    hub: HubProcess
    seeded: Seeded
    browser: Browser
    dialogs: list[str]

    def page(self, user: str | None = "ada", *, axe: bool = False) -> Page:
        """A new page in a fresh context, logged in as ``user`` through the login form (None: a stranger).
        ``axe``: the context lets Playwright inject axe-core (the hub's CSP refuses any inline script,
        which is the point of it); the XSS test runs under the CSP."""
        context = self.browser.new_context(bypass_csp=axe)
        page = context.new_page()
        page.set_default_timeout(60000)  # a shared, loaded machine
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.add_init_script("window.__xss = window.__xss || 0;")
        if user is not None:
            log_in(page, self.hub.url, user, self.hub.tokens[user])
        return page


def log_in(page: Page, url: str, user: str, token: str) -> None:
    page.goto(url + "/-/login")
    page.fill("#user", user)
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("gallery-browser")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with HubProcess(base / "hub", env={"HOME": str(base)}) as hub:
        for name in ("ada", "bob", "cat"):
            hub.add_user(name, f"{name}@example.org")
        hub.create("film", author_check=False)
        seeded = seed(hub.collaboration_path("film"), base / "media")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            try:
                yield Site(hub, seeded, browser, [])
            finally:
                browser.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def axe(page: Page) -> list[dict[str, Any]]:
    """The serious and critical violations axe-core finds on the page."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"][:3]]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def card_ids(page: Page) -> set[str]:
    return set(page.eval_on_selector_all("#fragments li.card", "els => els.map(e => e.dataset.id)"))


def test_the_collaboration_page_lists_filters_and_sorts(site: Site) -> None:
    ids = site.seeded.ids
    page = site.page(axe=True)
    page.goto(site.hub.url + "/-/c/film")
    assert card_ids(page) == set(ids.values())
    shot(page, "collaboration")
    assert axe(page) == []
    page.select_option("#f-kind", "audio")
    page.click(".filters button[type=submit]")
    page.wait_for_load_state()
    assert card_ids(page) == {ids["tone"], ids["xss"], ids["derived"], ids["piece"]}
    page.select_option("#f-kind", "")
    page.select_option("#f-sort", "never")
    page.click(".filters button[type=submit]")
    page.wait_for_load_state()
    assert card_ids(page) == {ids["clip"], ids["picture"], ids["story"], ids["piece"]}
    page.fill("#f-q", "crow")
    page.click(".filters button[type=submit]")
    page.wait_for_load_state()
    assert card_ids(page) == {ids["story"]}
    page.goto(site.hub.url + "/")
    assert page.locator("table.list td a").first.inner_text() == "film"
    shot(page, "hub")
    assert axe(page) == []
    page.context.close()


def media_state(page: Page) -> dict[str, Any]:
    page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=15000)
    return page.evaluate("() => { const m = document.getElementById('player'); "
                         "return {duration: m.duration, error: m.error && m.error.code}; }")


def test_audio_and_video_load_and_report_their_duration_and_an_image_decodes(site: Site) -> None:
    ids = site.seeded.ids
    page = site.page(axe=True)
    page.goto(f"{site.hub.url}/-/c/film/f/{ids['tone']}")
    audio = media_state(page)
    assert audio["error"] is None and abs(audio["duration"] - 1.5) < 0.05
    shot(page, "fragment-audio")
    assert axe(page) == []
    page.goto(f"{site.hub.url}/-/c/film/f/{ids['clip']}")
    video = media_state(page)
    assert video["error"] is None and abs(video["duration"] - 1.0) < 0.1
    # seeking works: the hub answers Range requests
    page.evaluate("() => { const m = document.getElementById('player'); m.currentTime = 0.5; }")
    page.wait_for_function("() => !document.getElementById('player').seeking", timeout=10000)
    shot(page, "fragment-video")
    page.goto(f"{site.hub.url}/-/c/film/f/{ids['picture']}")
    page.wait_for_function("() => document.getElementById('player').complete", timeout=10000)
    assert page.evaluate("() => document.getElementById('player').naturalWidth") == 64
    shot(page, "fragment-image")
    page.context.close()


def test_lineage_links_navigate(site: Site) -> None:
    ids = site.seeded.ids
    page = site.page()
    page.goto(f"{site.hub.url}/-/c/film/f/{ids['tone']}")
    page.click("#remixes a:has-text('The tone, lower')")
    page.wait_for_url(f"**/f/{ids['derived']}")
    page.click("#sources a")
    page.wait_for_url(f"**/f/{ids['tone']}")
    svg_links = page.locator(".lineage-picture svg a")
    if svg_links.count():  # the lineage picture (hitrec.hub.gallery.lineage_svg) is installed: its nodes link too
        svg_links.last.click()
        page.wait_for_load_state()
        assert "/-/c/film/f/" in page.url
    page.context.close()


def test_the_piece_page_payouts_add_up_to_the_pool(site: Site) -> None:
    page = site.page(axe=True)
    page.goto(f"{site.hub.url}/-/c/film/piece/{site.seeded.ids['piece']}")
    assert page.locator("#tracks .track").count() == 2
    page.fill("#profit", "1000.01")
    page.click(".profit button[type=submit]")
    page.wait_for_load_state()
    assert "profit=1000.01" in page.url
    payouts = [Decimal(t) for t in page.locator("td.payout").all_inner_texts()]
    assert len(payouts) == 3
    assert sum(payouts) == Decimal(page.inner_text("#pool-amount")) == Decimal("500.01")
    shot(page, "piece")
    assert axe(page) == []
    page.goto(f"{site.hub.url}/-/c/film/contributor?id=ada@example.org")
    assert page.locator("h1").inner_text() == "Ada Lovelace"
    shot(page, "contributor")
    assert axe(page) == []
    page.context.close()


def test_the_xss_title_fires_no_script_and_shows_as_text(site: Site) -> None:
    ids = site.seeded.ids
    page = site.page()
    for path in ("/-/c/film", f"/-/c/film/f/{ids['xss']}", f"/-/c/film/f/{ids['story']}",
                 f"/-/c/film/piece/{ids['piece']}", "/-/c/film/contributor?id=bea@example.org"):
        page.goto(site.hub.url + path)
        page.wait_for_load_state("load")
        assert page.evaluate("() => window.__xss") == 0
        assert page.locator("img[src=x]").count() == 0
    page.goto(f"{site.hub.url}/-/c/film/f/{ids['xss']}")
    assert page.locator("h1").inner_text() == XSS
    shot(page, "fragment-xss")
    page.goto(f"{site.hub.url}/-/c/film/f/{ids['story']}")
    assert "<script>window.__xss = 1</script>" in page.inner_text("#player")
    shot(page, "fragment-text")
    assert site.dialogs == []
    page.context.close()


def test_a_private_hub_sends_strangers_to_log_in_and_sessions_end(site: Site) -> None:
    stranger = site.page(user=None, axe=True)
    stranger.goto(site.hub.url + "/-/c/film")
    assert "/-/login" in stranger.url
    shot(stranger, "login")
    assert axe(stranger) == []
    stranger.fill("#user", "bob")
    stranger.fill("#token", "hrt_not-a-token")
    stranger.click("button[type=submit]")
    stranger.wait_for_load_state()
    assert "do not match" in stranger.inner_text("#login-error")
    assert stranger.context.cookies() == []
    log_in(stranger, site.hub.url, "bob", site.hub.tokens["bob"])
    stranger.goto(site.hub.url + "/-/c/film")
    assert stranger.url.endswith("/-/c/film")
    cookie, = stranger.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and site.hub.tokens["bob"] not in cookie["value"]
    site.hub.revoke("bob")
    # the revoked token's session stopped working: the browser's own cookie jar is sent to the login page
    answer = stranger.context.request.get(site.hub.url + "/-/c/film", headers={"accept": "text/html"},
                                          max_redirects=0)
    assert answer.status == 303 and answer.headers["location"].startswith("/-/login")
    stranger.context.close()
    # logout
    page = site.page("cat")
    page.goto(site.hub.url + "/-/c/film")
    assert page.url.endswith("/-/c/film")
    page.click("header form button")
    page.wait_for_load_state()
    assert "/-/login" in page.url
    page.goto(site.hub.url + "/-/c/film")
    assert "/-/login" in page.url
    page.context.close()
