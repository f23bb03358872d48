"""The sync client's plumbing: git smart HTTP (commits) and the Git LFS batch API (media).

The operations themselves live in hitrec.ops (push.py, pull.py, clone.py, remote.py).

    remotes.py      remotes in the repo's git config; credentials stripped from URLs
    credentials.py  ~/.config/hitrec/credentials (0600); HITREC_TOKEN
    http.py         keep-alive http.client connections for http:// hubs; httpx (imported on use) for https://
    git.py          ref listing and packs (the git binary, credentials via the environment)
    lfs.py          the LFS batch client: set differences, streamed and verified transfers
    session.py      one hub conversation: remote, credentials, HTTP client; fetch; local refs under the lock
"""
