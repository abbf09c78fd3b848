#!/bin/sh
# Smoke test: vivid as a webcam. /dev/video0 exists, reports its formats, and delivers frames
# through Debian's v4l2-ctl (copied in with its libraries; libv4l2's plugins are dlopen'ed, so
# they are passed explicitly and the test checks that one was actually loaded).
# vm-vivid: n_devs=1 node_types=0x1
# vm-host-files: /usr/bin/v4l2-ctl /usr/lib/x86_64-linux-gnu/libv4l/plugins
# vm-timeout: 120
. /vm/lib.sh
set -u

FRAMES=40
WIDTH=640
HEIGHT=480
FRAME_BYTES=$((WIDTH * HEIGHT * 2))

[ -c /dev/video0 ] || vm_fail "/dev/video0 is missing"
v4l2-ctl -d /dev/video0 --info | grep -q 'Driver name *: vivid' || vm_fail "/dev/video0 is not vivid"
vm_pass "/dev/video0 is a vivid capture device"

v4l2-ctl -d /dev/video0 --list-formats-ext >/results/vivid-formats.txt || vm_fail "cannot list formats"
grep -q "'YUYV'" /results/vivid-formats.txt || vm_fail "YUYV is not among the formats"
echo "formats: $(v4l2-ctl -d /dev/video0 --list-formats | sed -n "s/.*'\(.*\)'.*/\1/p" | tr '\n' ' ')"
echo "YUYV sizes: $(v4l2-ctl -d /dev/video0 --list-framesizes=YUYV | sed -n 's/.*Discrete //p' | tr '\n' ' ')"
echo "640x480 rates: $(v4l2-ctl -d /dev/video0 --list-frameintervals=width=640,height=480,pixelformat=YUYV |
    sed -n 's/.*(\(.*\) fps)/\1/p' | tr '\n' ' ')"

v4l2-ctl -d /dev/video0 --set-fmt-video=width=$WIDTH,height=$HEIGHT,pixelformat=YUYV --set-parm=30 >/dev/null ||
    vm_fail "cannot set ${WIDTH}x${HEIGHT} YUYV at 30 fps"
v4l2-ctl -d /dev/video0 --get-fmt-video | grep -q "Width/Height *: $WIDTH/$HEIGHT" ||
    vm_fail "format did not stick"
echo "granted rate: $(v4l2-ctl -d /dev/video0 --get-parm | sed -n 's/.*Frames per second: *//p')"

started=$(vm_uptime)
v4l2-ctl -d /dev/video0 --stream-mmap=4 --stream-count=$FRAMES --stream-to=/tmp/frames.yuyv 2>/dev/null ||
    vm_fail "streaming failed"
finished=$(vm_uptime)
size=$(stat -c %s /tmp/frames.yuyv)
[ "$size" -eq $((FRAMES * FRAME_BYTES)) ] ||
    vm_fail "captured $size bytes, expected $FRAMES frames of $FRAME_BYTES"
fps=$(awk -v n=$FRAMES -v a="$started" -v b="$finished" 'BEGIN { printf "%.1f", (n - 1) / (b - a) }')
vm_pass "captured $FRAMES frames of ${WIDTH}x${HEIGHT} YUYV at $fps fps (guest clock)"

# vivid draws a running frame counter: the first and last frames must differ.
dd if=/tmp/frames.yuyv of=/results/vivid-first.yuyv bs=$FRAME_BYTES count=1 2>/dev/null
dd if=/tmp/frames.yuyv of=/tmp/last.yuyv bs=$FRAME_BYTES skip=$((FRAMES - 1)) count=1 2>/dev/null
cmp -s /results/vivid-first.yuyv /tmp/last.yuyv && vm_fail "first and last frames are identical"
vm_pass "frames change over time"

# Through libv4l2 (-w), which dlopen()s every plugin in its plugin directory when it opens a device.
LD_DEBUG=files v4l2-ctl -w -d /dev/video0 --info >/tmp/ld-debug 2>&1 || vm_fail "v4l2-ctl -w failed"
grep -q 'file=/usr/lib/x86_64-linux-gnu/libv4l/plugins/libv4l-mplane.so .*dynamically loaded' /tmp/ld-debug ||
    vm_fail "libv4l2 did not dlopen its plugin: $(grep -i 'plugin\|mplane' /tmp/ld-debug | head -n 3)"
vm_pass "libv4l2 dlopen()ed libv4l-mplane.so"
