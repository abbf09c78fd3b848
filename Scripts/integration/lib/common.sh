# shellcheck shell=bash disable=SC2034 # variables here are used by the scripts that source this
# Shared by setup.sh, run-vm.sh and test.sh. Sourced, never run.
#
# Defines where the harness keeps its cache and which Debian kernel it boots.

INTEGRATION_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(cd "$INTEGRATION_DIR/../.." && pwd)

# Everything downloaded or built lives here; delete it to start from scratch.
# CI clones the repository afresh, so it may point this at a directory that survives between runs.
CACHE_ROOT=${DOGDOOR_INTEGRATION_CACHE:-$REPO_ROOT/.cache/integration}

die() {
    printf '%s: error: %s\n' "${0##*/}" "$*" >&2
    exit "${DIE_STATUS:-1}"
}

note() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# Seconds since the epoch with millisecond precision, for timing reports.
now() {
    date +%s.%3N
}

elapsed_since() {
    awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1f", end - start }'
}

# The kernel ABI name (e.g. 6.1.0-57-amd64) that Debian's linux-image-amd64 currently depends on,
# and the Debian version of that package. Needs apt lists (apt-get update).
resolve_debian_kernel() {
    local dep
    dep=$(apt-cache depends linux-image-amd64 2>/dev/null |
          sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
    [[ -n $dep ]] || return 1
    KERNEL_ABI=$dep
    KERNEL_VERSION=$(apt-cache policy "linux-image-$dep" 2>/dev/null |
                     sed -n 's/^ *Candidate: \(.*\)$/\1/p')
    [[ -n $KERNEL_VERSION && $KERNEL_VERSION != "(none)" ]]
}

# Static helper programs from src/, rebuilt whenever their source differs from the one they were
# built from. Every guest gets them in /usr/local/bin.
HELPERS_DIR=$CACHE_ROOT/helpers

build_helpers() {
    local source name binary digest
    mkdir -p "$HELPERS_DIR"
    for source in "$INTEGRATION_DIR"/src/*.c; do
        [[ -f $source ]] || continue
        name=$(basename "$source" .c)
        binary=$HELPERS_DIR/$name
        digest=$(sha256sum <"$source")
        if [[ ! -x $binary || $(cat "$binary.source-digest" 2>/dev/null) != "$digest" ]]; then
            gcc -static -O2 -std=gnu11 -Wall -Wextra -Werror -o "$binary.tmp" "$source" ||
                die "compiling $source failed"
            mv "$binary.tmp" "$binary"
            echo "$digest" >"$binary.source-digest"
        fi
    done
}

# The kernel cache that setup.sh made last; sets KERNEL_DIR, KERNEL_ABI, KERNEL_VERSION.
load_current_kernel() {
    local current=$CACHE_ROOT/current
    [[ -f $current/ready ]] || return 1
    KERNEL_DIR=$(cd "$current" && pwd -P)
    # shellcheck source=/dev/null
    . "$KERNEL_DIR/kernel.env"
}
