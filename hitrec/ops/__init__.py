"""One function per user-facing operation on a repo; each returns a result and prints nothing."""
