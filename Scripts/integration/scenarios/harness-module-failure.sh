#!/bin/sh
# Harness self-test: vivid refuses n_devs=many, so the VM's setup fails before the scenario runs;
# run-vm.sh must name the module and exit with 125.
# vm-vivid: n_devs=many
# vm-timeout: 60
echo "this scenario must not run"
exit 0
