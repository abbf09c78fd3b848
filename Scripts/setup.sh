#!/usr/bin/env bash
# Sets up a Debian 12 machine for building, testing and running DogDoor (Swift is expected at /opt/swift).
#
#   1. apt-get installs the system libraries and the tools the tests use (skipped when all are installed);
#   2. creates the Python venv .venv in the repository and installs Scripts/requirements-setup.txt
#      (skipped when that file has not changed since the last install);
#   3. imports the VGG16 weights into var/weights/vgg16-notop.safetensors (skipped when already there).
#
# Idempotent: rerunning it does only what is missing. Runs from any directory. Needs root for apt-get
# (or sudo), and the Debian archive and PyPI on the network for whatever is missing.
#
# Usage: Scripts/setup.sh [-v|--verbose] [--integration] [--cross]
#   -v, --verbose   show the output of apt-get and pip (by default it is shown only when they fail)
#   --integration   also prepare the QEMU integration tests (Scripts/integration/setup.sh: QEMU, Debian's
#                   kernel, the gpio-sim module; about 200 MB of downloads the first time)
#   --cross         also install the aarch64 cross toolchain, qemu-user and Debian's arm64 libraries
#                   (multiarch) for Scripts/test-c-numerics.sh (about 150 MB)
#
# Environment: DOGDOOR_PYTHON  the Python (>= 3.11) to make the venv with (default /usr/bin/python3)
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${DOGDOOR_PYTHON:-/usr/bin/python3}"
REQUIREMENTS="$ROOT/Scripts/requirements-setup.txt"
VERBOSE=0
INTEGRATION=0
CROSS=0

# ---- Debian packages --------------------------------------------------------------------------------
# Libraries the Swift targets link against (with their headers).
BUILD_PACKAGES=(libopenblas-dev libv4l-dev libgpiod-dev libjpeg-dev libpng-dev libwebp-dev nettle-dev libmosquitto-dev)
# Tools the tests call: gpioset/gpioget (gpiod), v4l2-ctl (v4l-utils), systemd-analyze verify (systemd), a real
# MQTT broker and its clients for the Home Assistant bridge (mosquitto, mosquitto-clients; openssl makes the
# TLS test's certificates), and a real browser
# for the web app's tests (chromium, chromium-driver; driven by selenium from the venv).
TEST_TOOL_PACKAGES=(gpiod v4l-utils systemd mosquitto mosquitto-clients openssl chromium chromium-driver)
# Python for the venv (python3-venv provides ensurepip on Debian).
PYTHON_PACKAGES=(python3 python3-venv)
# >>> Add further packages here, one group per purpose, with a comment saying which part needs them. <<<
EXTRA_PACKAGES=()
# --cross: the C layer built for aarch64 (Raspberry Pi) and run under qemu-user (Scripts/test-c-numerics.sh).
CROSS_PACKAGES=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libopenblas-dev:arm64 libjpeg-dev:arm64
                libpng-dev:arm64 libwebp-dev:arm64 libgpiod-dev:arm64 nettle-dev:arm64)
# -----------------------------------------------------------------------------------------------------

step() { printf '==> %s\n' "$*"; }
fail() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }
trap 'printf "setup.sh: failed at line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR

# Runs a command, showing its output only with --verbose or when it fails.
quietly() {
    if (( VERBOSE )); then
        "$@"
        return
    fi
    local log status=0
    log="$(mktemp)"
    "$@" >"$log" 2>&1 || status=$?
    if (( status != 0 )); then
        cat "$log" >&2
        rm -f "$log"
        printf 'setup.sh: command failed (exit %s): %s\n' "$status" "$*" >&2
        exit "$status"
    fi
    rm -f "$log"
}

install_debian_packages() {
    local wanted=("${BUILD_PACKAGES[@]}" "${TEST_TOOL_PACKAGES[@]}" "${PYTHON_PACKAGES[@]}" "${EXTRA_PACKAGES[@]}")
    (( CROSS )) && wanted+=("${CROSS_PACKAGES[@]}")
    local missing=() package
    local native
    native="$(dpkg --print-architecture)"
    for package in "${wanted[@]}"; do
        # With multiarch a name may be installed for several architectures: a plain name means the native
        # one (or an architecture-independent package), NAME:ARCH that architecture.
        local name="${package%%:*}" arch="${package#*:}"
        [[ "$arch" == "$package" ]] && arch="$native"
        if ! dpkg-query -W -f='${Architecture} ${db:Status-Status}\n' "$name" 2>/dev/null \
            | grep -Eq "^($arch|all) installed$"; then
            missing+=("$package")
        fi
    done
    if (( ${#missing[@]} == 0 )); then
        step "Debian packages: all ${#wanted[@]} installed"
        return
    fi
    local as_root=()
    if (( EUID != 0 )); then
        command -v sudo >/dev/null || fail "need root (or sudo) to install the Debian packages ${missing[*]}"
        as_root=(sudo)
    fi
    step "Debian packages: installing ${missing[*]}"
    if [[ " ${missing[*]}" == *":arm64"* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
        quietly "${as_root[@]}" dpkg --add-architecture arm64
    fi
    quietly "${as_root[@]}" apt-get update -q
    quietly "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

make_venv() {
    [[ -x "$PYTHON" ]] || fail "$PYTHON not found (install python3, or set DOGDOOR_PYTHON)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || fail "$PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())'), need 3.11 or newer"
    if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        step "Python venv: $VENV exists"
    else
        step "Python venv: creating $VENV"
        if [[ -e "$VENV" ]]; then
            rm -rf -- "$VENV"
        fi
        quietly "$PYTHON" -m venv "$VENV"
    fi
    # Reinstall only when the requirements (or the venv's Python) changed since the last install.
    local stamp="$VENV/.dogdoor-requirements" wanted
    wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$VENV/bin/python" -c 'import platform; print(platform.python_version())')"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        step "Python packages: up to date"
        return
    fi
    step "Python packages: installing Scripts/requirements-setup.txt"
    quietly "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -r "$REQUIREMENTS"
    printf '%s\n' "$wanted" > "$stamp"
}

import_weights() {
    step "VGG16 weights: var/weights/vgg16-notop.safetensors"
    "$VENV/bin/python" "$ROOT/Scripts/import-weights.py"
}

main() {
    while (( $# )); do
        case "$1" in
            -v|--verbose) VERBOSE=1 ;;
            --integration) INTEGRATION=1 ;;
            --cross) CROSS=1 ;;
            -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
            *) fail "unknown argument: $1 (see --help)" ;;
        esac
        shift
    done
    install_debian_packages
    make_venv
    import_weights
    if (( INTEGRATION )); then
        step "integration tests: QEMU, kernel and gpio-sim"
        "$ROOT/Scripts/integration/setup.sh" --quiet
    fi
    step "setup complete"
}

main "$@"
