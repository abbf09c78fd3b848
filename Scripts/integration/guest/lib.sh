# Helpers for scenario scripts; source with `. /vm/lib.sh`. busybox sh.
#
# The VM gives a scenario:
#   /payload          the --payload directory
#   /results          files left here reach the host's --results directory (as a tar)
#   /usr/local/bin    the harness's static helpers (vivid-feed, control-query)
#   VM_GPIO_CHIP      /dev/gpiochipN of the simulated chip (with a vm-gpio-sim directive)
#   VM_GPIO_SYSFS     directory holding sim_gpioK/{value,pull} for that chip

# Stops the scenario with a readable reason.
vm_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

vm_pass() {
    echo "PASS: $*"
}

# Seconds since boot, with hundredths.
vm_uptime() {
    cut -d' ' -f1 /proc/uptime
}

# Waits up to SECONDS (default 10) for PATH to exist.
vm_wait_for() {
    path=$1
    limit=$(( ${2:-10} * 20 ))
    waited=0
    while [ ! -e "$path" ]; do
        waited=$((waited + 1))
        [ "$waited" -le "$limit" ] || return 1
        sleep 0.05
    done
}

# Level (0 or 1) of gpio-sim line OFFSET as the chip sees it: what an output drives, or the pull
# of a line nobody drives.
vm_gpio_level() {
    cat "$VM_GPIO_SYSFS/sim_gpio$1/value"
}

# Waits up to SECONDS (default 5) for gpio-sim line OFFSET to read LEVEL.
vm_wait_gpio_level() {
    offset=$1
    want=$2
    limit=$(( ${3:-5} * 20 ))
    waited=0
    while [ "$(vm_gpio_level "$offset")" != "$want" ]; do
        waited=$((waited + 1))
        [ "$waited" -le "$limit" ] || return 1
        sleep 0.05
    done
}
