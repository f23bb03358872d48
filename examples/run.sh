#!/usr/bin/env bash
# A small real collaboration, by hand: three people record fragments in their own repos, share them
# through a local hub, an editor remixes them with three timelines, credits say who gets what, and
# everyone ends up with the same collaboration.
#
#     bash examples/run.sh [FOLDER]        # default: ./hitrec-example (must not exist yet)
#
# Needs hitrec installed (`pip install .`); it starts a hub on 127.0.0.1 (a free port) and stops it at
# the end. Every command it runs is printed first, so you can copy any of them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mkdir -p "${1:-hitrec-example}" && cd "${1:-hitrec-example}" && pwd)"
if [ -n "$(ls -A "$work")" ]; then
  echo "error: $work is not empty; give a new folder" >&2
  exit 2
fi
py="${PYTHON:-python3}"
hitrec() { "$py" -m hitrec "$@"; }
say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
json() { "$py" -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
fragment_id() { json 'd["added"][0]["id"] if "added" in d else d["fragment"]["id"]'; }

say "Media: generated with the bundled ffmpeg"
"$py" "$here/make_media.py" "$work/media" >/dev/null
ls "$work/media"

say "A hub with three users (each gets a token, shown once; the hub keeps only its hash)"
hub="$work/hub"
for who in maya:maya@example.org sam:sam@example.org jo:jo@example.org; do
  name="${who%%:*}"
  token="$(hitrec hub user add "$name" --email "${who#*:}" --root "$hub" --json | json 'd["token"]')"
  printf -v "TOKEN_$name" '%s' "$token"
  echo "hub user $name <${who#*:}>"
done
# the hub itself in the background, not the `hitrec` function: $! would be a subshell, and killing it
# at the end would leave the hub running
"$py" -m hitrec hub serve --root "$hub" --host 127.0.0.1 --port 0 >"$work/hub.log" 2>&1 &
hub_pid=$!
trap 'kill "$hub_pid" 2>/dev/null; wait "$hub_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  url="$(sed -n 's|.* at \(http://127\.0\.0\.1:[0-9]*\)/.*|\1|p' "$work/hub.log" | head -n 1)"
  [ -n "$url" ] && break
  kill -0 "$hub_pid" 2>/dev/null || { cat "$work/hub.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "error: the hub did not start" >&2; cat "$work/hub.log" >&2; exit 1; }
film="$url/street-film.git"
echo "hub serving at $url; the collaboration is $film"

as() {  # as NAME COMMAND...: run a hitrec command as hub user NAME in NAME's repo
  local name="$1"; shift
  local token_var="TOKEN_$name"
  (cd "$work/$name" && HITREC_USER="$name" HITREC_TOKEN="${!token_var}" "$@")
}

say "Maya records a voice line and a story page, and publishes them"
run hitrec init "$work/maya" >/dev/null
as maya hitrec config user.name "Maya Okafor"
as maya hitrec config user.email maya@example.org
voice="$(as maya hitrec add "$work/media/voice-line.wav" --title "Morgan's big line" --tag voice-over \
  --license CC-BY-4.0 --json | fragment_id)"
story="$(as maya hitrec add "$work/media/story.md" --title "Page one of the story" --license CC-BY-4.0 \
  --json | fragment_id)"
as maya hitrec remote add origin "$film"
as maya run hitrec push

say "Sam clones it, records two shots, a drawing made from Maya's story, and a pulse; publishes them"
(cd "$work" && HITREC_USER=sam HITREC_TOKEN="$TOKEN_sam" run hitrec clone "$film" sam >/dev/null)
as sam hitrec config user.name "Sam Ito"
as sam hitrec config user.email sam@example.org
shot="$(as sam hitrec add "$work/media/city-shot.mp4" --title "City at dusk" --license CC-BY-4.0 --json | fragment_id)"
sky="$(as sam hitrec add "$work/media/sky-shot.mp4" --title "Test-card sky" --license CC0-1.0 --json | fragment_id)"
drawing="$(as sam hitrec add "$work/media/drawing.png" --title "Morgan, drawn from page one" --remix-of "$story" \
  --license CC-BY-4.0 --json | fragment_id)"
pulse="$(as sam hitrec add "$work/media/pulse.wav" --title "Pulse" --tag music --license CC0-1.0 --json | fragment_id)"
as sam run hitrec push

say "Maya records three chords meanwhile and pushes: the hub moved, so her push merges the catalogs"
chords="$(as maya hitrec add "$work/media/three-chords.wav" --title "Three chords in C" --tag music \
  --license CC-BY-4.0 --json | fragment_id)"
as maya run hitrec push

say "Jo, the editor, clones the collaboration and remixes it with three timelines"
(cd "$work" && HITREC_USER=jo HITREC_TOKEN="$TOKEN_jo" run hitrec clone "$film" jo >/dev/null)
as jo hitrec config user.name "Jo Editor"
as jo hitrec config user.email jo@example.org
fill() {  # the timelines name fragments by id: fill in this collaboration's ids
  sed -e "s/@VOICE@/$voice/g" -e "s/@CHORDS@/$chords/g" -e "s/@SHOT@/$shot/g" -e "s/@SKY@/$sky/g" \
      -e "s/@DRAWING@/$drawing/g" -e "s/@PULSE@/$pulse/g" -e "s/@TRAILER@/${trailer:-}/g" \
      "$here/timelines/$1.yaml" >"$work/jo/$1.yaml"
}
fill trailer
as jo run hitrec remix trailer.yaml --dry-run
trailer="$(as jo hitrec remix trailer.yaml --json | fragment_id)"
echo "trailer: $trailer"
fill radio-cut
radio="$(as jo hitrec remix radio-cut.yaml --json | fragment_id)"
echo "radio cut: $radio"
fill poster-loop
poster="$(as jo hitrec remix poster-loop.yaml --json | fragment_id)"
echo "poster loop (a remix of the trailer): $poster"
as jo run hitrec verify "$trailer"
as jo run hitrec lineage "$poster"

say "Who gets what"
as jo run hitrec credits "$trailer" --profit 1000
as jo run hitrec credits "$poster" --profit 250 --community-share 0.7 --currency EUR
as jo run hitrec credits "$radio" --format roll
as jo run hitrec push

say "Everyone pulls: the same collaboration everywhere"
as maya run hitrec pull
as sam run hitrec pull
for name in maya sam jo; do
  as "$name" hitrec fsck >/dev/null
  echo "$name: $(as "$name" hitrec log --json | json 'len(d)') fragments, fsck clean"
done
as maya hitrec credits "$poster" --json >"$work/poster-credits.json"
as maya run hitrec checkout "$trailer" "$work/trailer.mp4"

say "Done: the repos are in $work/{maya,sam,jo}, the hub's files in $hub"
echo "try: cd $work/jo && hitrec log && git --git-dir .hitrec log --graph --oneline main"
