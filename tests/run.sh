#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian machine, then run it.
#   bash tests/run.sh            (what .ci/run runs, and what the README tells a newcomer to run)
set -euo pipefail
cd "$(dirname "$0")/.."

# git and git-lfs: the interop tests drive the real clients; nginx and fcgiwrap (with git's own
# http-backend) make the third-party Git LFS host of tests/thirdparty_host.py.
if ! command -v git-lfs >/dev/null 2>&1 || ! command -v git >/dev/null 2>&1 \
    || ! command -v nginx >/dev/null 2>&1 || ! command -v fcgiwrap >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq git git-lfs nginx fcgiwrap >/dev/null
fi

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
python3 -m ruff check hitrec tests bench
python3 -m mypy
python3 -m pytest -n 2 -p no:cacheprovider -q
