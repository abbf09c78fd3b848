#!/usr/bin/env python3
"""Compares a model file's int8 form with its float form: per photo, and at the door on replay sequences.

For each --data folder (class folders, or a data folder whose valid/ is then used, as `dogdoor evaluate` takes
them), every photo is scored by `dogdoor evaluate --json` with `--precision fp32` and with `--precision int8`;
printed: the largest and mean difference of the probability, the decisions that differ at the model's
threshold, and each form's accuracy. For each --replay folder (frames for the replay camera), dogdoord runs the
sequence once per precision beside a simulated latch owner, and the unlocks (frame, rule, first_seen_s) are
compared.

Usage: Scripts/compare-precision.py --model MODEL [--data DIR ...] [--replay FRAMES ...] [--bin .build/release]
Exit status 1 when a decision or an unlock differs, or a probability by more than --max-difference (0.02).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def evaluate(binary: Path, model: str, data: str, precision: str) -> dict:
    out = subprocess.run([str(binary / "dogdoor"), "evaluate", "--model", model, "--data", data, "--precision",
                          precision, "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def compare_photos(binary: Path, model: str, data: str, limit: float) -> bool:
    fp32, int8 = (evaluate(binary, model, data, p) for p in ("fp32", "int8"))
    pairs = list(zip(fp32["scores"], int8["scores"]))
    assert all(a["file"] == b["file"] for a, b in pairs), "evaluate listed the photos in different orders"
    differences = [abs(a["probability"] - b["probability"]) for a, b in pairs]
    changed = [a["file"] for a, b in pairs if a["admitted"] != b["admitted"]]
    print(f"{data}: {len(pairs)} photos, threshold {fp32['threshold']:.4f}")
    print(f"  probability difference: max {max(differences):.4f}, mean {sum(differences) / len(differences):.4f}")
    print(f"  accuracy: fp32 {fp32['accuracy']:.4f}, int8 {int8['accuracy']:.4f}; decisions changed: {len(changed)}")
    for f in changed:
        print(f"    changed: {f}")
    return not changed and max(differences) <= limit and int8["accuracy"] >= fp32["accuracy"]


def replay(binary: Path, model: str, frames: str, precision: str) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="dogdoor-precision-") as work:
        latch = subprocess.Popen([str(binary / "dogdoor-latch"), "--set", f"latch.socket={work}/latch.sock"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not Path(work, "latch.sock").exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("the latch owner did not start")
                time.sleep(0.1)
            run = subprocess.run(
                [str(binary / "dogdoord"), "--model", model, "--set", f"camera.replay_folder={frames}",
                 "--set", "camera.replay_loop=false", "--set", f"events.directory={work}/events",
                 "--set", f"control.socket={work}/control.sock", "--set", f"latch.socket={work}/latch.sock",
                 "--set", f"compute.precision={precision}"], capture_output=True, text=True, timeout=900)
            if run.returncode != 0:
                raise RuntimeError(f"dogdoord ({precision}) failed:\n{run.stderr[-2000:]}")
            events = [json.loads(line) for line in Path(work, "events/events.jsonl").read_text().splitlines()]
        finally:
            latch.terminate()
            latch.wait()
    return [e for e in events if e["kind"] == "unlock"]


def compare_replay(binary: Path, model: str, frames: str) -> bool:
    unlocks = {p: replay(binary, model, frames, p) for p in ("fp32", "int8")}
    summary = {p: [(u.get("frame"), u.get("rule"), u.get("first_seen_s")) for u in us] for p, us in unlocks.items()}
    print(f"{frames}: unlocks fp32 {summary['fp32']}")
    print(f"{' ' * len(frames)}  unlocks int8 {summary['int8']}")
    same = [(f, r) for f, r, _ in summary["fp32"]] == [(f, r) for f, r, _ in summary["int8"]]
    print("  same unlocks (frame and rule)" if same else "  UNLOCKS DIFFER")
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", nargs="*", default=[])
    parser.add_argument("--replay", nargs="*", default=[])
    parser.add_argument("--bin", type=Path, default=ROOT / ".build/release")
    parser.add_argument("--max-difference", type=float, default=0.02)
    args = parser.parse_args()
    ok = True
    for data in args.data:
        ok &= compare_photos(args.bin, args.model, data, args.max_difference)
    for frames in args.replay:
        ok &= compare_replay(args.bin, str(Path(args.model).resolve()), str(Path(frames).resolve()))
    print("int8 agrees with fp32" if ok else "int8 DISAGREES with fp32")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
