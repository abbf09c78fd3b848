#!/usr/bin/env bash
# Prepares everything run-vm.sh needs, from Debian's archive only:
#   - host packages (qemu, busybox-static, kmod, cpio, compilers, v4l-utils, gpiod)
#   - Debian 12's own kernel (the version linux-image-amd64 depends on), as an uncompressed ELF
#     vmlinux that QEMU boots through its PVH entry point
#   - gpio-sim.ko, which Debian does not build, compiled out of tree from linux-source
#   - a base initramfs: busybox-static plus the guest's modules and their dependencies
#   - the static helpers in src/ (vivid-feed)
#
# Idempotent: a second run with a complete cache only checks and returns. The cache lives in
# $DOGDOOR_INTEGRATION_CACHE (default: .cache/integration in the repository).
#
# Usage: setup.sh [--refresh] [--quiet]
#   --refresh   ask the archive for its current kernel and rebuild the cache if it changed
#   --quiet     say nothing when there is nothing to do
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# Modules the guest needs, dependencies are added automatically.
# virtio_pci + virtio_console carry output and status to the host; vivid is the camera;
# gpio-sim (built by setup.sh) pulls in configfs.
GUEST_MODULES=(virtio_pci virtio_console configfs vivid)

# Host packages: the emulator, the initramfs ingredients, the tools to build gpio-sim and the
# helpers, and the Debian tools the smoke scenarios copy into the guest.
HOST_PACKAGES=(qemu-system-x86 busybox-static kmod cpio xz-utils build-essential binutils
               v4l-utils gpiod)

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

refresh=false quiet=false
while (($#)); do
    case $1 in
        --refresh) refresh=true ;;
        --quiet) quiet=true ;;
        -h|--help) usage; exit 0 ;;
        *) DIE_STATUS=2 die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done

# A digest of the recipe: editing this script rebuilds the kernel cache.
recipe_digest() {
    sha256sum <"$INTEGRATION_DIR/setup.sh" | cut -c1-16
}

apt_updated=false
apt_update_once() {
    if ! $apt_updated; then
        note "apt-get update"
        apt-get update -qq >/dev/null || die "apt-get update failed"
        apt_updated=true
    fi
}

