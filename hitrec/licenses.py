"""Licence algebra: which Creative Commons licence a remix of some fragments may carry.

Pure functions on SPDX ids (``CC0-1.0``, ``CC-BY-4.0``, ``CC-BY-SA-4.0``, ``CC-BY-NC-4.0``,
``CC-BY-NC-SA-4.0``, ``CC-BY-ND-4.0``, ``CC-BY-NC-ND-4.0``; versions 1.0 to 4.0; a missing version
means 4.0). A licence is a set of conditions: BY (attribution), NC (non-commercial), SA (share-alike),
ND (no derivatives). A remix carries every condition any source imposes (the strictest combination),
at the newest version among its sources. Two things cannot be remixed at all:

- a source with ND (no derivatives allowed);
- a share-alike source whose licence would be broken by another source's extra condition:
  CC-BY-SA demands the remix be CC-BY-SA, so it cannot be mixed with anything NC; CC-BY-NC-SA
  demands CC-BY-NC-SA, which every other CC licence (except ND) fits into.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from hitrec.errors import LicenseError

VERSIONS = ("1.0", "2.0", "2.5", "3.0", "4.0")
DEFAULT_VERSION = "4.0"
_PATTERN = re.compile(
    r"^(?:(?P<cc0>CC0)(?:-(?P<v0>1\.0))?|CC-(?P<terms>BY(?:-NC)?(?:-(?:SA|ND))?)(?:-(?P<v>\d\.\d))?)$",
    re.IGNORECASE,
)


@dataclass(frozen=True, order=True)
class License:
    """One Creative Commons licence as its conditions."""

    by: bool
    nc: bool
    sa: bool
    nd: bool
    version: str

    @property
    def spdx(self) -> str:
        if not self.by:
            return "CC0-1.0"
        terms = "BY" + ("-NC" if self.nc else "") + ("-SA" if self.sa else "") + ("-ND" if self.nd else "")
        return f"CC-{terms}-{self.version}"

    def __str__(self) -> str:
        return self.spdx


def parse(text: str) -> License:
    """Parse an SPDX id such as ``CC-BY-NC-SA-4.0`` (case-insensitive; version optional)."""
    match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise LicenseError(
            f"unknown licence {text!r}: use an SPDX id such as CC0-1.0, CC-BY-4.0, CC-BY-SA-4.0, "
            "CC-BY-NC-4.0, CC-BY-NC-SA-4.0, CC-BY-ND-4.0 or CC-BY-NC-ND-4.0"
        )
    if match.group("cc0"):
        return License(by=False, nc=False, sa=False, nd=False, version="1.0")
    terms = match.group("terms").upper().split("-")
    version = match.group("v") or DEFAULT_VERSION
    if version not in VERSIONS:
        raise LicenseError(f"unknown licence version in {text!r}: use one of {', '.join(VERSIONS)}")
    return License(by=True, nc="NC" in terms, sa="SA" in terms, nd="ND" in terms, version=version)


def normalize(text: str) -> str:
    """The canonical SPDX spelling of a licence id (``cc-by`` -> ``CC-BY-4.0``)."""
    return parse(text).spdx


def combine(sources: Iterable[tuple[str, str]]) -> str:
    """The strictest licence a remix of ``sources`` (pairs of fragment id, SPDX id) may carry.

    Raises LicenseError naming the fragments when the mix is not allowed: a no-derivatives source,
    or a share-alike source next to a source with a condition that share-alike licence forbids.
    """
    pairs = [(fid, parse(lic)) for fid, lic in sources]
    if not pairs:
        return "CC0-1.0"
    nd = [fid for fid, lic in pairs if lic.nd]
    if nd:
        raise LicenseError(
            f"cannot remix {_names(nd)}: {'its' if len(nd) == 1 else 'their'} licence forbids "
            "derivatives (ND). Remove it from the timeline or ask its author to relicense it."
        )
    by = any(lic.by for _, lic in pairs)
    nc = any(lic.nc for _, lic in pairs)
    sa = any(lic.sa for _, lic in pairs)
    # A share-alike source without NC (CC-BY-SA) requires the remix to allow commercial use.
    strict_sa = [(fid, lic) for fid, lic in pairs if lic.sa and not lic.nc]
    if strict_sa and nc:
        ncs = [(fid, lic) for fid, lic in pairs if lic.nc]
        raise LicenseError(
            "incompatible licences: "
            + ", ".join(f"{fid[:10]} ({lic.spdx})" for fid, lic in strict_sa)
            + " must stay share-alike without a non-commercial clause, but "
            + ", ".join(f"{fid[:10]} ({lic.spdx})" for fid, lic in ncs)
            + " forbid commercial use. Remove one side from the timeline."
        )
    if not by:
        return "CC0-1.0"
    version = max((lic.version for _, lic in pairs if lic.by), key=VERSIONS.index)
    return License(by=True, nc=nc, sa=sa, nd=False, version=version).spdx


def _names(ids: list[str]) -> str:
    return ", ".join(f"fragment {fid[:10]}" for fid in ids)
