#!/usr/bin/env python3
"""Side-by-side benchmark of DogDoor's VGG16 engine against ONNX Runtime on the same weights.

Builds `dogdoor` in release mode, packages the imported VGG16 weights into a model file, exports the same
network to ONNX, then runs both engines alternately for several rounds (each round a fresh process of each,
so model load and peak memory are measured per process) and prints medians, the ratio, GFLOP/s and peak RSS.
DogDoor runs with each execution plan asked for: "inference" (the daemon's default "frugal" plan, under 100 MiB)
and "fast" (the daemon's `[compute] plan = "fast"`, about twice the memory).

This machine's speed swings by up to 3x from minute to minute; only ratios of runs made side by side, in
one invocation of this script, mean anything.

With --baseline BINARY, an earlier build of `dogdoor` (for example of the previous commit, built with
`--scratch-path`) runs each plan too, in the same rounds: the ratio this/baseline says whether a change made
the engine slower, measured side by side.

Usage: .venv/bin/python Scripts/bench-engine.py [--rounds 5] [--iterations 10] [--batches 1 8] [--threads 2]
                                                [--plans inference fast] [--baseline PATH/TO/dogdoor]
Needs: Scripts/setup.sh done; installs Scripts/requirements-onnx.txt into the running venv if missing.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GFLOP_PER_FRAME = 30.69  # VGG16 conv base at 224x224, multiply-adds x 2


def ensure_onnx_runtime() -> None:
    try:
        import onnxruntime  # noqa: F401
        import onnx  # noqa: F401
    except ImportError:
        print("installing Scripts/requirements-onnx.txt into", sys.prefix, flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(ROOT / "Scripts/requirements-onnx.txt")],
                       check=True)


def build_release() -> Path:
    print("building dogdoor (release)...", flush=True)
    subprocess.run(["swift", "build", "-c", "release", "--product", "dogdoor"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return ROOT / ".build/release/dogdoor"


def ort_child(onnx_path: str, batch: int, iterations: int, warmup: int, threads: int) -> None:
    """Runs inside a fresh process: load, warm up, time; print one JSON line."""
    import numpy as np
    import onnxruntime as ort

    start = time.perf_counter()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    load = time.perf_counter() - start
    name = session.get_inputs()[0].name
    rng = np.random.default_rng(0)
    x = (rng.random((batch, 3, 224, 224), dtype=np.float32) * 255 - 128).astype(np.float32)
    for _ in range(warmup):
        session.run(None, {name: x})
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        session.run(None, {name: x})
        times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"iteration_seconds": times, "load_seconds": load, "peak_rss_mib": peak}))


def run_ort(onnx_path: Path, batch: int, iterations: int, warmup: int, threads: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--ort-child", str(onnx_path), str(batch), str(iterations),
                          str(warmup), str(threads)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_dogdoor(binary: Path, model: Path, batch: int, iterations: int, warmup: int, threads: int,
                plan: str = "inference") -> dict:
    out = subprocess.run([str(binary), "bench", "--model", str(model), "--batch", str(batch), "--iterations",
                          str(iterations), "--warmup", str(warmup), "--threads", str(threads), "--plan", plan,
                          "--json"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--ort-child":
        ort_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per batch size (default 5)")
    parser.add_argument("--iterations", type=int, default=10, help="timed iterations per process (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations per process (default 2)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8], help="batch sizes (default 1 8)")
    parser.add_argument("--threads", type=int, default=2, help="threads for both engines (default 2)")
    parser.add_argument("--plans", nargs="+", default=["inference", "fast"],
                        help="DogDoor execution plans to run (default: inference fast)")
    parser.add_argument("--weights", type=Path, default=ROOT / "var/weights/vgg16-notop.safetensors")
    parser.add_argument("--baseline", type=Path, help="an earlier dogdoor binary to run beside this build")
    args = parser.parse_args()

    if not args.weights.exists():
        print(f"error: {args.weights} not found; run Scripts/setup.sh", file=sys.stderr)
        return 1
    ensure_onnx_runtime()
    binary = build_release()
    work = ROOT / "var/bench"
    work.mkdir(parents=True, exist_ok=True)
    model = work / "bench-model.safetensors"
    onnx_path = work / "bench-model.onnx"
    subprocess.run([str(binary), "model", "package", "--weights", str(args.weights), "--output", str(model)],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, str(ROOT / "Scripts/export-onnx.py"), "--model", str(model), "--output",
                    str(onnx_path)], check=True, stdout=subprocess.DEVNULL)
    kernel = run_dogdoor(binary, model, 1, 1, 0, args.threads)["openblas_kernel"]
    print(f"OpenBLAS kernel in dogdoor: {kernel}")
    print(f"threads: {args.threads}; rounds: {args.rounds} x {args.iterations} iterations, alternating engines\n")

    for batch in args.batches:
        ort = {"ms": [], "load": [], "rss": []}
        ours = {plan: {"ms": [], "load": [], "rss": [], "ratio": []} for plan in args.plans}
        base = {plan: {"ms": [], "rss": [], "ratio": []} for plan in args.plans} if args.baseline else {}
        for _ in range(args.rounds):
            runs = {plan: run_dogdoor(binary, model, batch, args.iterations, args.warmup, args.threads, plan)
                    for plan in args.plans}
            for plan in base:
                b = run_dogdoor(args.baseline, model, batch, args.iterations, args.warmup, args.threads, plan)
                bm = statistics.median(b["iteration_seconds"]) / batch
                base[plan]["ms"].append(bm * 1e3)
                base[plan]["rss"].append(b["peak_rss_mib"])
                base[plan]["ratio"].append(statistics.median(runs[plan]["iteration_seconds"]) / batch / bm)
            o = run_ort(onnx_path, batch, args.iterations, args.warmup, args.threads)
            om = statistics.median(o["iteration_seconds"]) / batch
            ort["ms"].append(om * 1e3)
            ort["load"].append(o["load_seconds"])
            ort["rss"].append(o["peak_rss_mib"])
            for plan, d in runs.items():
                dm = statistics.median(d["iteration_seconds"]) / batch
                ours[plan]["ms"].append(dm * 1e3)
                ours[plan]["load"].append(d["load_seconds"])
                ours[plan]["rss"].append(d["peak_rss_mib"])
                ours[plan]["ratio"].append(dm / om)
        print(f"batch {batch}:")
        for plan, r in ours.items():
            ms = statistics.median(r["ms"])
            print(f"  dogdoor {plan:<10} {ms:7.1f} ms/frame  {GFLOP_PER_FRAME / ms * 1e3:6.0f} GFLOP/s  "
                  f"load {statistics.median(r['load']):.3f} s (verified + self-test)  peak RSS {max(r['rss']):6.1f} MiB")
        o_ms = statistics.median(ort["ms"])
        print(f"  onnxruntime        {o_ms:7.1f} ms/frame  {GFLOP_PER_FRAME / o_ms * 1e3:6.0f} GFLOP/s  "
              f"load {statistics.median(ort['load']):.3f} s  peak RSS {max(ort['rss']):6.1f} MiB (incl. Python)")
        for plan, r in ours.items():
            print(f"  ratio dogdoor {plan}/onnxruntime: median {statistics.median(r['ratio']):.2f} "
                  f"(per round: {', '.join(f'{x:.2f}' for x in r['ratio'])})")
        for plan, r in base.items():
            print(f"  baseline {plan:<9} {statistics.median(r['ms']):7.1f} ms/frame  peak RSS {max(r['rss']):6.1f} MiB; "
                  f"ratio this/baseline: median {statistics.median(r['ratio']):.3f} "
                  f"(per round: {', '.join(f'{x:.3f}' for x in r['ratio'])})")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
