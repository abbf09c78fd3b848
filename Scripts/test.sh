#!/usr/bin/env bash
# The project's test command: sets up a fresh Debian 12 machine (idempotent), builds everything, and runs
# every test: the Swift unit and end-to-end tests, the Python tooling tests, and the integration tests of the
# real daemon against real kernel drivers (vivid camera, gpio-sim GPIO chip) under QEMU.
#
# Also: a short fuzzing run of every parser (Scripts/fuzz.sh); the C layer's numeric tests natively and for aarch64 under qemu-user, and the numeric Swift tests once
# more under every other OpenBLAS kernel family this CPU runs (a fault of one family shows on any machine).
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
if ((INTEGRATION)); then Scripts/setup.sh --integration --cross; else Scripts/setup.sh --cross; fi

step "formatting (swift format lint, .swift-format)"
swift format lint --strict --recursive Sources Tests Package.swift Fuzz/Sources Fuzz/Package.swift

step "build (release binaries for the end-to-end and integration tests, debug for unit tests)"
swift build -c release --product dogdoord
swift build -c release --product dogdoor
swift build -c release --product dogdoor-train
swift build -c release --product dogdoor-latch
swift build -c release --product dogdoor-web
swift build -c release --product dogdoor-samples
swift build --build-tests

# The test process picks its OpenBLAS kernel exactly as the programs do (Tests/CTestBootstrap).
step "Swift tests (OpenBLAS: $(.build/release/dogdoor blas | awk '/^kernel:/ { $1 = ""; print }'))"
DOGDOOR_BIN_DIR="$ROOT/.build/release" swift test --skip-build

chosen="$(.build/release/dogdoor blas | awk '/^kernel:/ { print $2 }')"
for core in $(env -u OPENBLAS_CORETYPE .build/release/dogdoor blas --tested); do
    [[ "$core" == "$chosen" ]] && continue
    step "numeric Swift tests under OpenBLAS's $core kernels"
    OPENBLAS_CORETYPE="$core" swift test --skip-build --filter 'NeuralNetTests|TrainingTests'
done

step "C numerics: native, and aarch64 under qemu-user"
Scripts/test-c-numerics.sh

step "fuzzing: every parser for a few seconds (ASan, UBSan for the C shims; docs/fuzzing.md)"
Scripts/fuzz.sh --seconds 10

step "Python tooling tests"
.venv/bin/python -m pytest -q Scripts/tests

if ((INTEGRATION)); then
    step "integration tests under QEMU (real vivid camera and gpio-sim latch)"
    DOGDOOR_BIN_DIR="$ROOT/.build/release" Scripts/integration/test.sh
fi

step "all tests passed"
