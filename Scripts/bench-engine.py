#!/usr/bin/env python3
"""Side-by-side benchmark of DogDoor's VGG16 engine against ONNX Runtime and OpenVINO on the same weights.

Builds `dogdoor` in release mode, packages the imported VGG16 weights into a model file, exports the same
network to ONNX, then runs every engine alternately for several rounds (each round a fresh process of each,
so model load and peak memory are measured per process) and prints medians, ratios, GFLOP/s and peak RSS.

Engines (--engines; all by default):
  dogdoor           DogDoor with each execution plan asked for (--plans): "inference" (the daemon's default
                    "frugal" plan, under 100 MiB), "fast" (the daemon's `[compute] plan = "fast"`, about twice
                    the memory) and "int8": first `dogdoor model quantize --model var/bench/bench-model.safetensors
                    --calibration DIR --output var/bench/bench-model-int8.safetensors`, then `dogdoor bench` of
                    that model with `--plan int8`.
  onnxruntime       ONNX Runtime, CPU provider, float32, on var/bench/bench-model.onnx.
  onnxruntime-int8  ONNX Runtime on its own static quantisation of that ONNX file (onnxruntime.quantization.
                    quantize_static: QDQ format, per-channel symmetric QInt8 weights, asymmetric QUInt8
                    activations, MinMax calibration, i.e. each activation's range is the minimum and maximum seen
                    over the calibration images; no pre-processing pass). Calibration: up to 32 images of --calibration
                    (a flow_from_directory layout), taken from the class folders in turn, each in sorted order,
                    preprocessed as the model file's manifest says (see `calibration_input`). The result is cached
                    as var/bench/bench-model-int8.onnx and rebuilt when the source ONNX's content, the image list or
                    the method changes (the ONNX file is rewritten, so newer, on every run of this script).
  openvino-fp32     OpenVINO's CPU plugin on the same ONNX file reshaped to a static [batch, 3, 224, 224] input,
  openvino-bf16     with INFERENCE_PRECISION_HINT f32 or bf16, INFERENCE_NUM_THREADS = --threads and
                    PERFORMANCE_HINT LATENCY. On a CPU without bf16 (avx512_bf16 or AMX) OpenVINO silently runs
                    f32; the compiled model's INFERENCE_PRECISION_HINT says which ran, and the row says so.
Every Python engine runs in a fresh child process of this script (--ort-child / --openvino-child) on random
input; its load time and peak RSS include the Python interpreter. GFLOP/s is the nominal float32 count of the
network (30.69 GFLOP per frame) over the time, for int8 and bf16 engines too.

Ratios are taken per round, so of runs made side by side: each DogDoor plan over ONNX Runtime float32, and the
int8 plan also over OpenVINO bf16 and over ONNX Runtime int8. This machine's speed swings by up to 3x from
minute to minute; only ratios of runs made side by side, in one invocation of this script, mean anything.

With --baseline BINARY, an earlier build of `dogdoor` (for example of the previous commit, built with
`--scratch-path`) runs each plan too, in the same rounds: the ratio this/baseline says whether a change made
the engine slower, measured side by side. A baseline that cannot run a plan (an old build without int8) is
left out for that plan, with a note.

Without the dogdoor engine, and when var/bench/bench-model.safetensors and .onnx exist, nothing is built and
those files are used as they are.

Usage: .venv/bin/python Scripts/bench-engine.py [--rounds 5] [--iterations 10] [--batches 1 8] [--threads 2]
                                                [--plans inference fast int8] [--baseline PATH/TO/dogdoor]
                                                [--engines dogdoor onnxruntime onnxruntime-int8 openvino-fp32
                                                 openvino-bf16] [--calibration var/demo/data/train]
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
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dogdoor_tensors  # noqa: E402  (Scripts/ is not a package)

ROOT = Path(__file__).resolve().parent.parent
GFLOP_PER_FRAME = 30.69  # VGG16 conv base at 224x224, multiply-adds x 2
ENGINES = ("dogdoor", "onnxruntime", "onnxruntime-int8", "openvino-fp32", "openvino-bf16")
CALIBRATION_IMAGES = 32
CALIBRATION_SUFFIXES = (".jpg", ".jpeg", ".png")
#: How ONNX Runtime's int8 model is calibrated; recorded beside the cached file, which is rebuilt when it changes.
ORT_QUANTIZATION = "QDQ, per-channel QInt8 weights, QUInt8 activations, MinMax calibration"
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def ensure_python_packages() -> None:
    try:
        import onnxruntime  # noqa: F401
        import onnx  # noqa: F401
        import openvino  # noqa: F401
        import PIL  # noqa: F401
    except ImportError:
        print("installing Scripts/requirements-onnx.txt into", sys.prefix, flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(ROOT / "Scripts/requirements-onnx.txt")],
                       check=True)


def build_release() -> Path:
    print("building dogdoor (release)...", flush=True)
    subprocess.run(["swift", "build", "-c", "release", "--product", "dogdoor"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return ROOT / ".build/release/dogdoor"


def cpu_description() -> tuple[str, list[str], list[str]]:
    """(model name, the CPU_FLAGS present, those absent) from /proc/cpuinfo."""
    name, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name == "unknown":
                    name = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return name, [f for f in CPU_FLAGS if f in flags], [f for f in CPU_FLAGS if f not in flags]


# --------------------------------------------------------------------------------------------------
# Child processes: load, warm up, time; print one JSON line
# --------------------------------------------------------------------------------------------------


def random_input(batch: int):
    import numpy as np

    rng = np.random.default_rng(0)
    return (rng.random((batch, 3, 224, 224), dtype=np.float32) * 255 - 128).astype(np.float32)


def timed(run, warmup: int, iterations: int) -> list[float]:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return times


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ort_child(onnx_path: str, batch: int, iterations: int, warmup: int, threads: int) -> None:
    """ONNX Runtime's CPU provider on `onnx_path` (float32 or the QDQ int8 model)."""
    import onnxruntime as ort

    start = time.perf_counter()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    load = time.perf_counter() - start
    name = session.get_inputs()[0].name
    x = random_input(batch)
    times = timed(lambda: session.run(None, {name: x}), warmup, iterations)
    print(json.dumps({"iteration_seconds": times, "load_seconds": load, "peak_rss_mib": peak_rss_mib()}))