# Installs the named Debian packages that are not installed yet.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) != installed ]]; then
            missing+=("$pkg")
        fi
    done
    ((${#missing[@]})) || return 0
    [[ $(id -u) == 0 ]] || die "packages missing: ${missing[*]}; run this script as root to install them"
    note "installing ${missing[*]}"
    apt_update_once
    local log
    log=$(mktemp)
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
            >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        die "apt-get install ${missing[*]} failed (output above)"
    fi
    rm -f "$log"
}

# Finds the xz stream inside a bzImage and writes the ELF vmlinux it holds.
extract_vmlinux() {
    local bzimage=$1 out=$2 offset
    offset=$(LC_ALL=C grep -aboP -m 1 '\xFD7zXZ\x00' "$bzimage" | head -n 1 | cut -d: -f1) || true
    [[ -n $offset ]] || return 1
    # xz stops after the first stream, so tail may die of SIGPIPE: only xz's status counts.
    tail -c +"$((offset + 1))" "$bzimage" | xz -dc --single-stream >"$out" 2>/dev/null || true
    ((PIPESTATUS[1] == 0)) || return 1
    [[ $(head -c 4 "$out") == $'\x7fELF' ]]
}

# True if the ELF kernel has the Xen PVH entry note QEMU needs to boot it directly.
has_pvh_note() {
    readelf -n "$1" 2>/dev/null | grep -q 'Xen .*(0x00000012)'
}

build_gpio_sim() {
    local source_deb=$1 series=$2 out=$3
    local src=$WORK/gpio-sim-src tree=linux-source-$series
    mkdir -p "$src"
    # Three files from the full source tarball; xz has to read the whole stream (~13 s).
    dpkg-deb --fsys-tarfile "$source_deb" |
        tar -xO "./usr/src/linux-source-$series.tar.xz" | xz -dc |
        tar -x -C "$src" "$tree/drivers/gpio/gpio-sim.c" "$tree/drivers/gpio/gpiolib.h" \
            "$tree/kernel/irq/irq_sim.c" ||
        die "could not extract gpio-sim sources from $(basename "$source_deb")"

    local mod=$WORK/gpio-sim
    mkdir -p "$mod"
    cp "$src/$tree/drivers/gpio/gpio-sim.c" "$mod/gpio-sim-main.c"
    cp "$src/$tree/drivers/gpio/gpiolib.h" "$mod/gpiolib.h"
    # irq_sim is linked into the module: its exports would clash with nothing but are not
    # allowed from a second object, and irq_to_desc() is not exported to modules, so the
    # simulated interrupt is raised through generic_handle_irq() instead.
    sed -e '/^EXPORT_SYMBOL/d' \
        -e 's/handle_simple_irq(irq_to_desc(\([a-z_]*\)));/generic_handle_irq(\1);/' \
        "$src/$tree/kernel/irq/irq_sim.c" >"$mod/irq_sim.c"
    if grep -q 'irq_to_desc\|^EXPORT_SYMBOL' "$mod/irq_sim.c" ||
       ! grep -q 'generic_handle_irq(' "$mod/irq_sim.c"; then
        die "irq_sim.c from linux-source-$series no longer matches the edits this script makes"
    fi
    printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n' >"$mod/Kbuild"

    if ! make -s -C "/usr/src/linux-headers-$KERNEL_ABI" M="$mod" modules >"$WORK/gpio-sim-build.log" 2>&1 ||
       grep -q 'undefined!' "$WORK/gpio-sim-build.log"; then
        cat "$WORK/gpio-sim-build.log" >&2
        die "building gpio-sim.ko against linux-headers-$KERNEL_ABI failed (log above)"
    fi
    cp "$mod/gpio-sim.ko" "$out"
}

# Stages busybox, the modules and their dependencies, and writes the base initramfs.
build_base_initramfs() {
    local image_root=$1 gpio_sim_ko=$2 out=$3
    local base=$WORK/base moddir=usr/lib/modules/$KERNEL_ABI
    mkdir -p "$base"/{usr/bin,usr/sbin,usr/lib,usr/lib64,dev,proc,sys,tmp,run,root,etc,mnt} "$base/$moddir"
    # Debian 12 has a merged /usr; the guest mirrors it so libraries copied from the host land
    # at their canonical paths and are found through the same symlinks.
    local top
    for top in bin sbin lib lib64; do
        ln -s "usr/$top" "$base/$top"
    done
    mknod -m 600 "$base/dev/console" c 5 1
    mknod -m 666 "$base/dev/null" c 1 3
    echo 'root:x:0:0:root:/root:/bin/sh' >"$base/etc/passwd"
    echo 'root:x:0:' >"$base/etc/group"

    cp /bin/busybox "$base/usr/bin/busybox"
    local applet
    for applet in $("$base/usr/bin/busybox" --list); do
        [[ $applet == busybox ]] || ln -s busybox "$base/usr/bin/$applet"
    done

    local module line path
    depmod -b "$image_root" "$KERNEL_ABI"
    for module in "${GUEST_MODULES[@]}"; do
        modprobe -d "$image_root" -S "$KERNEL_ABI" --show-depends "$module" >"$WORK/deps" 2>&1 ||
            die "module '$module' is not in linux-image-$KERNEL_ABI: $(cat "$WORK/deps")"
        while read -r line; do
            case $line in
                insmod\ *)
                    path=${line#insmod }
                    path=${path%% *}
                    mkdir -p "$base/$(dirname "${path#"$image_root"/}")"
                    cp "$path" "$base/${path#"$image_root"/}"
                    ;;
                builtin\ *) ;;
                *) die "unexpected modprobe output for $module: $line" ;;
            esac
        done <"$WORK/deps"
    done
    mkdir -p "$base/$moddir/extra"
    cp "$gpio_sim_ko" "$base/$moddir/extra/gpio-sim.ko"
    cp "$image_root/lib/modules/$KERNEL_ABI"/modules.{order,builtin,builtin.modinfo} "$base/$moddir/"
    depmod -b "$base" "$KERNEL_ABI"
    (cd "$base" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out"
}

build_kernel_cache() {
    local dir=$1 series=${KERNEL_ABI%%.0-*}
    rm -rf "$dir" "$dir.tmp"
    WORK=$dir.tmp/work
    mkdir -p "$WORK/debs"
    ensure_packages "linux-headers-$KERNEL_ABI"

    note "downloading linux-image-$KERNEL_ABI and linux-source-$series ($KERNEL_VERSION)"
    (cd "$WORK/debs" &&
        apt-get download -qq -o APT::Sandbox::User=root \
            "linux-image-$KERNEL_ABI=$KERNEL_VERSION" "linux-source-$series=$KERNEL_VERSION") ||
        die "apt-get download of linux-image-$KERNEL_ABI / linux-source-$series $KERNEL_VERSION failed"
    local image_deb source_deb
    image_deb=$(echo "$WORK/debs/linux-image-${KERNEL_ABI}_"*.deb)
    source_deb=$(echo "$WORK/debs/linux-source-${series}_"*.deb)

    # The source extraction is the slow part; it runs while the image is unpacked.
    note "building gpio-sim.ko"
    build_gpio_sim "$source_deb" "$series" "$dir.tmp/gpio-sim.ko" &
    local gpio_sim_pid=$!

    note "unpacking the kernel and its modules"
    local image_root=$WORK/image
    dpkg-deb -x "$image_deb" "$image_root"
    local vmlinuz=$image_root/boot/vmlinuz-$KERNEL_ABI kernel_image
    if extract_vmlinux "$vmlinuz" "$dir.tmp/vmlinux" && has_pvh_note "$dir.tmp/vmlinux"; then
        kernel_image=vmlinux
    else
        note "warning: no PVH-bootable vmlinux in $(basename "$vmlinuz"); booting the bzImage (slower)"
        rm -f "$dir.tmp/vmlinux"
        cp "$vmlinuz" "$dir.tmp/vmlinuz"
        kernel_image=vmlinuz
    fi
    cp "$image_root/boot/config-$KERNEL_ABI" "$dir.tmp/config"

    wait "$gpio_sim_pid" || die "gpio-sim build failed"
    note "building the base initramfs"
    build_base_initramfs "$image_root" "$dir.tmp/gpio-sim.ko" "$dir.tmp/base.cpio"

    cat >"$dir.tmp/kernel.env" <<EOF
KERNEL_ABI=$KERNEL_ABI
KERNEL_VERSION=$KERNEL_VERSION
KERNEL_IMAGE=$kernel_image
RECIPE=$(recipe_digest)
EOF
    rm -rf "$WORK"
    touch "$dir.tmp/ready"
    mv "$dir.tmp" "$dir"
}

main() {
    local started
    started=$(now)
    mkdir -p "$CACHE_ROOT"
    exec 9>"$CACHE_ROOT/.lock"
    flock 9

    ensure_packages "${HOST_PACKAGES[@]}"

    local rebuild=true
    if load_current_kernel && [[ ${RECIPE:-} == "$(recipe_digest)" ]]; then
        rebuild=false
    fi
    if $refresh || $rebuild; then
        if ! resolve_debian_kernel; then
            apt_update_once
            resolve_debian_kernel || die "apt cannot tell which kernel linux-image-amd64 depends on"
        fi
        local dir=$CACHE_ROOT/kernel-$KERNEL_VERSION
        if $rebuild || [[ $(readlink "$CACHE_ROOT/current" 2>/dev/null) != "kernel-$KERNEL_VERSION" ]]; then
            note "preparing Debian kernel $KERNEL_ABI ($KERNEL_VERSION) in $dir"
            build_kernel_cache "$dir"
            ln -sfn "kernel-$KERNEL_VERSION" "$CACHE_ROOT/current"
            # Keep only the kernel in use.
            find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -name 'kernel-*' ! -name "kernel-$KERNEL_VERSION" \
                -exec rm -rf {} +
        fi
        load_current_kernel || die "kernel cache in $CACHE_ROOT is incomplete after the build"
    fi

    build_helpers

    $quiet || note "ready: kernel $KERNEL_ABI ($KERNEL_VERSION, $KERNEL_IMAGE), cache $CACHE_ROOT ($(elapsed_since "$started") s)"
}

main
