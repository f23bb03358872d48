"""The security headers every answer of the hub carries (git, LFS and gallery alike).

The gallery's pages load nothing from outside the hub (``default-src 'self'``): no inline script, no
inline style, no frame; media and pictures come from the hub's own routes. ``nosniff`` keeps a browser
from taking media for HTML. Kept light (no imports): hitrec.hub.app adds these to every response.
"""

from __future__ import annotations

CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def csp_with_media_from(origin: str) -> str:
    """The CSP of pages whose players load media from ``origin`` too (a hub keeping media in S3 sends
    its players there with a presigned address), for media and images only."""
    return CSP.replace("img-src 'self' data:", f"img-src 'self' data: {origin}").replace(
        "media-src 'self'", f"media-src 'self' {origin}")


# media answers: nothing in them may run, even when opened on their own
MEDIA_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` plus the security headers it does not set itself (a media answer sets its own CSP)."""
    present = {name.lower() for name, _ in headers}
    return [*headers, *((k, v) for k, v in SECURITY_HEADERS if k not in present)]
