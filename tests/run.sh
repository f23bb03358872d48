#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian machine, then run it.
#   bash tests/run.sh            (what .ci/run runs, and what the README tells a newcomer to run)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: git and git-lfs (the interop tests drive the real clients); nginx and fcgiwrap (with
# git's own http-backend: the third-party Git LFS host of tests/thirdparty_host.py, and the nginx in front
# of several hubs); chromium (the gallery's browser tests, driven by Playwright); graphviz (lineage
# pictures); melt (MLT, a render peer in bench/); wrk (the gallery's load bench); npm (axe-core).
# Only what is missing is installed: a machine whose Node.js comes with its own npm (nodesource's nodejs
# package) cannot take Debian's npm beside it (the two conflict), and needs none.
need=""
for pair in git:git git-lfs:git-lfs nginx:nginx fcgiwrap:fcgiwrap chromium:chromium dot:graphviz melt:melt \
            wrk:wrk npm:npm; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need="$need ${pair#*:}"
done
if [ -n "$need" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086  # the package names are words
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi
# axe-core (the accessibility checks of the gallery's browser tests), from npm into tests/.node
if [ ! -f tests/.node/node_modules/axe-core/axe.min.js ]; then
  npm install --silent --no-audit --no-fund --prefix tests/.node axe-core@4 >/dev/null
fi

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
python3 -m ruff check hitrec tests bench
python3 -m mypy
python3 -m pytest -n 2 -p no:cacheprovider -q
