#!/bin/sh
# Harness self-test: a scenario that never ends; run-vm.sh must stop the VM, say it timed out and
# exit with 124.
echo "sleeping forever"
while :; do sleep 1; done