def openvino_child(onnx_path: str, batch: int, iterations: int, warmup: int, threads: int, precision: str) -> None:
    """OpenVINO's CPU plugin with INFERENCE_PRECISION_HINT `precision` (f32 or bf16); also reports the
    precision the compiled model actually uses (f32 where the CPU has no bf16)."""
    import openvino as ov

    start = time.perf_counter()
    core = ov.Core()
    model = core.read_model(onnx_path)
    model.reshape({model.inputs[0].get_any_name(): [batch, 3, 224, 224]})
    compiled = core.compile_model(model, "CPU", {
        "INFERENCE_PRECISION_HINT": precision,
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
    })
    request = compiled.create_infer_request()
    load = time.perf_counter() - start
    used = compiled.get_property("INFERENCE_PRECISION_HINT")
    used = used.get_type_name() if hasattr(used, "get_type_name") else str(used)
    x = random_input(batch)
    times = timed(lambda: request.infer({0: x}, share_inputs=True), warmup, iterations)
    print(json.dumps({"iteration_seconds": times, "load_seconds": load, "peak_rss_mib": peak_rss_mib(),
                      "inference_precision": used}))


# --------------------------------------------------------------------------------------------------
# Calibration images, preprocessed as DogDoor does (Sources/Imaging/Preprocessor.swift)
# --------------------------------------------------------------------------------------------------


def calibration_files(directory: Path, limit: int = CALIBRATION_IMAGES) -> list[Path]:
    """Up to `limit` images of a flow_from_directory layout (class subfolders, searched recursively, of .jpg,
    .jpeg and .png; files directly in `directory` are not images of any class, as for Keras), taken from the
    classes in turn (class folders in sorted order, each class's files in sorted order), so that every class is
    represented. Deterministic."""
    classes = sorted(p for p in directory.iterdir() if p.is_dir())
    per_class = [sorted((p for p in c.rglob("*") if p.is_file() and p.suffix.lower() in CALIBRATION_SUFFIXES),
                        key=lambda p: p.relative_to(directory).as_posix()) for c in classes]
    chosen: list[Path] = []
    for i in range(max((len(files) for files in per_class), default=0)):
        for files in per_class:
            if i < len(files) and len(chosen) < limit:
                chosen.append(files[i])
    return chosen


