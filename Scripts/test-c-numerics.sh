#!/usr/bin/env bash
# Builds every C target of the package (kernels and shims) and runs their numeric tests (Tests/CNumerics) for the
# build machine and for aarch64, the instruction set of the Raspberry Pi 4/5: cross-compiled with Debian's
# aarch64 toolchain against Debian's arm64 libraries (multiarch) and run under qemu-user.
#
# What this proves on ARM: the C layer (engine kernels, OpenBLAS's arm64 GEMM on our shapes, the image codec
# shims) compiles warning-free and computes the same numbers. What it does not: the Swift targets (no Swift
# cross toolchain here); see the README's Raspberry Pi section.
#
# Usage: Scripts/test-c-numerics.sh [--native-only]      (needs Scripts/setup.sh --cross for aarch64)
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
NATIVE_ONLY=0
[[ "${1:-}" == "--native-only" ]] && NATIVE_ONLY=1
OUT="$ROOT/.build-cnumerics"
mkdir -p "$OUT"

# The decode cases: every golden image whose pixels the C shim produces by itself (EXIF orientation is applied
# in Swift, so oriented cases are left to the Swift tests).
python3 - "$ROOT/Tests/ImagingTests/Golden/imaging-golden.json" > "$OUT/decode-cases.txt" <<'PY'
import json, sys
for case in json.load(open(sys.argv[1]))["decode"]:
    name = case["name"]
    if "exif-orientation" in name and not name.endswith("orientation-1.png"):
        continue
    print(name, case["width"], case["height"], case["tolerance"])
PY
ln -sfn "$ROOT/Tests/ImagingTests/Golden/imaging" "$OUT/imaging"

SOURCES=(Sources/CKernels/kernels.c Sources/CKernels/quantized.c Sources/COpenBLAS/openblas_shim.c Sources/CImageCodecs/codecs.c Tests/CNumerics/cnumerics.c)
# Shims that only have to build (their behaviour needs devices: tested under QEMU system emulation on x86-64).
BUILD_ONLY=(Sources/CGPIOD/gpiod_shim.c Sources/CV4L2/v4l2_shim.c Sources/CCrypto/sha256.c)
INCLUDES=(-ISources/CKernels/include -ISources/COpenBLAS/include -ISources/CImageCodecs/include -ISources/CGPIOD/include
          -ISources/CV4L2/include -ISources/CCrypto/include)
LIBS=(-lopenblas -ljpeg -lpng16 -lwebp -lm -lpthread)
WARNINGS=(-Wall -Wextra -Wno-unused-parameter -Werror)

# build NAME CC [EXTRA_FLAGS...]: compiles every C file, links cnumerics.
build() {
    local name="$1" cc="$2"
    shift 2
    local dir="$OUT/$name" objects=()
    mkdir -p "$dir"
    for source in "${SOURCES[@]}" "${BUILD_ONLY[@]}"; do
        local object="$dir/$(basename "${source%.c}").o" opt=-O2
        [[ "$source" == Sources/CKernels/* ]] && opt="-O3 -fno-math-errno"
        # shellcheck disable=SC2086
        "$cc" "$@" $opt "${WARNINGS[@]}" "${INCLUDES[@]}" -c "$source" -o "$object"
        [[ " ${BUILD_ONLY[*]} " == *" $source "* ]] || objects+=("$object")
    done
    "$cc" "$@" "${objects[@]}" "${LIBS[@]}" -o "$dir/cnumerics"
}

printf '==> C numerics, native (%s)\n' "$(uname -m)"
build native "${CC:-cc}"
"$OUT/native/cnumerics" "$OUT"

if (( NATIVE_ONLY )); then exit 0; fi
for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
    command -v "$tool" >/dev/null || { echo "test-c-numerics.sh: $tool missing: run Scripts/setup.sh --cross" >&2; exit 1; }
done
printf '==> C numerics, aarch64 (cross-compiled, run under qemu-user)\n'
build aarch64 aarch64-linux-gnu-gcc -march=armv8-a
# The arm64 loader and libraries are installed by multiarch under / (libc6:arm64 and friends). OpenBLAS's kernel
# families for the boards: what it picks under QEMU (generic ARMV8), Cortex-A53 (Raspberry Pi 3, Zero 2),
# Cortex-A72 (Pi 4) and Neoverse N1 (the family of the Pi 5's Cortex-A76).
for core in "" CORTEXA53 CORTEXA72 NEOVERSEN1; do
    OPENBLAS_CORETYPE="$core" QEMU_LD_PREFIX=/ qemu-aarch64 "$OUT/aarch64/cnumerics" "$OUT"
done
