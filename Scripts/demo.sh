#!/usr/bin/env bash
# The README's main command: sets up a fresh Debian 12 machine, generates sample photos (Bo and other animals,
# drawn by the project itself), trains a model on them with dogdoor-train, and runs the door daemon on its
# built-in defaults: a replay camera (a porch where a cat, a fox and other dogs pass before Bo comes to the
# door) and a simulated latch. Ctrl-C stops it; the door locks.
#
# Usage: Scripts/demo.sh [extra dogdoord arguments, e.g. --set decision.hold=5s]
# Everything it makes lives in var/demo: data/, frames/, model.safetensors, model.report.html, events/.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEMO="$ROOT/var/demo"
step() { printf '==> %s\n' "$*"; }

Scripts/setup.sh
step "building (release)"
for product in dogdoord dogdoor dogdoor-train; do swift build -c release --product "$product" >/dev/null; done
BIN="$ROOT/.build/release"

mkdir -p "$DEMO"
if [[ ! -f "$DEMO/data/.complete" ]]; then
    step "generating sample photos"
    rm -rf "$DEMO/data"
    "$BIN/dogdoor" samples dataset --output "$DEMO/data" --train-per-class 30 --valid-per-class 10 --seed 1
    touch "$DEMO/data/.complete"
fi
if [[ ! -f "$DEMO/frames/.complete" ]]; then
    step "generating the replay camera's frames"
    rm -rf "$DEMO/frames"
    "$BIN/dogdoor" samples replay --output "$DEMO/frames" --seed 2
    touch "$DEMO/frames/.complete"
fi
if [[ ! -f "$DEMO/model.safetensors" ]]; then
    step "training the model (a few minutes)"
    "$BIN/dogdoor-train" --data "$DEMO/data" --positive bo --output "$DEMO/model.safetensors" \
        --epochs 8 --fine-tune-epochs 2 --max-false-accept 0 --seed 1
fi

step "running the door daemon: replay camera, simulated latch (Ctrl-C to stop)"
echo "    events: $DEMO/events/events.jsonl   snapshots: $DEMO/events/snapshots/"
echo "    status: $BIN/dogdoor status --socket $DEMO/control.sock"
exec "$BIN/dogdoord" --model "$DEMO/model.safetensors" \
    --set "camera.replay_folder=$DEMO/frames" \
    --set "events.directory=$DEMO/events" \
    --set "control.socket=$DEMO/control.sock" \
    "$@"
