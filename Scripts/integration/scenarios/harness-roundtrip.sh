#!/bin/sh
# Harness self-test: payload files arrive at /payload, files in /results reach the host, and the
# scenario's exit status (7 here) becomes run-vm.sh's. test.sh checks all three.
# vm-timeout: 60
. /vm/lib.sh
[ -f /payload/greeting.txt ] || vm_fail "/payload/greeting.txt is missing"
mkdir -p /results/nested
tr 'a-z' 'A-Z' </payload/greeting.txt >/results/nested/greeting-upper.txt
exit 7