def model_preprocessing(model: Path) -> dict:
    """resize, centering and side from a DogDoor model file's manifest (area / samplewise / 224 without one)."""
    manifest = json.loads(dogdoor_tensors.SafetensorsFile(str(model)).metadata.get("dogdoor_manifest", "{}"))
    pre = manifest.get("preprocessing", {})
    side = manifest.get("input", {}).get("height", 224)
    return {"resize": pre.get("resize", "area"), "centering": pre.get("centering", "samplewise"), "side": side}


def jpeg_scale_eighths(width: int, height: int, side: int) -> int:
    """DecodeOptions.jpegScaleEighths: the smallest n/8 whose libjpeg output keeps both sides >= side."""
    for n in range(1, 9):
        if (width * n + 7) // 8 >= side and (height * n + 7) // 8 >= side:
            return n
    return 8


def area_resize(pixels, width: int, height: int):
    """AreaResample.resize of uint8 HWC RGB `pixels`: float32 [height, width, 3] in 0...255."""
    import numpy as np

    def area_weights(n_in: int, n_out: int):
        # AreaResample.Weights: the float64 weights of the golden data's reference, rounded to float32 as Swift
        # rounds each Double weight to Float.
        return dogdoor_tensors.area_weights(n_in, n_out).astype(np.float32)

    in_height, in_width, _ = pixels.shape
    # Vertical pass first, as in Swift.
    rows = area_weights(in_height, height) @ pixels.reshape(in_height, in_width * 3).astype(np.float32)
    return np.einsum("xj,yjc->yxc", area_weights(in_width, width), rows.reshape(height, in_width, 3))


def calibration_input(path: Path, resize: str, centering: str, side: int):
    """The network input DogDoor makes of the image file `path`, as float32 CHW (the ONNX input is NCHW;
    DogDoor's own is HWC).

    As Preprocessor with exactKerasDecode off (the default): JPEGs decoded with libjpeg's DCT scaling to the
    smallest n/8 keeping both sides >= side, EXIF orientation applied, RGB; then resized to side x side with the
    manifest's method, then centred. Pillow's libjpeg can only scale by 1/2, 1/4 and 1/8: for other n (an image
    between 2x and 8x the side that is not at one of those ratios) the JPEG is decoded at full size instead,
    which the area resize then averages down (close, not bit-identical). Resize: "area" is AreaResample
    reproduced in numpy with the same float32 weights (sums in a different order: last-bit differences);
    "nearest" and "bilinear" are Pillow's own, which DogDoor reproduces bit for bit. Centering "samplewise":
    subtract the mean over all pixels and channels of the resized image (accumulated in float64, subtracted as
    float32), RGB kept; "caffe": BGR minus the ImageNet means. Alpha of PNGs is dropped."""
    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        if image.format == "JPEG":
            n = jpeg_scale_eighths(image.width, image.height, side)
            if n in (1, 2, 4):
                reduction = 8 // n
                image.draft("RGB", (image.width // reduction, image.height // reduction))
        image = ImageOps.exif_transpose(image).convert("RGB")
    if resize == "area":
        values = area_resize(np.asarray(image), side, side)
    elif resize in ("nearest", "bilinear"):
        method = Image.Resampling.NEAREST if resize == "nearest" else Image.Resampling.BILINEAR
        if image.size != (side, side):
            image = image.resize((side, side), method)
        values = np.asarray(image, dtype=np.float32)
    else:
        raise ValueError(f"resize method {resize!r} is not known to this script")
    values = np.ascontiguousarray(values, dtype=np.float32)
    if centering == "samplewise":
        values -= np.float32(values.sum(dtype=np.float64) / values.size)
    elif centering == "caffe":
        values = values[:, :, ::-1] - np.array([103.939, 116.779, 123.68], dtype=np.float32)
    else:
        raise ValueError(f"centering {centering!r} is not known to this script")
    return np.ascontiguousarray(np.transpose(values, (2, 0, 1)), dtype=np.float32)


# --------------------------------------------------------------------------------------------------
# ONNX Runtime's static int8 quantisation
# --------------------------------------------------------------------------------------------------


def quantize_child(source: str, output: str, calibration: str, model: str) -> None:
    """Quantises `source` into `output` with ONNX Runtime (see ORT_QUANTIZATION), calibrated on the images of
    `calibration` preprocessed as the DogDoor model file `model` says; then compares float32 and int8 outputs
    on up to 8 of those images. Prints one JSON line."""
    import numpy as np
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    pre = model_preprocessing(Path(model))
    files = calibration_files(Path(calibration))
    if not files:
        raise SystemExit(f"no .jpg or .png images in class folders of {calibration}")
    start = time.perf_counter()
    images = [calibration_input(f, pre["resize"], pre["centering"], pre["side"]) for f in files]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"images": image[None]} for image in images])

        def get_next(self):
            return next(self.items, None)

    directory = os.path.dirname(os.path.abspath(output))
    fd, temp = tempfile.mkstemp(prefix=".bench-quantize.", suffix=".onnx", dir=directory)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)
    try:
        quantize_static(source, temp, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        os.replace(temp, output)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    seconds = time.perf_counter() - start
    batch = np.stack(images[:8])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    reference = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"]).run(None, {"images": batch})
    quantized = ort.InferenceSession(output, options, providers=["CPUExecutionProvider"]).run(None, {"images": batch})

    def relative(a, b):
        return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30))

    print(json.dumps({"images": len(files), "preprocessing": pre, "seconds": seconds,
                      "checked_images": len(batch), "logits_relative_error": relative(quantized[0], reference[0]),
                      "features_relative_error": relative(quantized[1], reference[1])}))


