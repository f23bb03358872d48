"""Every error hitrec raises on purpose.

    HitrecError                       exit 1 unless a subclass says otherwise
    ├── UsageError                    bad option values, bad arguments (exit 2)
    ├── RepoError
    │   ├── NotARepoError             no .hitrec/ found walking up
    │   ├── RepoExistsError
    │   ├── LockTimeoutError          another writer holds the repo, or a git lock file, too long
    │   ├── CorruptRepoError
    │   ├── MediaStoreError           a media store's own failure (carries the oid)
    │   │   ├── MissingMediaError     no object with that oid
    │   │   └── DamagedMediaError     bytes that do not hash to their oid, or not of their size
    │   └── ObjectStoreError          the S3 object store refused or could not be reached (no credential)
    ├── IdentityError                 no user.name / user.email
    ├── FragmentError
    │   ├── UnknownFragmentError
    │   ├── AmbiguousFragmentError    carries the candidates
    │   └── DuplicateMediaError       carries the fragment that already holds the media
    ├── MediaError                    not media, truncated, empty, missing, a folder
    ├── TimelineError                 file, line, field path, "did you mean"
    ├── RenderError                   ffmpeg failed
    ├── LicenseError                  no-derivatives source, incompatible mix
    ├── CreditsError
    ├── SyncError
    │   ├── AuthError
    │   └── RemoteError
    └── HubError

Core code raises these; only the CLI maps them to exit codes and prints them. Foreign errors
(dulwich, httpx, ffmpeg, YAML) are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class HitrecError(Exception):
    """Base of every error hitrec reports to a user. The message says what to do."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(HitrecError):
    exit_code = 2


class RepoError(HitrecError):
    pass


class NotARepoError(RepoError):
    def __init__(self, start: Path) -> None:
        super().__init__(
            f"not a hitrec repo (or any parent up to /): {start}. Run `hitrec init` to create one."
        )
        self.start = start


class RepoExistsError(RepoError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"a hitrec repo already exists at {path}")
        self.path = path


class LockTimeoutError(RepoError):
    pass


class CorruptRepoError(RepoError):
    pass


class MediaStoreError(RepoError):
    """A media store (hitrec.store.media_store) failed; callers such as sync add their context."""

    def __init__(self, oid: str, message: str) -> None:
        super().__init__(message)
        self.oid = oid


class MissingMediaError(MediaStoreError):
    def __init__(self, oid: str) -> None:
        super().__init__(oid, f"media {oid[:12]} is not in the store; run `hitrec fsck`")


class DamagedMediaError(MediaStoreError):
    """Bytes offered as ``oid`` hash to something else or have another size: nothing was kept."""

    def __init__(self, oid: str, actual_oid: str, size: int, expected_size: int) -> None:
        super().__init__(oid, f"media {oid[:12]} arrived damaged: got {size} bytes hashing to "
                              f"{actual_oid[:12]}, expected {expected_size} bytes; nothing was kept, "
                              "run the command again")
        self.actual_oid = actual_oid
        self.size = size
        self.expected_size = expected_size


class ObjectStoreError(RepoError):
    """An S3-compatible object store (hitrec.store.s3_media) refused a request or could not be reached.
    The message names the operation, the store's error code and the endpoint, never a credential."""


class IdentityError(HitrecError):
    pass


class FragmentError(HitrecError):
    pass


class UnknownFragmentError(FragmentError):
    def __init__(self, ref: str, hint: str = "") -> None:
        message = f"unknown fragment {ref!r}"
        message += f": {hint}" if hint else ". Run `hitrec log` to list fragments."
        super().__init__(message)
        self.ref = ref


class AmbiguousFragmentError(FragmentError):
    def __init__(self, ref: str, candidates: list[str]) -> None:
        shown = ", ".join(candidates[:10]) + (" ..." if len(candidates) > 10 else "")
        super().__init__(f"fragment id {ref!r} is ambiguous; it matches {shown}. Give more characters.")
        self.ref = ref
        self.candidates = candidates


class DuplicateMediaError(FragmentError):
    def __init__(self, path: Path, fragment_id: str, author: str) -> None:
        super().__init__(
            f"{path}: this media is already recorded as fragment {fragment_id[:12]} "
            f"(contributed first by {author})"
        )
        self.path = path
        self.fragment_id = fragment_id
        self.author = author


class MediaError(HitrecError):
    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class TimelineError(HitrecError):
    def __init__(
        self, file: str, problem: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        where = file
        if line is not None:
            where += f":{line}"
        if field:
            where += f": {field}"
        super().__init__(f"{where}: {problem}")
        self.file = file
        self.line = line
        self.field = field
        self.problem = problem


class RenderError(HitrecError):
    pass


class LicenseError(HitrecError):
    pass


class CreditsError(HitrecError):
    pass


class SyncError(HitrecError):
    pass


class AuthError(SyncError):
    pass


class RemoteError(SyncError):
    pass


class HubError(HitrecError):
    pass
