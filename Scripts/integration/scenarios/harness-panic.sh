#!/bin/sh
# Harness self-test: crash the kernel on purpose; run-vm.sh must report the panic and exit with 125.
# vm-timeout: 60
echo "crashing the kernel"
echo c >/proc/sysrq-trigger
sleep 30