def ensure_ort_int8(source: Path, output: Path, calibration: Path, model: Path) -> None:
    """Builds `output` unless the record beside it names the same source content, images and method."""
    record_path = output.with_name(output.name + ".json")
    files = [str(f.resolve()) for f in calibration_files(calibration)]
    wanted = {"source_sha256": dogdoor_tensors.sha256_file(str(source)), "images": files, "quantization": ORT_QUANTIZATION,
              "preprocessing": model_preprocessing(model)}
    try:
        record = json.loads(record_path.read_text())
        if output.exists() and all(record.get(k) == v for k, v in wanted.items()):
            print(f"ONNX Runtime int8: cached {output.relative_to(ROOT)} ({ORT_QUANTIZATION}, {len(files)} images)")
            return
    except (OSError, ValueError):
        pass
    print(f"ONNX Runtime int8: quantising ({ORT_QUANTIZATION}) on {len(files)} images of {calibration}...",
          flush=True)
    out = run_captured([sys.executable, __file__, "--quantize-child", str(source), str(output), str(calibration),
                        str(model)])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {result['seconds']:.0f} s; int8 against float32 on {result['checked_images']} of those images: "
          f"max|diff|/max|ref| logits {result['logits_relative_error']:.3f}, "
          f"features {result['features_relative_error']:.3f}")
    record = dict(wanted, check=result)
    record_path.write_text(json.dumps(record, indent=1) + "\n")


# --------------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------------


def run_captured(command: list[str]) -> subprocess.CompletedProcess:
    """Runs `command` capturing its output; on failure shows the end of its stderr, then raises."""
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"failed (exit {out.returncode}): {' '.join(command)}", file=sys.stderr)
        print("\n".join(out.stderr.splitlines()[-20:]), file=sys.stderr)
        raise subprocess.CalledProcessError(out.returncode, command, out.stdout, out.stderr)
    return out


def run_child(*arguments: str) -> dict:
    out = run_captured([sys.executable, __file__, *arguments])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_ort(onnx_path: Path, batch: int, iterations: int, warmup: int, threads: int) -> dict:
    return run_child("--ort-child", str(onnx_path), str(batch), str(iterations), str(warmup), str(threads))


def run_openvino(onnx_path: Path, batch: int, iterations: int, warmup: int, threads: int, precision: str) -> dict:
    return run_child("--openvino-child", str(onnx_path), str(batch), str(iterations), str(warmup), str(threads),
                     precision)


def run_dogdoor(binary: Path, model: Path, batch: int, iterations: int, warmup: int, threads: int,
                plan: str = "inference") -> dict:
    out = run_captured([str(binary), "bench", "--model", str(model), "--batch", str(batch), "--iterations",
                        str(iterations), "--warmup", str(warmup), "--threads", str(threads), "--plan", plan, "--json"])
    return json.loads(out.stdout.strip().splitlines()[-1])


