#!/usr/bin/env bash
# Run benches of an earlier commit and of this checkout alternately in one run, each side with its own
# copy of the scripts, so a change is judged against its base on the same machine at the same moment.
#   bash bench/compare_base.sh BASE_COMMIT [BENCH_ARGS ...]
# Default benches: sync_small, render_edit, add_speed --skip-large, sync_big (512 MB), credits_synthetic.
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev=${1:?give the base commit}
shift || true
here=$PWD
base=$(mktemp -d)/base
git worktree add -q --detach "$base" "$base_rev"
trap 'git worktree remove --force "$base"' EXIT
if [ $# -gt 0 ]; then benches=("$@"); else
  benches=("sync_small.py --count 1000 --noop-count 10000" "render_edit.py --rounds 2" "add_speed.py --skip-large"
           "sync_big.py --size-mb 512" "credits_synthetic.py --sizes 100000 --runs 2")
fi
for bench in "${benches[@]}"; do
  for round in 1 2; do
    for side in "$base" "$here"; do
      label=$([ "$side" = "$base" ] && echo "base $base_rev" || echo "this checkout")
      echo "=== $label, round $round: $bench (load $(cut -d' ' -f1 /proc/loadavg))"
      (cd "$side" && PYTHONPATH="$side" python -m compileall -q hitrec >/dev/null 2>&1 || true
       cd "$side" && PYTHONPATH="$side" timeout 900 python bench/$bench 2>&1 | tail -12)
    done
  done
done
