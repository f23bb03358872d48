"""Licence algebra: parsing SPDX ids and the strictest combination for a remix."""

from __future__ import annotations

import pytest

from hitrec import licenses
from hitrec.errors import LicenseError

A, B, C = "a" * 40, "b" * 40, "c" * 40


@pytest.mark.parametrize(("text", "spdx"), [
    ("CC0-1.0", "CC0-1.0"), ("cc0", "CC0-1.0"), ("CC-BY", "CC-BY-4.0"), ("cc-by-sa-3.0", "CC-BY-SA-3.0"),
    ("CC-BY-NC-SA-4.0", "CC-BY-NC-SA-4.0"), ("CC-BY-NC-ND-4.0", "CC-BY-NC-ND-4.0"), (" CC-BY-ND ", "CC-BY-ND-4.0"),
])
def test_normalize(text: str, spdx: str) -> None:
    assert licenses.normalize(text) == spdx


@pytest.mark.parametrize("text", ["MIT", "CC-BY-SA-NC-4.0", "CC-BY-9.0", "", "CC-NC", "GPL-3.0-or-later"])
def test_unknown_licences_are_refused(text: str) -> None:
    with pytest.raises(LicenseError, match="licence"):
        licenses.parse(text)


@pytest.mark.parametrize(("sources", "expected"), [
    (["CC0-1.0"], "CC0-1.0"),
    (["CC0-1.0", "CC0-1.0"], "CC0-1.0"),
    (["CC0-1.0", "CC-BY-4.0"], "CC-BY-4.0"),
    (["CC-BY-4.0", "CC-BY-SA-4.0"], "CC-BY-SA-4.0"),
    (["CC-BY-4.0", "CC-BY-NC-4.0"], "CC-BY-NC-4.0"),
    (["CC-BY-NC-4.0", "CC-BY-NC-SA-4.0"], "CC-BY-NC-SA-4.0"),
    (["CC0-1.0", "CC-BY-NC-SA-4.0", "CC-BY-4.0"], "CC-BY-NC-SA-4.0"),
    (["CC-BY-3.0", "CC-BY-SA-4.0"], "CC-BY-SA-4.0"),
    (["CC-BY-SA-3.0", "CC-BY-SA-3.0"], "CC-BY-SA-3.0"),
])
def test_remix_takes_the_strictest_combination(sources: list[str], expected: str) -> None:
    ids = [f"{i:040x}" for i in range(len(sources))]
    assert licenses.combine(zip(ids, sources, strict=True)) == expected


def test_combination_is_order_independent() -> None:
    ids = [A, B, C]
    lics = ["CC-BY-NC-4.0", "CC0-1.0", "CC-BY-NC-SA-4.0"]
    assert licenses.combine(zip(ids, lics, strict=True)) == licenses.combine(
        zip(reversed(ids), reversed(lics), strict=True))


@pytest.mark.parametrize("nd", ["CC-BY-ND-4.0", "CC-BY-NC-ND-4.0"])
def test_no_derivatives_cannot_be_remixed_and_is_named(nd: str) -> None:
    with pytest.raises(LicenseError) as info:
        licenses.combine([(A, "CC-BY-4.0"), (B, nd)])
    assert B[:10] in str(info.value)
    assert A[:10] not in str(info.value)
    assert "derivatives" in str(info.value)


@pytest.mark.parametrize(("one", "other"), [
    ("CC-BY-SA-4.0", "CC-BY-NC-SA-4.0"),
    ("CC-BY-SA-4.0", "CC-BY-NC-4.0"),
])
def test_incompatible_mix_names_both_fragments(one: str, other: str) -> None:
    with pytest.raises(LicenseError) as info:
        licenses.combine([(A, one), (B, other), (C, "CC0-1.0")])
    message = str(info.value)
    assert A[:10] in message and B[:10] in message and C[:10] not in message
    assert "incompatible" in message


def test_no_sources_is_public_domain() -> None:
    assert licenses.combine([]) == "CC0-1.0"
