#!/usr/bin/env bash
# Installs DogDoor on this machine: the five programs, the three systemd units (dogdoor-latch, which alone
# holds the latch's GPIO line, dogdoord, and the web app dogdoor-web), the example configurations, a udev rule
# giving the latch owner's group the configured GPIO chip and nothing else, the VGG16 weights for retraining,
# generated replay samples, and the dedicated system users.
#
#   sudo Scripts/install.sh [--prefix /usr/local] [--destdir DIR] [--no-build] [--enable]
#
#   --prefix DIR   where programs and shared files go (default /usr/local)
#   --destdir DIR  stage everything under DIR instead of / (for packaging and tests); no users, no systemctl
#   --no-build     install the release binaries already in .build/release
#   --enable       also `systemctl enable --now dogdoor-latch dogdoord dogdoor-web` (needs a model at
#                  /etc/dogdoor/model.safetensors)
#
# An existing /etc/dogdoor/dogdoord.toml or web.toml is never overwritten (the new example goes next to it as
# .toml.example). Run Scripts/setup.sh first (it installs the build dependencies and imports the
# weights). Afterwards: train a model with dogdoor-train, install it root-owned as
# /etc/dogdoor/model.safetensors, then `systemctl enable --now dogdoor-latch dogdoord dogdoor-web`, and add a
# web login with `sudo dogdoor web passwd NAME`.
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
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

