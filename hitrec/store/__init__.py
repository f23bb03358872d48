"""The local repo: fragment records (dulwich), the media object store, the catalog, the index, locking."""

from hitrec.store.model import Fragment, MediaInfo, Person
from hitrec.store.repo import FragmentSpec, RecordResult, Repo

__all__ = ["Fragment", "FragmentSpec", "MediaInfo", "Person", "RecordResult", "Repo"]
