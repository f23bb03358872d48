"""Opening a file with PyAV (imported by the caller, lazily) the same way everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO


def open_av(av: Any, path: Path | BinaryIO) -> Any:
    """Open ``path`` (or a binary file object) with PyAV, whatever bytes its tags hold: PyAV before 19
    decodes them strictly unless told to ignore errors; 19 dropped that option and decodes them leniently
    itself."""
    target = str(path) if isinstance(path, Path) else path
    try:
        return av.open(target, metadata_errors="ignore")
    except TypeError:
        return av.open(target)
