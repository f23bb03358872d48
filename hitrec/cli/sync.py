"""sync commands."""

from __future__ import annotations

from hitrec.cli.app import app  # noqa: F401
