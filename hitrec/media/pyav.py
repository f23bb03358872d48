"""Opening a file with PyAV (imported by the caller, lazily) the same way everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def open_av(av: Any, path: Path) -> Any:
    """Open ``path`` with PyAV, whatever bytes its tags hold: PyAV before 19 decodes them strictly
    unless told to ignore errors; 19 dropped that option and decodes them leniently itself."""
    try:
        return av.open(str(path), metadata_errors="ignore")
    except TypeError:
        return av.open(str(path))
