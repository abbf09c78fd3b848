#!/usr/bin/env bash
# Fuzzes DogDoor's parsers with libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer (the C shims):
# model files, manifests, the configuration, JSON messages, photos, camera frames, and the C codec shim on its
# own (codecs-c, built with clang). See docs/fuzzing.md.
#
# Each target keeps its corpus in .build-fuzz/corpus/<target> between runs, starting from the seeds
# (FuzzSeeds, the imaging golden photos, the example configuration) and every past crash
# (Tests/FuzzRegressions/<target>). A crash is copied into Tests/FuzzRegressions/<target>/, where the
# ordinary test run replays it for ever after; the script then fails and prints how to reproduce it.
#
# Usage: Scripts/fuzz.sh [--seconds N | --runs N] [target ...]     (default: 60 seconds per target, all)
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGETS=(model-file manifest configuration messages image camera-frame web codecs-c)
LIMIT=(-max_total_time=60)
SELECTED=()
while (($#)); do
    case "$1" in
        --seconds) LIMIT=(-max_total_time="$2"); shift 2 ;;
        --runs) LIMIT=(-runs="$2"); shift 2 ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *)
            [[ " ${TARGETS[*]} " == *" $1 "* ]] || { echo "fuzz.sh: unknown target $1 (targets: ${TARGETS[*]})" >&2; exit 2; }
            SELECTED+=("$1"); shift ;;
    esac
done
((${#SELECTED[@]})) || SELECTED=("${TARGETS[@]}")

WORK="$ROOT/.build-fuzz"
# Swift's backtracer reads memory ASan has poisoned and hides the failure; libFuzzer prints the stack.
export SWIFT_BACKTRACE=enable=no
FUZZER="$WORK/build/release/dogdoor-fuzz"

# Swift code gets coverage and ASan from -sanitize; the C shims (image codecs, V4L2, system calls) from the
# -X cc flags, with UBSan's checks fatal. lld: Debian's gold fails on the sanitizer runtime's symbols.
echo "==> building the fuzzer (release, -sanitize=fuzzer,address)"
(cd Fuzz && swift build -c release --build-path "$WORK/build" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld \
    -Xcc -fsanitize=fuzzer-no-link,address,undefined -Xcc -fno-sanitize-recover=undefined)

# The C codec shim alone, with clang: ASan, UBSan (fatal) and libFuzzer in one runtime.
echo "==> building the C codec fuzzer (clang)"
mkdir -p "$WORK/c"
/opt/swift/usr/bin/clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fuse-ld=lld \
    -ISources/CImageCodecs/include Fuzz/C/codecs_fuzz.c Sources/CImageCodecs/codecs.c -ljpeg -lpng16 -lwebp \
    -o "$WORK/c/codecs-fuzz"

# Seeds of the C codec target: the image seeds behind the byte that selects their codec (see codecs_fuzz.c),
# at full scale and re-encoded, and JPEGs once more at scale 1/8, truncated files accepted.
codec_seeds() {
    local from="$1" to="$2" file name
    for file in "$from"/*; do
        name="$(basename "$file")"
        case "$name" in
            *.jpg) { printf '\x5c'; cat "$file"; } >"$to/$name"; { printf '\x20'; cat "$file"; } >"$to/small-$name" ;;
            *.png) { printf '\x41'; cat "$file"; } >"$to/$name" ;;
            *.webp) { printf '\x42'; cat "$file"; } >"$to/$name" ;;
        esac
    done
}

# Longest input per target: past the size limits the parsers check first, short enough to mutate quickly.
max_len() {
    case "$1" in
        model-file) echo 65536 ;;
        image|codecs-c) echo 65536 ;;
        camera-frame) echo 200000 ;;
        *) echo 16384 ;;
    esac
}

failed=()
summary=()
for target in "${SELECTED[@]}"; do
    seeds="$WORK/seeds/$target" corpus="$WORK/corpus/$target" crashes="$WORK/crashes/$target"
    regressions="$ROOT/Tests/FuzzRegressions/$target"
    rm -rf "$seeds"
    mkdir -p "$corpus" "$crashes" "$regressions"
    program="$FUZZER"
    if [[ "$target" == codecs-c ]]; then
        program="$WORK/c/codecs-fuzz"
        mkdir -p "$seeds" "$WORK/seeds/image-source"
        DOGDOOR_FUZZ_TARGET=image DOGDOOR_FUZZ_WRITE_SEEDS="$WORK/seeds/image-source" "$FUZZER"
        cp Tests/ImagingTests/Golden/imaging/*.{jpg,png,webp} "$WORK/seeds/image-source/"
        codec_seeds "$WORK/seeds/image-source" "$seeds"
    else
        DOGDOOR_FUZZ_TARGET="$target" DOGDOOR_FUZZ_WRITE_SEEDS="$seeds" "$FUZZER"
    fi
    case "$target" in
        image) cp Tests/ImagingTests/Golden/imaging/*.{jpg,png,webp} "$seeds/" ;;
        configuration) cp etc/dogdoor/dogdoord.toml "$seeds/" ;;
    esac
    before=$(find "$corpus" -type f | wc -l)
    echo "==> fuzzing $target (${LIMIT[*]})"
    log="$WORK/$target.log"
    set +e
    # New inputs go to the first directory (the corpus); seeds and regressions are read only.
    DOGDOOR_FUZZ_TARGET="$target" "$program" "${LIMIT[@]}" -max_len="$(max_len "$target")" -timeout=10 -rss_limit_mb=3072 \
        -use_value_profile=1 -print_final_stats=1 -artifact_prefix="$crashes/" \
        "$corpus" "$seeds" "$regressions" >"$log" 2>&1
    status=$?
    set -e
    grep -E '^#[0-9]+ +(DONE|INITED)' "$log" | tail -1 || true
    runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
    rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$log")
    after=$(find "$corpus" -type f | wc -l)
    found=()
    for artifact in "$crashes"/*; do
        [[ -f "$artifact" ]] || continue
        name="$(basename "$artifact")"
        cp "$artifact" "$regressions/$name"
        found+=("$name")
        rm "$artifact"
    done
    if ((status != 0 || ${#found[@]})); then
        tail -40 "$log"
        echo "fuzz.sh: $target failed (exit $status); saved in Tests/FuzzRegressions/$target: ${found[*]:-none}"
        for name in "${found[@]}"; do
            echo "  reproduce: DOGDOOR_FUZZ_TARGET=$target $program Tests/FuzzRegressions/$target/$name"
        done
        failed+=("$target")
    fi
    summary+=("$(printf '%-14s %10s runs %8s/s  corpus %5d (+%d)  findings %d' "$target" "${runs:-?}" "${rate:-?}" \
        "$after" $((after - before)) "${#found[@]}")")
done

echo
echo "==> summary ($(lscpu | sed -n 's/^Model name: *//p'))"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "fuzz.sh: findings in: ${failed[*]}" >&2
    exit 1
fi
