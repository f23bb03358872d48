"""The hub's gallery: server-rendered pages for browsing, playing, tracing and crediting fragments.

hitrec.hub.app sends every path that is not ``/<name>.git/...`` here (routes: hitrec.hub.gallery.routes;
the design: docs/gallery.md). Read-only: nothing here writes to a collaboration.
"""

from __future__ import annotations

from hitrec.hub.gallery.routes import Gallery, is_gallery_path

__all__ = ["Gallery", "is_gallery_path"]
