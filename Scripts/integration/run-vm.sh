#!/usr/bin/env bash
# Runs one scenario script inside Debian 12's own kernel under QEMU (TCG), with real vivid and
# gpio-sim drivers, and returns the scenario's exit status.
#
# Usage: run-vm.sh --scenario FILE [options]
#   --scenario FILE     shell script (busybox sh) to run as the VM's test; see its directives below
#   --payload DIR       copy DIR's contents to /payload in the guest; ELF files in it get the
#                       libraries ldd lists, copied at the same absolute paths (repeatable)
#   --host-file PATH    copy a host file or directory at the same absolute path, with the libraries
#                       of any ELF file in it; use it for dlopen'ed plugins (repeatable)
#   --results DIR       extract what the scenario left in /results into DIR
#   --timeout S         stop the VM after S seconds (default: vm-timeout directive, else 120)
#   --memory MB         guest memory (default: vm-memory directive, else 1024)
#   --kernel-log FILE   keep the kernel's console log in FILE
#   --keep              keep the run's work directory and print its path
#   -h, --help          show this help
#
# Directives, in the scenario's leading comment block ("# vm-NAME: VALUE"):
#   vm-vivid: PARAMS              modprobe vivid with PARAMS (e.g. n_devs=1 node_types=0x1)
#   vm-gpio-sim: LINES [K=NAME]   one gpio-sim chip, one bank of LINES lines, line K named NAME
#   vm-host-files: PATH...        as --host-file
#   vm-timeout: S                 default timeout
#   vm-memory: MB                 default guest memory
#
# Exit status: the scenario's own; 124 if the VM timed out; 125 if the VM failed (kernel panic,
# setup failure such as a module that would not load, no status reported); 2 for usage errors.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

usage_error() {
    DIE_STATUS=2 die "$* (see --help)"
}

vm_error() {
    DIE_STATUS=125 die "$@"
}

scenario='' results_dir='' timeout='' memory='' kernel_log='' keep=false
payloads=() host_files=()
while (($#)); do
    case $1 in
        --scenario|--payload|--host-file|--results|--timeout|--memory|--kernel-log)
            (($# >= 2)) || usage_error "$1 needs a value"
            case $1 in
                --scenario) scenario=$2 ;;
                --payload) payloads+=("$2") ;;
                --host-file) host_files+=("$2") ;;
                --results) results_dir=$2 ;;
                --timeout) timeout=$2 ;;
                --memory) memory=$2 ;;
                --kernel-log) kernel_log=$2 ;;
            esac
            shift 2
            continue
            ;;
        --keep) keep=true ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
    shift
done
[[ -n $scenario ]] || usage_error "--scenario is required"
[[ -f $scenario ]] || usage_error "scenario '$scenario' does not exist"
for dir in "${payloads[@]}"; do
    [[ -d $dir ]] || usage_error "payload '$dir' is not a directory"
done

# --- scenario directives -------------------------------------------------------------------------

vivid_params='' vivid=false gpio_sim='' directive_timeout='' directive_memory=''
while IFS= read -r line; do
    [[ $line == '#!'* || -z $line ]] && continue
    [[ $line == '#'* ]] || break
    [[ $line =~ ^#\ vm-([a-z-]+):\ *(.*)$ ]] || continue
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]%"${BASH_REMATCH[2]##*[![:space:]]}"}
    case $key in
        vivid)
            [[ $value =~ ^[A-Za-z0-9_=,\ -]*$ ]] || usage_error "$scenario: bad vm-vivid parameters '$value'"
            vivid=true vivid_params=$value ;;
        gpio-sim)
            [[ $value =~ ^[0-9]+(\ +[0-9]+=[A-Za-z0-9_.-]+)*$ ]] ||
                usage_error "$scenario: vm-gpio-sim wants 'LINES [OFFSET=NAME ...]', got '$value'"
            gpio_sim=$value ;;
        host-files) read -r -a more <<<"$value"; host_files+=("${more[@]}") ;;
        timeout) directive_timeout=$value ;;
        memory) directive_memory=$value ;;
        *) usage_error "$scenario: unknown directive 'vm-$key'" ;;
    esac
