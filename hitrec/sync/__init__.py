"""The sync client's plumbing: git smart HTTP (commits) and the Git LFS batch API (media).

The operations themselves live in hitrec.ops (push.py, pull.py, clone.py, remote.py); the protocol as
hitrec speaks it is docs/sync.md.

    remotes.py      remotes in the repo's git config; tokens stripped from URLs; lfs.url
    credentials.py  ~/.config/hitrec/credentials (0600); HITREC_TOKEN; git's credential helpers
    http.py         one Transport seam (http.client for http://, httpx for https://); redirects, retries
    git.py          ref listing and packs (the git binary, credentials via the environment)
    lfs.py          the LFS batch client: compare (set difference), then transfer adapters (basic)
    session.py      one hub conversation: remote, credentials, HTTP client; fetch; local refs under the lock
"""
