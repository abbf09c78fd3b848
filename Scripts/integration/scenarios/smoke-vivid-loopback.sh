#!/bin/sh
# Smoke test: frames written to vivid's HDMI output by vivid-feed come out of the capture device
# byte for byte. The payload holds two 640x480 YUYV frames, solid.yuyv and pattern.yuyv; every
# captured frame must be one of them, and both must be seen. When the feed stops, the capture
# falls back to vivid's own test pattern; a feed started while a capture is running takes over.
# vm-vivid: n_devs=1 node_types=0x101 num_inputs=1 input_types=0x3 num_outputs=1 output_types=0x1 vid_cap_nr=0 vid_out_nr=1
# vm-host-files: /usr/bin/v4l2-ctl
# vm-timeout: 120
. /vm/lib.sh
set -u

FRAMES=40
FRAME_BYTES=$((640 * 480 * 2))
for file in solid.yuyv pattern.yuyv; do
    [ "$(stat -c %s "/payload/$file")" -eq $FRAME_BYTES ] || vm_fail "/payload/$file is not one frame"
done

vivid-feed --size 640x480 --format YUYV --fps 10 --ready-file /tmp/feed-ready \
    /payload/solid.yuyv /payload/pattern.yuyv &
feeder=$!
vm_wait_for /tmp/feed-ready 10 || vm_fail "vivid-feed did not start"

echo "capture side as a program opening /dev/video0 sees it:"
v4l2-ctl -d /dev/video0 --get-input --get-fmt-video --get-parm |
    grep -E 'Video input|Width/Height|Pixel Format|Field|Bytes per Line|Frames per second'
v4l2-ctl -d /dev/video0 --get-ctrl=loop_video,osd_text_mode

# classify FILE FIRST COUNT: how many of frames FIRST..FIRST+COUNT-1 of FILE equal solid.yuyv,
# pattern.yuyv, or neither.
classify() {
    solid=0 pattern=0 other=0
    index=$2
    while [ $index -lt $(($2 + $3)) ]; do
        dd if="$1" of=/tmp/frame bs=$FRAME_BYTES skip=$index count=1 2>/dev/null
        if cmp -s /tmp/frame /payload/solid.yuyv; then
            solid=$((solid + 1))
        elif cmp -s /tmp/frame /payload/pattern.yuyv; then
            pattern=$((pattern + 1))
        else
            other=$((other + 1))
        fi
        index=$((index + 1))
    done
}

started=$(vm_uptime)
v4l2-ctl -d /dev/video0 --stream-mmap=4 --stream-count=$FRAMES --stream-to=/tmp/capture.yuyv 2>/dev/null ||
    vm_fail "capture failed"
finished=$(vm_uptime)
fps=$(awk -v n=$FRAMES -v a="$started" -v b="$finished" 'BEGIN { printf "%.1f", (n - 1) / (b - a) }')
classify /tmp/capture.yuyv 0 $FRAMES
echo "captured $FRAMES frames at $fps fps: $solid solid, $pattern pattern, $other other"
dd if=/tmp/capture.yuyv of=/results/loopback-first.yuyv bs=$FRAME_BYTES count=1 2>/dev/null
echo "solid=$solid pattern=$pattern other=$other fps=$fps" >/results/loopback-counts.txt
[ $other -eq 0 ] || vm_fail "$other captured frames match neither fed frame"
[ $solid -gt 0 ] && [ $pattern -gt 0 ] || vm_fail "both fed frames must appear in the capture"
vm_pass "every captured frame is a fed frame, byte for byte"

kill -TERM $feeder
wait $feeder || vm_fail "vivid-feed did not exit cleanly on SIGTERM"
v4l2-ctl -d /dev/video0 --stream-mmap=4 --stream-count=3 --stream-to=/tmp/after.yuyv 2>/dev/null ||
    vm_fail "capture after the feed stopped failed"
classify /tmp/after.yuyv 0 3
[ $other -eq 3 ] || vm_fail "after the feed stopped the capture still shows fed frames"
vm_pass "without a feed the capture shows vivid's test pattern again"

# A capturing program keeps running while a new feed starts (as when a test swaps its images).
LONG=120
v4l2-ctl -d /dev/video0 --stream-mmap=4 --stream-count=$LONG --stream-to=/tmp/long.yuyv 2>/dev/null &
capturer=$!
sleep 0.5
vivid-feed --size 640x480 --format YUYV --fps 10 /payload/pattern.yuyv &
feeder=$!
wait $capturer || vm_fail "capture during the feed restart failed"
kill -TERM $feeder
wait $feeder || vm_fail "vivid-feed failed to start while the capture was streaming"
classify /tmp/long.yuyv $((LONG - 10)) 10
[ $pattern -eq 10 ] ||
    vm_fail "last 10 frames after a mid-capture feed start: $pattern pattern, $solid solid, $other other"
vm_pass "a feed started during a running capture takes over the capture"
