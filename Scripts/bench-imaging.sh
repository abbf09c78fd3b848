#!/usr/bin/env bash
# Times DogDoor's preprocessing paths on this machine: a 640x480 MJPEG webcam frame, a 640x480 YUYV frame
# and a 2000x2000 JPEG photo, each all the way to a centred 224x224 network input (synthetic inputs, see
# ImagingBenchmark in Sources/Imaging). Builds `dogdoor` in release mode, then runs `dogdoor bench imaging`.
#
# Usage: Scripts/bench-imaging.sh [arguments for `dogdoor bench imaging`...]
# Environment: DOGDOOR_SCRATCH  SwiftPM scratch directory (default: .build in the repository)
#
# Timings are only meaningful on an otherwise idle machine; compare runs made side by side.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRATCH="${DOGDOOR_SCRATCH:-$ROOT/.build}"

cd "$ROOT"
swift build -c release --product dogdoor --scratch-path "$SCRATCH"
BIN="$(swift build -c release --product dogdoor --scratch-path "$SCRATCH" --show-bin-path)"
exec "$BIN/dogdoor" bench imaging "$@"
