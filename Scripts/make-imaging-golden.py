#!/usr/bin/env python3
"""Generate the golden data the Imaging tests compare against (Tests/ImagingTests/Golden/).

A one-off tool run by hand; CI only reads its output. It needs the versions the committed data was made
with (Pillow's resize changed in 13.0: see PillowResample.bilinear):
    pip install -r Scripts/requirements-golden.txt pillow==13.0.0 scipy==1.17.1 Every source image is synthetic: an integer
pattern defined below (and re-implemented bit for bit by the Swift tests, see GoldenPattern.swift), or a
small file this script encodes itself. Nothing here is a photograph.

It writes Golden/imaging-golden.json (the manifest: generator versions and every case) and binary
payloads under Golden/imaging/:

  nearest.index      Pillow NEAREST source indices for assorted sizes, read back from a resize of an
                     image whose pixels encode their own coordinates (proves the index walk bit for bit)
  nearest.sweep      sha256 of Pillow NEAREST resizes of the pattern, random sizes
  bilinear.full      Pillow BILINEAR outputs stored whole (.u8) for a horizontal-first and a
                     vertical-first case, so a mismatch can be measured in levels
  bilinear.sweep     sha256 of Pillow BILINEAR resizes, random sizes including both pass orders
  area               float64 reference of the area resize (.f32), compared with a tolerance
  affine             Keras ImageDataGenerator.apply_transform outputs (.f32) for fixed parameters
  decode             small JPEG/PNG/WebP files made by Pillow/libwebp here, with Pillow's convert("RGB")
                     pixels (.u8); also PNGs with each EXIF orientation and Pillow's exif_transpose result

Usage: Scripts/make-imaging-golden.py [--out Tests/ImagingTests/Golden]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import random
import sys

import numpy as np
import PIL
import scipy
from PIL import Image, ImageOps

from dogdoor_tensors import area_weights, pattern

FORMAT = "dogdoor-imaging-golden"
FORMAT_VERSION = 1
SWEEP_SEED = 20_251_129


def float_pattern(width: int, height: int, seed: int) -> np.ndarray:
    """pattern() plus quarter steps ((x + 2y) mod 4) / 4, as float32: exercises non-integer inputs."""
    y, x = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    frac = ((x + 2 * y) % 4).astype(np.float32) * np.float32(0.25)
    return pattern(width, height, seed).astype(np.float32) + frac[:, :, None]


def coordinate_image(width: int, height: int) -> np.ndarray:
    """Pixels that encode their own position: R = x & 255, G = (x >> 8) | (y >> 8) << 4, B = y & 255."""
    assert width <= 4096 and height <= 4096
    y, x = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack([x & 255, (x >> 8) | ((y >> 8) << 4), y & 255], axis=-1).astype(np.uint8)


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


class Writer:
    def __init__(self, root: str):
        self.root = root
        self.payload_dir = os.path.join(root, "imaging")
        os.makedirs(self.payload_dir, exist_ok=True)
        self.written: list[str] = []

    def payload(self, name: str, data: bytes) -> dict:
        path = os.path.join(self.payload_dir, name)
        with open(path, "wb") as f:
            f.write(data)
        self.written.append(name)
        return {"file": "imaging/" + name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def nearest_index_cases() -> list[dict]:
    sizes = [(640, 480, 224, 224), (300, 500, 224, 224), (100, 75, 224, 224), (2000, 1500, 224, 224),
             (225, 224, 224, 224), (1280, 720, 224, 224), (4000, 3000, 224, 224), (333, 333, 224, 224),
             (7, 5, 224, 224), (640, 480, 160, 120), (1920, 1080, 299, 299)]
    cases = []
    for w, h, ow, oh in sizes:
        out = np.asarray(Image.fromarray(coordinate_image(w, h)).resize((ow, oh), Image.Resampling.NEAREST))
        out = out.astype(np.int64)
        xs = out[0, :, 0] | ((out[0, :, 1] & 15) << 8)
        ys = out[:, 0, 2] | ((out[:, 0, 1] >> 4) << 8)
        # The walk is separable: every row uses the same columns and every column the same rows.
        assert (((out[:, :, 0] | ((out[:, :, 1] & 15) << 8)) == xs[None, :]).all())
        assert (((out[:, :, 2] | ((out[:, :, 1] >> 4) << 8)) == ys[:, None]).all())
        closed_form = np.floor((np.arange(ow) + 0.5) * (w / ow)).astype(np.int64)
        cases.append({"source": [w, h], "target": [ow, oh], "columns": xs.tolist(), "rows": ys.tolist(),
                      "columns_differing_from_closed_form": int((closed_form != xs).sum())})
    return cases


def random_sizes(rng: random.Random, count: int) -> list[tuple[int, int, int, int]]:
    sizes = []
    for i in range(count):
        kind = i % 4
        if kind == 0:    # shrink both to the network size
            sizes.append((rng.randint(225, 900), rng.randint(225, 900), 224, 224))
        elif kind == 1:  # near the vertical-first boundary: (h - oh) vs 2 (w - ow)
            ow = oh = rng.choice([64, 96, 224])
            w = rng.randint(ow + 1, ow + 300)
            h = oh + 2 * (w - ow) + rng.choice([-2, -1, 0, 1, 2, 3])
            sizes.append((w, h, ow, oh))
        elif kind == 2:  # enlarge one or both axes
            sizes.append((rng.randint(8, 300), rng.randint(8, 300), rng.randint(50, 320), rng.randint(50, 320)))
        else:            # arbitrary
            sizes.append((rng.randint(20, 700), rng.randint(20, 700), rng.randint(16, 300), rng.randint(16, 300)))
    return sizes


def sweep(method: Image.Resampling, rng: random.Random, count: int) -> list[dict]:
    cases = []
    for i, (w, h, ow, oh) in enumerate(random_sizes(rng, count)):
        seed = 1000 + i
        out = np.asarray(Image.fromarray(pattern(w, h, seed)).resize((ow, oh), method))
        cases.append({"source": [w, h], "seed": seed, "target": [ow, oh], "sha256": sha256(out)})
    return cases


def bilinear_full(writer: Writer) -> list[dict]:
    cases = []
    for name, (w, h, ow, oh, seed) in {"bilinear-640x480-224": (640, 480, 224, 224, 7),
                                       "bilinear-230x700-160": (230, 700, 160, 160, 8)}.items():
        out = np.asarray(Image.fromarray(pattern(w, h, seed)).resize((ow, oh), Image.Resampling.BILINEAR))
        entry = {"name": name, "source": [w, h], "seed": seed, "target": [ow, oh]}
        entry.update(writer.payload(name + ".u8", out.tobytes()))
        cases.append(entry)
    return cases


def area_cases(writer: Writer) -> list[dict]:
    cases = []
    for name, (w, h, ow, oh, seed) in {"area-97x61-40x30": (97, 61, 40, 30, 21),
                                       "area-30x20-45x50": (30, 20, 45, 50, 22),
                                       "area-50x40-20x60": (50, 40, 20, 60, 23),
                                       "area-160x120-64x48": (160, 120, 64, 48, 24)}.items():
        src = pattern(w, h, seed).astype(np.float64)
        out = np.einsum("ij,jkc->ikc", area_weights(h, oh), np.einsum("kl,jlc->jkc", area_weights(w, ow), src))
        entry = {"name": name, "source": [w, h], "seed": seed, "target": [ow, oh]}
        entry.update(writer.payload(name + ".f32", out.astype("<f4").tobytes()))
        cases.append(entry)
    return cases


def affine_cases(writer: Writer) -> list[dict]:
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    generator = ImageDataGenerator(fill_mode="nearest", data_format="channels_last")
    parameter_sets = {
        "rotate": (40, 40, {"theta": 10.0}),
        "shift": (40, 40, {"tx": 3.7, "ty": -2.2}),
        "zoom": (40, 40, {"zx": 0.9, "zy": 1.1}),
        "combined-flip": (40, 40, {"theta": -7.5, "tx": -4.0, "ty": 2.5, "zx": 1.08, "zy": 0.93,
                                   "flip_horizontal": True}),
        "non-square": (32, 48, {"theta": 12.0, "tx": 2.0, "ty": -3.0, "zx": 1.1, "zy": 0.95}),
        "far-out-flip-vertical": (40, 40, {"theta": 30.0, "tx": 15.0, "ty": -18.0, "zx": 1.3, "zy": 0.7,
                                           "flip_vertical": True}),
    }
    cases = []
    for i, (name, (h, w, params)) in enumerate(parameter_sets.items()):
        seed = 40 + i
        x = float_pattern(w, h, seed)
        full = {"theta": 0.0, "tx": 0.0, "ty": 0.0, "shear": 0.0, "zx": 1.0, "zy": 1.0,
                "flip_horizontal": False, "flip_vertical": False, "channel_shift_intensity": None,
                "brightness": None}
        full.update(params)
        out = generator.apply_transform(x, full).astype(np.float32)
        assert out.shape == x.shape
        entry = {"name": name, "height": h, "width": w, "seed": seed,
                 "parameters": {k: v for k, v in full.items() if k in ("theta", "tx", "ty", "zx", "zy",
                                                                       "flip_horizontal", "flip_vertical")}}
        entry.update(writer.payload("affine-" + name + ".f32", out.astype("<f4").tobytes()))
        cases.append(entry)
    return cases


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def decode_cases(writer: Writer) -> list[dict]:
    rgb = Image.fromarray(pattern(50, 34, 31))
    rgba = Image.fromarray(np.dstack([pattern(40, 30, 32), pattern(40, 30, 33)[:, :, :1]]), "RGBA")
    gray = Image.fromarray(pattern(45, 29, 34)[:, :, 0], "L")
    palette = rgb.quantize(colors=200, dither=Image.Dither.NONE)
    palette.info["transparency"] = 5
    palette16 = rgb.quantize(colors=16, dither=Image.Dither.NONE)
    files = {
        "jpeg-baseline-444.jpg": encode(rgb, "JPEG", quality=90, subsampling=0),
        "jpeg-baseline-420.jpg": encode(rgb, "JPEG", quality=75, subsampling=2),
        "jpeg-progressive-422.jpg": encode(rgb, "JPEG", quality=85, subsampling=1, progressive=True),
        "jpeg-gray.jpg": encode(gray, "JPEG", quality=90),
        "jpeg-cmyk-adobe.jpg": encode(rgb.convert("CMYK"), "JPEG", quality=90),
        "png-rgb.png": encode(rgb, "PNG"),
        "png-rgba.png": encode(rgba, "PNG"),
        "png-gray-alpha.png": encode(rgba.convert("LA"), "PNG"),
        "png-palette-trns.png": encode(palette, "PNG", transparency=5),
        "png-palette-4bit.png": encode(palette16, "PNG", bits=4),
        "png-1bit.png": encode(gray.convert("1"), "PNG"),
        "webp-lossless.webp": encode(rgb, "WEBP", lossless=True),
        "webp-lossless-alpha.webp": encode(rgba, "WEBP", lossless=True),
        "webp-lossy.webp": encode(rgb, "WEBP", quality=80),
    }
    cases = []
    for name, data in files.items():
        decoded = Image.open(io.BytesIO(data))
        mode = decoded.mode
        pixels = np.asarray(decoded.convert("RGB"))
        entry = {"name": name, "pillow_mode": mode, "width": pixels.shape[1], "height": pixels.shape[0],
                 # Lossy WebP: the decoder's YUV->RGB conversion may differ between libwebp versions.
                 "tolerance": 2 if name == "webp-lossy.webp" else 0}
        entry["encoded"] = writer.payload(name, data)
        entry["pixels"] = writer.payload(name + ".rgb.u8", pixels.tobytes())
        cases.append(entry)
    # EXIF orientation: an asymmetric 7x4 PNG stored with each orientation, and Pillow's upright result.
    small = Image.fromarray(pattern(7, 4, 35))
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        data = encode(small, "PNG", exif=exif.tobytes())
        upright = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
        name = f"png-exif-orientation-{orientation}.png"
        entry = {"name": name, "orientation": orientation, "width": upright.shape[1], "height": upright.shape[0],
                 "tolerance": 0, "upright": True}
        entry["encoded"] = writer.payload(name, data)
        entry["pixels"] = writer.payload(name + ".rgb.u8", upright.tobytes())
        cases.append(entry)
    return cases


def compact_json(manifest: dict) -> str:
    """One top-level key per line and one case per line: readable diffs without a line per number."""
    lines = []
    for key, value in manifest.items():
        if isinstance(value, list):
            items = ",\n  ".join(json.dumps(item, separators=(",", ":")) for item in value)
            lines.append(f"{json.dumps(key)}: [\n  {items}\n ]")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value)}")
    return "{\n " + ",\n ".join(lines) + "\n}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ImagingTests", "Golden")
    parser.add_argument("--out", default=default_out)
    args = parser.parse_args()
    writer = Writer(os.path.abspath(args.out))
    import keras  # noqa: F401  (version recorded below)

    rng = random.Random(SWEEP_SEED)
    nearest_index = nearest_index_cases()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generator": {
            "script": "Scripts/make-imaging-golden.py",
            "python": platform.python_version(),
            "pillow": PIL.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "keras": sys.modules["keras"].__version__,
        },
        "pattern": "see pattern() in Scripts/make-imaging-golden.py",
        "nearest_index": nearest_index,
        "nearest_sweep": sweep(Image.Resampling.NEAREST, rng, 40),
        "bilinear_full": bilinear_full(writer),
        "bilinear_sweep": sweep(Image.Resampling.BILINEAR, rng, 80),
        "area": area_cases(writer),
        "affine": affine_cases(writer),
        "decode": decode_cases(writer),
    }
    with open(os.path.join(writer.root, "imaging-golden.json"), "w") as f:
        f.write(compact_json(manifest))
    total = sum(os.path.getsize(os.path.join(writer.payload_dir, n)) for n in writer.written)
    differing = [c["columns_differing_from_closed_form"] for c in nearest_index]
    print(f"wrote {len(writer.written)} payloads ({total / 1024:.0f} KiB) and imaging-golden.json to {writer.root}")
    print(f"nearest: columns where Pillow's running sum differs from floor((i+0.5)*scale): {differing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
