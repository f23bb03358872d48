"""The local repo: fragment records (dulwich), the media object store, the catalog, the index, locking."""
