#!/bin/sh
# Smoke test: gpio-sim with Debian's gpiod tools (libgpiod 1.6). A line driven as an output reads
# back through sysfs; when its holder is killed with SIGKILL the kernel releases the line and it
# returns to its pull level; inputs follow the simulated pull.
# vm-gpio-sim: 8 0=door-latch 1=door-sensor
# vm-host-files: /usr/bin/gpiodetect /usr/bin/gpioinfo /usr/bin/gpiofind /usr/bin/gpioset /usr/bin/gpioget
# vm-timeout: 90
. /vm/lib.sh
set -u

chip=$(basename "$VM_GPIO_CHIP")
gpiodetect
gpiodetect | grep -q "^$chip .*(8 lines)" || vm_fail "$chip with 8 lines not found"
[ "$(gpiofind door-latch)" = "$chip 0" ] || vm_fail "gpiofind door-latch: '$(gpiofind door-latch)'"
vm_pass "line 'door-latch' is $chip 0"

# Drives line 0 to LEVEL from a gpioset process, checks sysfs, kills the holder with SIGKILL and
# checks that the line falls back to PULL_LEVEL.
drive_and_kill() {
    level=$1
    pull_level=$2
    gpioset --mode=signal "$chip" 0="$level" &
    holder=$!
    vm_wait_gpio_level 0 "$level" || vm_fail "driving $level: sysfs reads $(vm_gpio_level 0)"
    gpioinfo "$chip" | grep -q 'line *0: *"door-latch" *"gpioset" *output' ||
        vm_fail "gpioinfo does not show door-latch held by gpioset: $(gpioinfo "$chip" | grep 'line *0:')"
    kill -9 "$holder"
    wait "$holder" 2>/dev/null
    vm_wait_gpio_level 0 "$pull_level" ||
        vm_fail "after SIGKILL the line reads $(vm_gpio_level 0), not its pull level $pull_level"
    gpioinfo "$chip" | grep -q 'line *0: *"door-latch" *unused' || vm_fail "line still held after SIGKILL"
}

[ "$(cat "$VM_GPIO_SYSFS/sim_gpio0/pull")" = pull-down ] || vm_fail "line 0 does not start pulled down"
[ "$(vm_gpio_level 0)" = 0 ] || vm_fail "idle line 0 reads $(vm_gpio_level 0)"
drive_and_kill 1 0
vm_pass "pull-down: driven high reads 1, SIGKILL of the holder returns it to 0"

echo pull-up >"$VM_GPIO_SYSFS/sim_gpio0/pull"
vm_wait_gpio_level 0 1 || vm_fail "pull-up not visible on the idle line"
drive_and_kill 0 1
vm_pass "pull-up: driven low reads 0, SIGKILL of the holder returns it to 1"

for pull in pull-up pull-down; do
    echo "$pull" >"$VM_GPIO_SYSFS/sim_gpio1/pull"
    want=0
    [ "$pull" = pull-up ] && want=1
    got=$(gpioget "$chip" 1)
    [ "$got" = "$want" ] || vm_fail "input door-sensor with $pull reads $got"
done
vm_pass "input line follows the simulated pull"
