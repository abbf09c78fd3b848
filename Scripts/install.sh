#!/usr/bin/env bash
# Installs DogDoor on this machine: the three programs, the systemd unit, the example configuration, a udev
# rule giving the dogdoor group the GPIO chips, the VGG16 weights for retraining, generated replay samples,
# and the dedicated system user.
#
#   sudo Scripts/install.sh [--prefix /usr/local] [--destdir DIR] [--no-build] [--enable]
#
#   --prefix DIR   where programs and shared files go (default /usr/local)
#   --destdir DIR  stage everything under DIR instead of / (for packaging and tests); no users, no systemctl
#   --no-build     install the release binaries already in .build/release
#   --enable       also `systemctl enable --now dogdoord` (needs a model at /var/lib/dogdoor/model.safetensors)
#
# An existing /etc/dogdoor/dogdoord.toml is never overwritten (the new example goes next to it as
# dogdoord.toml.example). Run Scripts/setup.sh first (it installs the build dependencies and imports the
# weights). Afterwards: train a model with dogdoor-train, copy it to /var/lib/dogdoor/model.safetensors,
# then `systemctl enable --now dogdoord`.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/usr/local
DESTDIR=""
BUILD=1
ENABLE=0
while (($#)); do
    case "$1" in
        --prefix) PREFIX="$2"; shift 2 ;;
        --destdir) DESTDIR="$(realpath -m "$2")"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --enable) ENABLE=1; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

step() { printf '==> %s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

if [[ -z "$DESTDIR" && $EUID -ne 0 ]]; then fail "run as root (or use --destdir to stage the files)"; fi

BIN="$ROOT/.build/release"
if ((BUILD)); then
    step "building release binaries (static Swift runtime)"
    (cd "$ROOT" && swift build -c release --static-swift-stdlib --product dogdoord >/dev/null \
        && swift build -c release --static-swift-stdlib --product dogdoor >/dev/null \
        && swift build -c release --static-swift-stdlib --product dogdoor-train >/dev/null)
fi
for program in dogdoord dogdoor dogdoor-train; do
    [[ -x "$BIN/$program" ]] || fail "$BIN/$program is missing: build first or drop --no-build"
done

step "installing programs into $DESTDIR$PREFIX/bin"
install -d "$DESTDIR$PREFIX/bin" "$DESTDIR$PREFIX/share/dogdoor" "$DESTDIR$PREFIX/share/doc/dogdoor"
for program in dogdoord dogdoor dogdoor-train; do
    install -m 0755 "$BIN/$program" "$DESTDIR$PREFIX/bin/$program"
done
install -m 0644 "$ROOT/README.md" "$DESTDIR$PREFIX/share/doc/dogdoor/README.md"
cp -r "$ROOT/docs/." "$DESTDIR$PREFIX/share/doc/dogdoor/"

step "installing the systemd unit"
install -d "$DESTDIR/etc/systemd/system"
sed "s|/usr/local/bin/dogdoord|$PREFIX/bin/dogdoord|; s|/usr/local/share/doc|$PREFIX/share/doc|" \
    "$ROOT/systemd/dogdoord.service" > "$DESTDIR/etc/systemd/system/dogdoord.service"
chmod 0644 "$DESTDIR/etc/systemd/system/dogdoord.service"

step "installing the configuration"
install -d -m 0755 "$DESTDIR/etc/dogdoor"
config="$DESTDIR/etc/dogdoor/dogdoord.toml"
example="$ROOT/etc/dogdoor/dogdoord.toml"
if [[ -e "$config" ]]; then
    install -m 0644 "$example" "$config.example"
    echo "    kept the existing $config (new example: $config.example)"
else
    sed "s|/usr/local/share/dogdoor|$PREFIX/share/dogdoor|" "$example" > "$config"
    chmod 0644 "$config"
fi

step "installing the udev rule for GPIO access"
install -d "$DESTDIR/etc/udev/rules.d"
cat > "$DESTDIR/etc/udev/rules.d/60-dogdoor-gpio.rules" <<'RULE'
# DogDoor: the dogdoor group (the daemon's) may use the GPIO character devices that drive the latch.
SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="dogdoor", MODE="0660"
RULE

step "installing weights and sample frames"
install -d -m 0750 "$DESTDIR/var/lib/dogdoor"
weights="$ROOT/var/weights/vgg16-notop.safetensors"
if [[ -f "$weights" ]]; then
    install -m 0644 "$weights" "$DESTDIR/var/lib/dogdoor/vgg16-notop.safetensors"
else
    echo "    no imported weights at $weights (run Scripts/setup.sh); dogdoor-train will need --weights"
fi
"$BIN/dogdoor" samples replay --output "$DESTDIR$PREFIX/share/dogdoor/samples" >/dev/null

if [[ -n "$DESTDIR" ]]; then
    step "staged under $DESTDIR (no user created, systemd not touched)"
    exit 0
fi

step "creating the dogdoor system user"
if ! getent group dogdoor >/dev/null; then groupadd --system dogdoor; fi
if ! id dogdoor >/dev/null 2>&1; then
    useradd --system --gid dogdoor --groups video --home-dir /var/lib/dogdoor --no-create-home \
        --shell /usr/sbin/nologin --comment "DogDoor daemon" dogdoor
fi
chown -R dogdoor:dogdoor /var/lib/dogdoor
if command -v udevadm >/dev/null && [[ -d /run/udev ]]; then
    udevadm control --reload && udevadm trigger --subsystem-match=gpio || true
fi
if [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    if ((ENABLE)); then systemctl enable --now dogdoord; fi
fi
step "installed. Next: train a model (dogdoor-train ... --output /var/lib/dogdoor/model.safetensors), then: systemctl enable --now dogdoord"
