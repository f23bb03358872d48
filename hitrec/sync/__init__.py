"""push / pull / clone over git smart HTTP (commits) and the Git LFS batch API (media).

    remotes.py      remotes in the repo's git config; credentials stripped from URLs
    credentials.py  ~/.config/hitrec/credentials (0600); HITREC_TOKEN
    http.py         keep-alive http.client connections for http:// hubs; httpx (imported on use) for https://
    git.py          ref listing and packs (the git binary, credentials via the environment)
    lfs.py          the LFS batch client: set differences, streamed and verified transfers
    ops.py          push(), pull(), clone(): one function each, returning a result
"""

