#!/usr/bin/env python3
"""Soak benchmark of the door daemon: many replayed frames through the real `dogdoord` binary.

Part 1 (throughput): replays the project's sample frames (a porch where other animals pass and Bo comes to the
door) in a loop at 60 frames/s, faster than the engine takes them, until the engine has evaluated at least
--frames of them (the others are dropped for a newer one: latest-frame semantics); samples the
daemon's resident memory every second; prints frames delivered and evaluated per second, inference time, decision
latency (frame capture to latch command, from the unlock events) and resident memory at start and end.

Part 2 (idle scene): replays one still frame at camera speed with the motion gate on, and reports frames seen,
frames evaluated, and the CPU time the daemon would use per hour of an idle scene.

Usage: .venv/bin/python Scripts/bench-soak.py [--frames 10000] [--idle-seconds 60] [--plan frugal|fast]
                                             [--precision auto|int8|fp32] [--model M]
Needs: Scripts/setup.sh done. Builds the release binaries; runs dogdoord beside its latch owner (dogdoor-latch,
simulated latch). Uses the demo's model (var/demo/model.safetensors, made
by Scripts/demo.sh) if there is one, else trains a quicker one on the default sample set (frozen head, then
block 4-5 fine-tuning): speed and memory do not depend on the model, only the unlocks behind the latency do.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".build/release"


def build() -> None:
    for product in ("dogdoord", "dogdoor", "dogdoor-train", "dogdoor-latch", "dogdoor-samples"):
        subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)


def ensure_model(work: Path) -> Path:
    demo = ROOT / "var/demo/model.safetensors"
    if demo.exists():
        return demo
    data = work / "data"
    subprocess.run([BIN / "dogdoor-samples", "dataset", "--output", data, "--seed", "1"], check=True,
                   stdout=subprocess.DEVNULL)
    model = work / "model.safetensors"
    print("training a quick model on the sample photos (a few minutes)...", flush=True)
    subprocess.run([BIN / "dogdoor-train", "--data", data, "--positive", "bo", "--output", model,
                    "--epochs", "10", "--fine-tune-epochs", "5", "--fine-tune-from", "block4_conv1",
                    "--fine-tune-learning-rate", "5e-5", "--seed", "1"], check=True, stdout=subprocess.DEVNULL)
    return model


def memory_kib(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def status(socket: Path) -> dict | None:
    out = subprocess.run([BIN / "dogdoor", "status", "--socket", socket, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_daemon(work: Path, model: Path, frames: Path, settings: dict[str, str]) -> subprocess.Popen:
    """dogdoord, beside its latch owner (dogdoor-latch with a simulated latch, stopped when dogdoord is)."""
    latch = ["--set", f"latch.socket={work}/latch.sock"]
    owner_log = open(work / "latch.log", "w")
    owner = subprocess.Popen([BIN / "dogdoor-latch", *latch], stdout=owner_log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not (work / "latch.sock").exists():
        if owner.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"dogdoor-latch did not start; see {work}/latch.log")
        time.sleep(0.05)
    args = [BIN / "dogdoord", "--model", model, "--set", f"camera.replay_folder={frames}",
            "--set", f"events.directory={work}/events", "--set", f"control.socket={work}/control.sock", *latch]
    for key, value in settings.items():
        args += ["--set", f"{key}={value}"]
    log = open(work / "daemon.log", "w")
    daemon = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    daemon.owner = owner  # type: ignore[attr-defined]
    return daemon


def stop_daemon(daemon: subprocess.Popen) -> None:
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=30)
    daemon.owner.send_signal(signal.SIGTERM)  # type: ignore[attr-defined]
    daemon.owner.wait(timeout=30)  # type: ignore[attr-defined]


def wait_ready(daemon: subprocess.Popen, work: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            sys.exit(f"dogdoord exited early; see {work}/daemon.log")
        if "ready: model verified" in (work / "daemon.log").read_text():
            return
        time.sleep(0.2)
    sys.exit("dogdoord did not become ready")


def throughput(model: Path, frames: Path, target: int, work: Path, plan: str, precision: str) -> None:
    daemon = start_daemon(work, model, frames, {"compute.plan": plan, "compute.precision": precision,
        "camera.replay_fps": "60", "motion.enabled": "false", "events.snapshots": "false",
        "decision.hold": "2s", "decision.cooldown": "1s", "decision.max_open": "30s",
    })
    wait_ready(daemon, work)
    rss_start, _ = memory_kib(daemon.pid)
    cpu_start = cpu_seconds(daemon.pid)
    samples = []
    start = time.monotonic()
    last = None
    while True:
        time.sleep(1)
        s = status(work / "control.sock")
        rss, hwm = memory_kib(daemon.pid)
        samples.append(rss)
        if s:
            last = s
            delivered = s["frames"]["seen"] + s["frames"]["dropped"]
            print(f"\r  {delivered} frames delivered, {s['frames']['evaluated']} evaluated, "
                  f"{s['inference_ms']:.0f} ms/frame, RSS {rss / 1024:.1f} MiB", end="", flush=True)
            if s["frames"]["evaluated"] >= target:
                break
    elapsed = time.monotonic() - start
    cpu = cpu_seconds(daemon.pid) - cpu_start
    rss_end, hwm = memory_kib(daemon.pid)
    stop_daemon(daemon)
    print()
    events = [json.loads(line) for line in (work / "events/events.jsonl").read_text().splitlines()]
    latencies = [e["latency_ms"] for e in events if e.get("kind") == "unlock" and "latency_ms" in e]
    delivered = last["frames"]["seen"] + last["frames"]["dropped"]
    evaluated = last["frames"]["evaluated"]
    print(f"throughput run: {elapsed:.0f} s")
    print(f"  frames delivered {delivered} ({delivered / elapsed:.1f}/s), evaluated {evaluated} ({evaluated / elapsed:.1f}/s), "
          f"dropped {last['frames']['dropped']} (newer frame arrived first), corrupt {last['frames']['corrupt']}")
    print(f"  inference {last['inference_ms']:.1f} ms/frame (moving average); CPU {cpu / elapsed:.2f} cores busy")
    if latencies:
        print(f"  decision latency (capture to latch command) over {len(latencies)} unlocks: "
              f"median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms")
    else:
        print("  no unlock happened, so no decision latency was measured")
    first_minute = samples[:60]
    print(f"  resident memory: start {rss_start / 1024:.1f} MiB, end {rss_end / 1024:.1f} MiB, "
          f"peak {hwm / 1024:.1f} MiB; after the first minute min {min(samples[60:] or samples) / 1024:.1f} "
          f"max {max(samples[60:] or samples) / 1024:.1f} MiB (first minute max {max(first_minute) / 1024:.1f})")


def idle(model: Path, frames: Path, seconds: float, work: Path, plan: str, precision: str) -> None:
    still = work / "still"
    still.mkdir()
    first = sorted(p for p in frames.iterdir() if p.suffix == ".jpg")[0]
    shutil.copy(first, still / "frame.jpg")
    daemon = start_daemon(work, model, still, {"camera.replay_fps": "15", "motion.enabled": "true",
                                                 "compute.plan": plan, "compute.precision": precision})
    wait_ready(daemon, work)
    time.sleep(3)  # past the frames evaluated right after start
    cpu_start = cpu_seconds(daemon.pid)
    s0 = status(work / "control.sock")
    time.sleep(seconds)
    cpu = cpu_seconds(daemon.pid) - cpu_start
    s1 = status(work / "control.sock")
    stop_daemon(daemon)
    seen = s1["frames"]["seen"] - s0["frames"]["seen"]
    evaluated = s1["frames"]["evaluated"] - s0["frames"]["evaluated"]
    print(f"idle scene ({seconds:.0f} s of one still frame at 15 fps, motion gate on):")
    print(f"  frames seen {seen}, evaluated {evaluated} (the periodic idle check), CPU {cpu:.2f} s "
          f"= {cpu / seconds * 3600:.0f} CPU seconds per hour ({cpu / seconds * 100:.2f}% of one core)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10_000, help="frames the engine evaluates in the throughput run")
    parser.add_argument("--idle-seconds", type=float, default=60, help="length of the idle-scene run")
    parser.add_argument("--plan", choices=["frugal", "fast"], default="frugal", help="the daemon's [compute] plan")
    parser.add_argument("--precision", choices=["auto", "int8", "fp32"], default="auto",
                        help="the daemon's [compute] precision (int8 needs a model with its int8 form)")
    parser.add_argument("--model", type=Path, help="model file to run (default: the demo's, else one trained here)")
    parser.add_argument("--bin", type=Path,
                        help="run the programs of another build (e.g. a release build of an earlier commit, to "
                             "compare side by side); nothing is built then")
    args = parser.parse_args()
    global BIN
    if args.bin:
        BIN = args.bin.resolve()
    print(f"dogdoord ({BIN}) with [compute] plan = {args.plan}, precision = {args.precision}", flush=True)
    if not args.bin:
        build()
    with tempfile.TemporaryDirectory(prefix="dogdoor-soak-") as tmp:
        work = Path(tmp)
        model = args.model.resolve() if args.model else ensure_model(work)
        frames = work / "frames"
        subprocess.run([BIN / "dogdoor-samples", "replay", "--output", frames, "--seed", "2"], check=True,
                       stdout=subprocess.DEVNULL)
        (work / "t").mkdir()
        throughput(model, frames, args.frames, work / "t", args.plan, args.precision)
        (work / "i").mkdir()
        idle(model, frames, args.idle_seconds, work / "i", args.plan, args.precision)
    return 0


if __name__ == "__main__":
    sys.exit(main())