done <"$scenario"
timeout=${timeout:-${directive_timeout:-120}}
memory=${memory:-${directive_memory:-1024}}
[[ $timeout =~ ^[0-9]+$ && $timeout -gt 0 ]] || usage_error "timeout must be a positive number of seconds"
[[ $memory =~ ^[0-9]+$ && $memory -ge 128 ]] || usage_error "memory must be at least 128 (MB)"

# --- cache ---------------------------------------------------------------------------------------

# Cheap when the cache is complete; on a fresh machine this is where the first minute goes.
"$INTEGRATION_DIR/setup.sh" --quiet || vm_error "setup.sh failed"
load_current_kernel || vm_error "no kernel cache after setup.sh"

run=$(mktemp -d "${TMPDIR:-/tmp}/dogdoor-vm.XXXXXX")
qemu_pid='' tail_pid=''
cleanup() {
    [[ -z $qemu_pid ]] || kill "$qemu_pid" 2>/dev/null || true
    [[ -z $tail_pid ]] || kill "$tail_pid" 2>/dev/null || true
    if $keep; then
        note "work directory kept: $run"
    else
        rm -rf "$run"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- initramfs -----------------------------------------------------------------------------------

stage=$run/stage
declare -A copied=()

# Copies a host file, or a directory recursively, into the stage at its canonical directory,
# keeping symlinks as symlinks and following them to their targets.
copy_host_file() {
    local path=$1 dir dest target entry
    [[ -e $path || -L $path ]] || vm_error "host file '$path' does not exist"
    dir=$(cd "$(dirname "$path")" && pwd -P)
    dest=$dir/$(basename "$path")
    [[ -z ${copied[$dest]:-} ]] || return 0
    copied[$dest]=1
    mkdir -p "$stage$dir"
    if [[ -L $path ]]; then
        target=$(readlink "$path")
        ln -sfn "$target" "$stage$dest"
        [[ $target == /* ]] || target=$dir/$target
        copy_host_file "$target"
    elif [[ -d $path ]]; then
        mkdir -p "$stage$dest"
        while IFS= read -r -d '' entry; do
            copy_host_file "$entry"
        done < <(find "$path" -mindepth 1 -maxdepth 1 -print0)
    else
        cp -p "$path" "$stage$dest"
        add_libraries "$path"
    fi
}

# Copies the shared libraries (and the program interpreter) that ldd lists for an ELF file.
add_libraries() {
    local file=$1 output line lib
    [[ $(od -An -tx1 -N4 "$file" 2>/dev/null | tr -d ' \n') == 7f454c46 ]] || return 0
    if ! output=$(ldd "$file" 2>&1); then
        [[ $output == *'not a dynamic executable'* || $output == *'statically linked'* ]] && return 0
        vm_error "ldd $file failed: $output"
    fi
    while IFS= read -r line; do
        [[ $line != *'=> not found'* ]] || vm_error "$file needs a library the host lacks: ${line#"${line%%[![:space:]]*}"}"
        if [[ $line =~ =\>\ (/[^ ]+) ]]; then
            lib=${BASH_REMATCH[1]}
        elif [[ $line =~ ^[[:space:]]*(/[^ ]+) ]]; then
            lib=${BASH_REMATCH[1]}
        else
            continue
        fi
        copy_host_file "$lib"
    done <<<"$output"
}

shell_quote() {
    printf "'%s'" "${1//\'/\'\\\'\'}"
}

build_started=$(now)
mkdir -p "$stage/vm" "$stage/usr/local/bin" "$stage/payload"
install -m 755 "$INTEGRATION_DIR/guest/init" "$stage/init"
install -m 644 "$INTEGRATION_DIR/guest/lib.sh" "$stage/vm/lib.sh"
install -m 755 "$scenario" "$stage/vm/scenario.sh"
{
    echo "VM_SCENARIO_NAME=$(shell_quote "$(basename "$scenario")")"
    if $vivid; then echo "VM_VIVID=$(shell_quote "$vivid_params")"; fi
    if [[ -n $gpio_sim ]]; then echo "VM_GPIO_SIM=$(shell_quote "$gpio_sim")"; fi
} >"$stage/vm/config"
find "$HELPERS_DIR" -maxdepth 1 -type f -perm -u+x -exec cp -p {} "$stage/usr/local/bin/" \;

for dir in "${payloads[@]}"; do
    cp -a "$dir/." "$stage/payload/"
    while IFS= read -r -d '' file; do
        add_libraries "$file"
    done < <(find "$dir" -type f -print0)
done
for path in "${host_files[@]}"; do
    copy_host_file "$path"
done

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$run/payload.cpio"
# The kernel unpacks concatenated archives in order; the payload's files win over the base's.
cat "$KERNEL_DIR/base.cpio" "$run/payload.cpio" >"$run/initramfs.cpio"
initramfs_mb=$(du -m "$run/initramfs.cpio" | cut -f1)
build_seconds=$(elapsed_since "$build_started")

# --- boot ----------------------------------------------------------------------------------------

: >"$run/output.log"
vm_started=$(now)
timeout --kill-after=10 "$timeout" \
    qemu-system-x86_64 \
        -accel tcg -cpu Nehalem,+rdrand -smp 1 -m "$memory" \
        -nodefaults -no-user-config -display none -no-reboot \
        -kernel "$KERNEL_DIR/$KERNEL_IMAGE" -initrd "$run/initramfs.cpio" \
        -append "console=ttyS0 quiet panic=-1 oops=panic" \
        -serial "file:$run/kernel.log" \
        -device virtio-serial-pci,id=vs \
        -chardev "file,id=out,path=$run/output.log" \
        -device virtserialport,bus=vs.0,nr=1,chardev=out,name=dogdoor.output \
        -chardev "file,id=status,path=$run/status" \
        -device virtserialport,bus=vs.0,nr=2,chardev=status,name=dogdoor.status \
        -chardev "file,id=results,path=$run/results.tar" \
        -device virtserialport,bus=vs.0,nr=3,chardev=results,name=dogdoor.results \
        </dev/null >"$run/qemu.log" 2>&1 &
qemu_pid=$!
tail -n +1 -s 0.2 -f --pid="$qemu_pid" "$run/output.log" &
tail_pid=$!
qemu_status=0
wait "$qemu_pid" || qemu_status=$?
qemu_pid=''
wait "$tail_pid" || true
tail_pid=''
vm_seconds=$(elapsed_since "$vm_started")
[[ -z $kernel_log ]] || cp "$run/kernel.log" "$kernel_log"

# --- verdict -------------------------------------------------------------------------------------

show_kernel_log() {
    note "last lines of the kernel log:"
    tail -n "${1:-40}" "$run/kernel.log" | sed 's/^/    /' >&2
}

if ((qemu_status == 124 || qemu_status == 137)); then
    [[ -s $run/output.log ]] || show_kernel_log 20
    DIE_STATUS=124 die "$(basename "$scenario"): the VM did not finish within $timeout s (raise --timeout or vm-timeout)"
fi
if ((qemu_status != 0)); then
    sed 's/^/    /' "$run/qemu.log" >&2
    vm_error "qemu-system-x86_64 failed with status $qemu_status"
fi
if grep -q 'Kernel panic' "$run/kernel.log"; then
    show_kernel_log 40
    vm_error "$(basename "$scenario"): kernel panic: $(grep -m 1 'Kernel panic' "$run/kernel.log" | tr -d '\r')"
fi
if grep -q '^setup-failed' "$run/status" 2>/dev/null; then
    vm_error "$(basename "$scenario"): VM setup failed: $(sed -n 's/^setup-failed //p' "$run/status" | head -n 1)"
fi
status_line=$(grep '^status ' "$run/status" 2>/dev/null || true)
if [[ -z $status_line ]]; then
    show_kernel_log 40
    vm_error "$(basename "$scenario"): the VM stopped without reporting a status"
fi
scenario_status=${status_line#status }

if [[ -n $results_dir ]]; then
    grep -qx 'results 0' "$run/status" || vm_error "the guest could not archive /results"
    mkdir -p "$results_dir"
    tar -xf "$run/results.tar" -C "$results_dir" || vm_error "the results archive from the guest is damaged"
fi

boot_to_init=$(sed -n 's/^\[vm\] .*init started \([0-9.]*\) s after boot$/\1/p' "$run/output.log")
note "$(basename "$scenario"): status $scenario_status; initramfs ${initramfs_mb} MB built in ${build_seconds} s;" \
     "VM ${vm_seconds} s (kernel to init ${boot_to_init:-?} s)"
exit "$scenario_status"
