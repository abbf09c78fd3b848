#!/usr/bin/env bash
# The project's test command: sets up a fresh Debian 12 machine (idempotent), builds everything, and runs
# every test: the Swift unit and end-to-end tests, the Python tooling tests, and the integration tests of the
# real daemon against real kernel drivers (vivid camera, gpio-sim GPIO chip) under QEMU.
#
# Usage: Scripts/test.sh [--no-integration]
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
INTEGRATION=1
for arg in "$@"; do
    case "$arg" in
        --no-integration) INTEGRATION=0 ;;
        *) echo "test.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*"; }

step "setup"
if ((INTEGRATION)); then Scripts/setup.sh --integration; else Scripts/setup.sh; fi

step "build (release binaries for the end-to-end and integration tests, debug for unit tests)"
swift build -c release --product dogdoord
swift build -c release --product dogdoor
swift build -c release --product dogdoor-train
swift build --build-tests

step "Swift tests"
DOGDOOR_BIN_DIR="$ROOT/.build/release" swift test --skip-build

step "Python tooling tests"
.venv/bin/python -m pytest -q Scripts/tests

if ((INTEGRATION)); then
    step "integration tests under QEMU (real vivid camera and gpio-sim latch)"
    DOGDOOR_BIN_DIR="$ROOT/.build/release" Scripts/integration/test.sh
fi

step "all tests passed"
