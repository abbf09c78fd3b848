#!/usr/bin/env bash
# Runs the integration tests: the real dogdoord release binary against the real vivid and gpio-sim
# drivers (case "daemon": ten sub-scenarios in one VM, see scenarios/daemon-real-drivers.sh), the
# smoke scenarios of the drivers themselves, and self-tests proving that run-vm.sh reports exit
# statuses, results, timeouts, module failures and kernel panics correctly. VM runs are sequential
# (the machine has two cores).
#
# Usage: test.sh [CASE...]     (default: all; e.g. test.sh daemon, test.sh smoke-vivid harness-timeout)
# The daemon case builds the release binaries (or takes them from $DOGDOOR_BIN_DIR) and trains a
# small model once per binary version (prepare-daemon.sh, cached).
# Ends with a table of times and the line "N passed, N failed"; exits non-zero if any case failed.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

RUN_VM=$INTEGRATION_DIR/run-vm.sh
SCENARIOS=$INTEGRATION_DIR/scenarios
ALL_CASES=(smoke-vivid smoke-gpio-sim smoke-vivid-loopback daemon
           harness-roundtrip harness-timeout harness-module-failure harness-panic)

work=$(mktemp -d "${TMPDIR:-/tmp}/dogdoor-vm-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

passed=0 failed=0 failures=()
# A case that runs several sub-scenarios lists them here as "NAME PASS|FAIL SECONDS"; they are
# counted instead of the case itself.
sub_results=()
timings=()

# run_case NAME EXPECTED_STATUS [EXTRA run-vm.sh ARGUMENTS...]: runs scenarios/NAME.sh, shows its
# output, and leaves it in $work/NAME.log. Returns 1 if the status differs.
run_case() {
    local name=$1 expected=$2 status=0 started
    shift 2
    echo "=== $name"
    started=$(now)
    "$RUN_VM" --scenario "$SCENARIOS/$name.sh" "$@" 2>&1 | tee "$work/$name.log" || status=${PIPESTATUS[0]}
    echo "=== $name: status $status (expected $expected), $(elapsed_since "$started") s"
    [[ $status == "$expected" ]]
}

expect_in_log() {
    local name=$1 pattern=$2
    grep -Eq "$pattern" "$work/$name.log" || { echo "=== $name: output lacks /$pattern/"; return 1; }
}

reject_in_log() {
    local name=$1 pattern=$2
    ! grep -Eq "$pattern" "$work/$name.log" || { echo "=== $name: output has /$pattern/"; return 1; }
}

# Two 640x480 YUYV frames: a solid colour and a pattern that differs on every row and column.
make_loopback_frames() {
    local dir=$1
    mkdir -p "$dir"
    perl -e 'print "\x60\x70\x60\xa0" x (640 * 480 / 2)' >"$dir/solid.yuyv"
    perl -e 'for my $y (0 .. 479) { for (my $x = 0; $x < 640; $x += 2) {
                 print pack("C4", ($x + 2 * $y) & 255, (3 * $y) & 255, ($x + 1 + 2 * $y) & 255, (5 * $x) & 255) } }' \
        >"$dir/pattern.yuyv"
}

case_smoke-vivid() {
    run_case smoke-vivid 0 --results "$work/smoke-vivid"
}

case_smoke-gpio-sim() {
    run_case smoke-gpio-sim 0
}

case_smoke-vivid-loopback() {
    make_loopback_frames "$work/frames"
    run_case smoke-vivid-loopback 0 --payload "$work/frames" --results "$work/loopback" || return 1
    # The first captured frame came back over the results port; it must be one of the fed frames.
    cmp -s "$work/loopback/loopback-first.yuyv" "$work/frames/solid.yuyv" ||
        cmp -s "$work/loopback/loopback-first.yuyv" "$work/frames/pattern.yuyv" ||
        { echo "=== returned frame matches neither fed frame"; return 1; }
}

case_harness-roundtrip() {
    mkdir -p "$work/roundtrip-payload"
    echo "hello from the host" >"$work/roundtrip-payload/greeting.txt"
    run_case harness-roundtrip 7 --payload "$work/roundtrip-payload" --results "$work/roundtrip" || return 1
    [[ $(cat "$work/roundtrip/nested/greeting-upper.txt" 2>/dev/null) == "HELLO FROM THE HOST" ]] ||
        { echo "=== results did not come back"; return 1; }
}

