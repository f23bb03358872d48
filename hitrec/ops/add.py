"""`hitrec add`: record media files as fragments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec.errors import MediaError, UsageError
from hitrec.licenses import normalize as normalize_license
from hitrec.progress import ProgressFn
from hitrec.store import Fragment, FragmentSpec, Repo


@dataclass
class AddResult:
    added: list[Fragment]
    existing: list[tuple[Path, Fragment]]  # files whose media was already recorded, and by which fragment

    def to_json(self) -> dict[str, Any]:
        return {"added": [f.to_json() for f in self.added],
                "existing": [{"path": str(p), "fragment": f.to_json()} for p, f in self.existing]}


def add(repo: Repo, paths: Sequence[Path], *, title: str | None = None, tags: Sequence[str] = (),
        license: str | None = None, project: str | None = None, remix_of: Sequence[str] = (),
        progress: ProgressFn | None = None) -> AddResult:
    """Probe every file first (so bad input records nothing), then record them as one batch."""
    from hitrec.media.probe import probe

    if not paths:
        raise UsageError("nothing to add: give one or more media files")
    if title is not None and len(paths) > 1:
        raise UsageError("--title names one fragment; add the files one at a time to title each")
    if license is not None:
        license = normalize_license(license)  # SPDX spelling; an unknown licence is a LicenseError
    parents = tuple(dict.fromkeys(repo.resolve(ref) for ref in remix_of))
    specs = []
    for path in paths:
        if not path.exists():
            raise MediaError(path, "no such file")
        if path.is_dir():
            raise MediaError(path, "is a folder; give the media files inside it")
        specs.append(FragmentSpec(path=path, title=title, tags=tuple(dict.fromkeys(tags)), license=license,
                                  project=project, parents=parents, media=probe(path)))
    result = repo.record_batch(specs, progress)
    return AddResult(result.recorded, [(spec.path, held) for spec, held in result.existing])