step() { printf '==> %s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

if [[ -z "$DESTDIR" && $EUID -ne 0 ]]; then fail "run as root (or use --destdir to stage the files)"; fi

BIN="$ROOT/.build/release"
if ((BUILD)); then
    step "building release binaries (static Swift runtime)"
    (cd "$ROOT" && for product in dogdoord dogdoor dogdoor-train dogdoor-latch dogdoor-web dogdoor-samples; do
        swift build -c release --static-swift-stdlib --product "$product" >/dev/null || exit 1
    done)
fi
# dogdoor-samples is needed here (it draws the replay camera's sample frames) but not installed.
for program in dogdoord dogdoor dogdoor-train dogdoor-latch dogdoor-web dogdoor-samples; do
    [[ -x "$BIN/$program" ]] || fail "$BIN/$program is missing: build first or drop --no-build"
done

step "installing programs into $DESTDIR$PREFIX/bin"
install -d "$DESTDIR$PREFIX/bin" "$DESTDIR$PREFIX/share/dogdoor" "$DESTDIR$PREFIX/share/doc/dogdoor"
for program in dogdoord dogdoor dogdoor-train dogdoor-latch dogdoor-web; do
    install -m 0755 "$BIN/$program" "$DESTDIR$PREFIX/bin/$program"
done
install -m 0644 "$ROOT/README.md" "$DESTDIR$PREFIX/share/doc/dogdoor/README.md"
cp -r "$ROOT/docs/." "$DESTDIR$PREFIX/share/doc/dogdoor/"

step "installing the systemd units"
install -d "$DESTDIR/etc/systemd/system"
for unit in dogdoor-latch.service dogdoord.service dogdoor-web.service; do
    sed "s|/usr/local/bin/|$PREFIX/bin/|g; s|/usr/local/share/doc|$PREFIX/share/doc|" \
        "$ROOT/systemd/$unit" > "$DESTDIR/etc/systemd/system/$unit"
    chmod 0644 "$DESTDIR/etc/systemd/system/$unit"
done

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

web_config="$DESTDIR/etc/dogdoor/web.toml"
if [[ -e "$web_config" ]]; then
    install -m 0644 "$ROOT/etc/dogdoor/web.toml" "$web_config.example"
    echo "    kept the existing $web_config (new example: $web_config.example)"
else
    install -m 0644 "$ROOT/etc/dogdoor/web.toml" "$web_config"
fi
# The web app's users (bcrypt hashes): written by `dogdoor web passwd NAME` as root, read by the service.
[[ -e "$DESTDIR/etc/dogdoor/web-users" ]] || install -m 0640 /dev/null "$DESTDIR/etc/dogdoor/web-users"

step "installing the udev rule for GPIO access (the configured chip only)"
install -d "$DESTDIR/etc/udev/rules.d"
# The chip [latch] names, as the kernel calls it. Without GPIO hardware (or with the simulated latch) there is
# no chip to name: the rule then matches nothing, and install.sh says so.
chip="$("$BIN/dogdoor-latch" --config "$config" --chip-device 2>/dev/null || true)"
if [[ -n "$chip" ]]; then
    chip_match="KERNEL==\"$chip\""
else
    chip_match="KERNEL==\"dogdoor-no-chip-configured\""
    echo "    no GPIO chip found for [latch] chip in $config: the rule matches nothing; rerun install.sh after configuring it"
fi
cat > "$DESTDIR/etc/udev/rules.d/60-dogdoor-gpio.rules" <<RULE
# DogDoor: the latch owner (dogdoor-latch, group dogdoor-gpio) may use the one GPIO chip that drives the latch.
# Written by Scripts/install.sh for [latch] chip in /etc/dogdoor/dogdoord.toml; rerun it after changing that.
SUBSYSTEM=="gpio", $chip_match, GROUP="dogdoor-gpio", MODE="0660"
RULE

step "installing weights and sample frames"
install -d -m 0750 "$DESTDIR/var/lib/dogdoor"
weights="$ROOT/var/weights/vgg16-notop.safetensors"
if [[ -f "$weights" ]]; then
    install -m 0644 "$weights" "$DESTDIR/var/lib/dogdoor/vgg16-notop.safetensors"
else
    echo "    no imported weights at $weights (run Scripts/setup.sh); dogdoor-train will need --weights"
fi
# Regenerated on every install (the folder is the installer's own; samples go into an empty folder only).
rm -rf "$DESTDIR$PREFIX/share/dogdoor/samples"
"$BIN/dogdoor-samples" replay --output "$DESTDIR$PREFIX/share/dogdoor/samples" >/dev/null

if [[ -n "$DESTDIR" ]]; then
    step "staged under $DESTDIR (no user created, systemd not touched)"
    exit 0
fi

step "creating the system users: dogdoor (the daemon), dogdoor-latch (the latch owner), dogdoor-web (the web app)"
for group in dogdoor dogdoor-latch dogdoor-gpio dogdoor-web; do
    if ! getent group "$group" >/dev/null; then groupadd --system "$group"; fi
done
if ! id dogdoor-latch >/dev/null 2>&1; then
    useradd --system --gid dogdoor-latch --groups dogdoor-gpio --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin --comment "DogDoor latch owner" dogdoor-latch
fi
if ! id dogdoor >/dev/null 2>&1; then
    useradd --system --gid dogdoor --groups video,dogdoor-latch --home-dir /var/lib/dogdoor --no-create-home \
        --shell /usr/sbin/nologin --comment "DogDoor daemon" dogdoor
fi
if ! id dogdoor-web >/dev/null 2>&1; then
    useradd --system --gid dogdoor-web --groups dogdoor --home-dir /var/lib/dogdoor-web --no-create-home \
        --shell /usr/sbin/nologin --comment "DogDoor web app" dogdoor-web
fi
usermod --append --groups video,dogdoor-latch dogdoor
chown root:dogdoor-web /etc/dogdoor/web-users
chown -R dogdoor:dogdoor /var/lib/dogdoor
if [[ -f /etc/dogdoor/model.safetensors ]]; then
    # Whoever can replace the model decides which animals come in: root owns it, the daemon only reads it.
    chown root:dogdoor /etc/dogdoor/model.safetensors
    chmod 0640 /etc/dogdoor/model.safetensors
fi
if command -v udevadm >/dev/null && [[ -d /run/udev ]]; then
    udevadm control --reload && udevadm trigger --subsystem-match=gpio || true
fi
if [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    if ((ENABLE)); then systemctl enable --now dogdoor-latch dogdoord dogdoor-web; fi
fi
step "installed. Next: train a model, install it with: sudo install -o root -g dogdoor -m 0640 model.safetensors /etc/dogdoor/; then: systemctl enable --now dogdoor-latch dogdoord dogdoor-web; add a web login with: sudo dogdoor web passwd NAME"