case_harness-timeout() {
    run_case harness-timeout 124 --timeout 20 && expect_in_log harness-timeout 'did not finish within 20 s'
}

case_harness-module-failure() {
    run_case harness-module-failure 125 &&
        expect_in_log harness-module-failure 'VM setup failed: modprobe vivid n_devs=many failed' &&
        reject_in_log harness-module-failure 'this scenario must not run'
}

case_harness-panic() {
    run_case harness-panic 125 && expect_in_log harness-panic 'kernel panic: .*Kernel panic'
}

# The real daemon against the real drivers: prepare the payload on the host (binaries, model, frames),
# run the five sub-scenarios in one VM, and count each of them.
DAEMON_SUBSCENARIOS=(locked-without-dog unlock-for-bo camera-unplugged sigstop-unlocked reload-unlocked stop-hangs kill-9-unlocked oom-kill-unlocked owner-restart wrong-gpio-config)
case_daemon() {
    local started status=0 name line verdict seconds
    started=$(now)
    echo "=== daemon: preparing binaries, model and frames"
    if ! "$INTEGRATION_DIR/prepare-daemon.sh" --payload "$work/daemon-payload"; then
        echo "=== daemon: preparation failed"
        for name in "${DAEMON_SUBSCENARIOS[@]}"; do sub_results+=("daemon/$name FAIL -"); done
        return 1
    fi
    timings+=("daemon-prepare $(elapsed_since "$started")")
    run_case daemon-real-drivers 0 --payload "$work/daemon-payload" --results "$work/daemon" || status=1
    for name in "${DAEMON_SUBSCENARIOS[@]}"; do
        line=$(grep -E "^RESULT $name (PASS|FAIL) " "$work/daemon-real-drivers.log" | tail -n 1 || true)
        verdict=FAIL seconds=-
        if [[ -n $line ]]; then
            read -r _ _ verdict seconds _ <<<"$line"
        else
            echo "=== daemon/$name: no result (the VM run ended before it)"
        fi
        sub_results+=("daemon/$name $verdict $seconds")
        [[ $verdict == PASS ]] || status=1
    done
    sed -n 's/^GUEST_RATE /=== daemon: in the guest: /p' "$work/daemon-real-drivers.log" | tail -n 1
    # The time from each fault to the line reading locked, as the guest measured it.
    sed -n 's/^FAULT_LOCK \([^ ]*\) \([0-9.]*\)$/=== daemon: fault \1: line locked after \2 s/p' "$work/daemon-real-drivers.log" | sort -u
    return "$status"
}

main() {
    local cases=("$@") name started
    ((${#cases[@]})) || cases=("${ALL_CASES[@]}")
    for name in "${cases[@]}"; do
        declare -F "case_$name" >/dev/null || DIE_STATUS=2 die "unknown case '$name' (cases: ${ALL_CASES[*]})"
    done

    # Prepare the cache up front so its one-time cost is not charged to the first case.
    started=$(now)
    "$INTEGRATION_DIR/setup.sh"
    echo "=== setup: $(elapsed_since "$started") s"

    local total_started case_started ok entry sub verdict seconds
    total_started=$(now)
    for name in "${cases[@]}"; do
        sub_results=()
        case_started=$(now)
        ok=true
        "case_$name" || ok=false
        timings+=("$name $(elapsed_since "$case_started")")
        if ((${#sub_results[@]})); then
            for entry in "${sub_results[@]}"; do
                read -r sub verdict seconds <<<"$entry"
                timings+=("  $sub $seconds")
                if [[ $verdict == PASS ]]; then
                    passed=$((passed + 1))
                else
                    failed=$((failed + 1))
                    failures+=("$sub")
                fi
            done
            # A case failing for a reason of its own (its VM, its preparation) fails too.
            if ! $ok && [[ " ${failures[*]} " != *" $name/"* ]]; then
                failed=$((failed + 1))
                failures+=("$name")
            fi
        elif $ok; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            failures+=("$name")
        fi
    done
    echo
    echo "times (s):"
    for entry in "${timings[@]}"; do printf '  %s\n' "$entry"; done
    echo "  total $(elapsed_since "$total_started")"
    ((failed == 0)) || echo "failed: ${failures[*]}"
    echo "$passed passed, $failed failed"
    ((failed == 0))
}

main "$@"