class Series:
    """One engine's results over the rounds of one batch size."""

    def __init__(self):
        self.ms: list[float] = []
        self.load: list[float] = []
        self.rss: list[float] = []
        self.notes: set[str] = set()

    def add(self, result: dict, batch: int) -> float:
        """Records `result`; returns its median seconds per frame."""
        seconds = statistics.median(result["iteration_seconds"]) / batch
        self.ms.append(seconds * 1e3)
        self.load.append(result["load_seconds"])
        self.rss.append(result["peak_rss_mib"])
        return seconds

    def line(self, label: str, load_note: str = "", rss_note: str = "") -> str:
        ms = statistics.median(self.ms)
        return (f"  {label:<22} {ms:7.1f} ms/frame  {GFLOP_PER_FRAME / ms * 1e3:6.0f} GFLOP/s  "
                f"load {statistics.median(self.load):.3f} s{load_note}  peak RSS {max(self.rss):6.1f} MiB{rss_note}")


def ratio_line(label: str, ratios: list[float], digits: int = 2) -> str:
    return (f"  ratio {label}: median {statistics.median(ratios):.{digits}f} "
            f"(per round: {', '.join(f'{x:.{digits}f}' for x in ratios)})")


def main() -> int:
    children = {"--ort-child": (ort_child, (str, int, int, int, int)),
                "--openvino-child": (openvino_child, (str, int, int, int, int, str)),
                "--quantize-child": (quantize_child, (str, str, str, str))}
    if len(sys.argv) > 1 and sys.argv[1] in children:
        function, types = children[sys.argv[1]]
        function(*(t(v) for t, v in zip(types, sys.argv[2:], strict=True)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per batch size (default 5)")
    parser.add_argument("--iterations", type=int, default=10, help="timed iterations per process (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations per process (default 2)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8], help="batch sizes (default 1 8)")
    parser.add_argument("--threads", type=int, default=2, help="threads for every engine (default 2)")
    parser.add_argument("--plans", nargs="+", default=["inference", "fast", "int8"],
                        help="DogDoor execution plans to run (default: inference fast int8); int8 runs the model "
                             "made by `dogdoor model quantize`")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES), metavar="ENGINE",
                        help=f"engines to run (default all: {' '.join(ENGINES)})")
    parser.add_argument("--calibration", type=Path, default=ROOT / "var/demo/data/train",
                        help="images for int8 calibration, class subfolders as for flow_from_directory "
                             f"(up to {CALIBRATION_IMAGES} are used; default var/demo/data/train)")
    parser.add_argument("--weights", type=Path, default=ROOT / "var/weights/vgg16-notop.safetensors")
    parser.add_argument("--baseline", type=Path, help="an earlier dogdoor binary to run beside this build")
    args = parser.parse_args()
    engines = [e for e in ENGINES if e in args.engines]
    plans = list(dict.fromkeys(args.plans)) if "dogdoor" in engines else []
    needs_calibration = "onnxruntime-int8" in engines or "int8" in plans
    if needs_calibration and not (args.calibration.is_dir() and calibration_files(args.calibration)):
        print(f"error: no .jpg or .png images in class folders of {args.calibration} (--calibration)", file=sys.stderr)
        return 1

    ensure_python_packages()
    work = ROOT / "var/bench"
    work.mkdir(parents=True, exist_ok=True)
    model = work / "bench-model.safetensors"
    model_int8 = work / "bench-model-int8.safetensors"
    onnx_path = work / "bench-model.onnx"
    onnx_int8 = work / "bench-model-int8.onnx"
    binary = None
    if "dogdoor" in engines or not (model.exists() and onnx_path.exists()):
        if not args.weights.exists():
            print(f"error: {args.weights} not found; run Scripts/setup.sh", file=sys.stderr)
            return 1
        binary = build_release()
        subprocess.run([str(binary), "model", "package", "--weights", str(args.weights), "--output", str(model)],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, str(ROOT / "Scripts/export-onnx.py"), "--model", str(model), "--output",
                        str(onnx_path)], check=True, stdout=subprocess.DEVNULL)
    else:
        print(f"dogdoor engine not run: using {model.relative_to(ROOT)} and {onnx_path.relative_to(ROOT)} as they are")

    name, present, absent = cpu_description()
    print(f"CPU: {name}; flags: {' '.join(present) or '-'} (absent: {' '.join(absent) or '-'})")
    if binary and "dogdoor" in engines:
        kernel = run_dogdoor(binary, model, 1, 1, 0, args.threads)["openblas_kernel"]
        print(f"OpenBLAS kernel in dogdoor: {kernel}")
    if "int8" in plans:
        print(f"dogdoor int8: dogdoor model quantize --calibration {args.calibration}...", flush=True)
        out = run_captured([str(binary), "model", "quantize", "--model", str(model), "--calibration",
                            str(args.calibration), "--output", str(model_int8)])
        last = [line for line in out.stdout.splitlines() if line.strip()]
        if last:
            print(f"  {last[-1].strip()}")
    if "onnxruntime-int8" in engines:
        ensure_ort_int8(onnx_path, onnx_int8, args.calibration, model)
    print(f"threads: {args.threads}; rounds: {args.rounds} x {args.iterations} iterations, alternating engines\n")

    def plan_model(plan: str) -> Path:
        return model_int8 if plan == "int8" else model

    for batch in args.batches:
        ours = {plan: Series() for plan in plans}
        ort, ort8, ov32, ov16 = Series(), Series(), Series(), Series()
        ratios: dict[str, list[float]] = {}
        base = {plan: {"ms": [], "rss": [], "ratio": []} for plan in plans} if args.baseline else {}
        for _ in range(args.rounds):
            runs = {plan: run_dogdoor(binary, plan_model(plan), batch, args.iterations, args.warmup, args.threads,
                                      plan)
                    for plan in plans}
            for plan in list(base):
                try:
                    b = run_dogdoor(args.baseline, plan_model(plan), batch, args.iterations, args.warmup,
                                    args.threads, plan)
                except subprocess.CalledProcessError as e:
                    print(f"  baseline cannot run plan {plan} (exit {e.returncode}); left out", file=sys.stderr,
                          flush=True)
                    del base[plan]
                    continue
                bm = statistics.median(b["iteration_seconds"]) / batch
                base[plan]["ms"].append(bm * 1e3)
                base[plan]["rss"].append(b["peak_rss_mib"])
                base[plan]["ratio"].append(statistics.median(runs[plan]["iteration_seconds"]) / batch / bm)
            seconds = {}
            if "onnxruntime" in engines:
                seconds["onnxruntime"] = ort.add(run_ort(onnx_path, batch, args.iterations, args.warmup,
                                                         args.threads), batch)
            if "onnxruntime-int8" in engines:
                seconds["onnxruntime int8"] = ort8.add(run_ort(onnx_int8, batch, args.iterations, args.warmup,
                                                               args.threads), batch)
            for engine, series, precision in (("openvino-fp32", ov32, "f32"), ("openvino-bf16", ov16, "bf16")):
                if engine in engines:
                    o = run_openvino(onnx_path, batch, args.iterations, args.warmup, args.threads, precision)
                    seconds[engine.replace("-", " ")] = series.add(o, batch)
                    series.notes.add(o["inference_precision"])
            for plan, d in runs.items():
                dm = ours[plan].add(d, batch)
                others = ["onnxruntime"] + (["openvino bf16", "onnxruntime int8"] if plan == "int8" else [])
                for other in others:
                    if other in seconds:
                        ratios.setdefault(f"dogdoor {plan}/{other}", []).append(dm / seconds[other])
        print(f"batch {batch}:")
        for plan, series in ours.items():
            print(series.line(f"dogdoor {plan}", " (verified + self-test)"))
        python = " (incl. Python)"
        if ort.ms:
            print(ort.line("onnxruntime fp32", rss_note=python))
        if ort8.ms:
            print(ort8.line("onnxruntime int8", rss_note=python))
        if ov32.ms:
            print(ov32.line("openvino fp32", rss_note=python + f"; ran {'/'.join(sorted(ov32.notes))}"))
        bf16_label = "openvino bf16"
        if ov16.ms:
            ran = "/".join(sorted(ov16.notes))
            note = ""
            if ov16.notes != {"bf16"}:
                bf16_label = f"openvino bf16->{ran}"
                note = f"; bf16 asked, OpenVINO ran {ran} (no bf16 on this CPU)"
            print(ov16.line(bf16_label, rss_note=python + note))
        for label, values in ratios.items():
            print(ratio_line(label.replace("openvino bf16", bf16_label), values))
        for plan, r in base.items():
            print(f"  baseline {plan:<9} {statistics.median(r['ms']):7.1f} ms/frame  peak RSS {max(r['rss']):6.1f} MiB; "
                  f"ratio this/baseline: median {statistics.median(r['ratio']):.3f} "
                  f"(per round: {', '.join(f'{x:.3f}' for x in r['ratio'])})")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
