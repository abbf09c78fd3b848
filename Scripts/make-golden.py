#!/usr/bin/env python3
"""Generate the VGG16 golden data the Swift tests compare against (Tests/NeuralNetTests/Golden/).

A one-off tool run by hand (it needs TensorFlow: pip install -r Scripts/requirements-golden.txt); CI only
reads its output. It builds the tutorial's model, Keras `VGG16(include_top=False)` with the weights of
vgg16-notop.safetensors followed by GlobalAveragePooling2D and a seeded Dense(1), and an independent
float64 forward pass in numpy (direct convolution, no Keras) as the high-precision reference. It checks
that the two agree, prints the numbers, and writes one safetensors file (F32 unless noted):

  inputs [3,224,224,3]             three synthetic photo-like images, sample-wise centred (NHWC)
  head.kernel [512,1], head.bias [1]   the Dense(1) head (glorot-uniform seed 1234, bias 0.25)
  keras.features [3,512], keras.logits [3]   Keras (float32) outputs
  f64.features [3,512], f64.logits [3]       float64 reference outputs, stored F64
  small.input [1,32,32,3]          a small synthetic image, sample-wise centred
  small.<conv layer> (13 tensors)  post-ReLU output of each conv for small.input (float64 forward)
  small.block5_pool [1,1,1,512]    the final max-pool's output for small.input

`__metadata__` records the weights file's sha256, the seeds, the generator's versions and the measured
Keras/float64 agreement. Exit status 1 when they disagree beyond the tolerance or an input is refused.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dogdoor_tensors as dt  # noqa: E402

FORMAT = "dogdoor-vgg16-golden"
FORMAT_VERSION = "1"
INPUT_SEED = 20_240_607
HEAD_SEED = 1234
HEAD_BIAS = 0.25
SIDE = 224
SMALL_SIDE = 32
IMAGES = 3
#: Keras (float32) against the float64 reference, as max|diff| / max|reference|.
TOLERANCE = 1e-4
MAX_OUTPUT_BYTES = 4 * 1024 * 1024

DEFAULT_WEIGHTS = os.path.join("var", "weights", "vgg16-notop.safetensors")
DEFAULT_OUTPUT = os.path.join("Tests", "NeuralNetTests", "Golden", "vgg16-golden.safetensors")


class Refusal(Exception):
    """The golden data cannot be made; the message says why."""


# --------------------------------------------------------------------------------------------------
# Synthetic inputs
# --------------------------------------------------------------------------------------------------


def smooth_field(rng: np.random.Generator, side: int, cells: int) -> np.ndarray:
    """A smooth random field [side, side, 3] in [-1, 1]: uniform noise on a (cells+1)^2 grid,
    bilinearly interpolated."""
    grid = rng.uniform(-1.0, 1.0, (cells + 1, cells + 1, 3))
    position = np.linspace(0.0, cells, side)
    i0 = np.minimum(np.floor(position).astype(int), cells - 1)
    t = position - i0
    rows = grid[i0] * (1 - t)[:, None, None] + grid[i0 + 1] * t[:, None, None]
    return rows[:, i0] * (1 - t)[None, :, None] + rows[:, i0 + 1] * t[None, :, None]


def synthetic_photo(rng: np.random.Generator, side: int) -> np.ndarray:
    """An RGB image [side, side, 3] of integers in 0...255 that has what photos have: smooth shading at
    two scales, a colour cast, objects with sharp edges (rectangles, discs, a half-plane boundary) carrying
    their own shading, sensor noise and clipped highlights."""
    image = (rng.uniform(90, 160) + rng.uniform(-25, 25, 3)
             + 55 * smooth_field(rng, side, 3) + 20 * smooth_field(rng, side, 11))
    y, x = np.mgrid[0:side, 0:side] / side
    for _ in range(rng.integers(4, 8)):
        kind = rng.integers(0, 3)
        if kind == 0:
            x0, x1 = np.sort(rng.uniform(-0.1, 1.1, 2))
            y0, y1 = np.sort(rng.uniform(-0.1, 1.1, 2))
            mask = (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
        elif kind == 1:
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.08, 0.35)
            mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        else:
            angle, offset = rng.uniform(0, 2 * np.pi), rng.uniform(-0.3, 0.3)
            mask = (x - 0.5) * np.cos(angle) + (y - 0.5) * np.sin(angle) > offset
        colour = rng.uniform(0, 255, 3) * (1 + 0.2 * smooth_field(rng, side, 5))
        image = np.where(mask[:, :, None], colour, image)
    image += rng.normal(0, 4, image.shape)
    return np.clip(np.round(image), 0, 255)


def samplewise_centre(image: np.ndarray) -> np.ndarray:
    """The image minus the single mean over all its values (Keras's samplewise_center), as float32."""
    image = np.asarray(image, np.float64)
    return (image - image.mean()).astype(np.float32)


def make_inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The [3,224,224,3] and [1,32,32,3] centred inputs for `seed`."""
    rng = np.random.default_rng(seed)
    large = np.stack([samplewise_centre(synthetic_photo(rng, SIDE)) for _ in range(IMAGES)])
    small = samplewise_centre(synthetic_photo(rng, SMALL_SIDE))[None]
    return large, small


# --------------------------------------------------------------------------------------------------
# Keras model
# --------------------------------------------------------------------------------------------------


def keras_model(weights: dict[str, np.ndarray]):
    """The tutorial's network: VGG16 conv base with `weights`, GlobalAveragePooling2D, seeded Dense(1).
    Returns (model giving [features, logits], model giving every conv's and block5_pool's output, dense)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    for name in dt.CONV_NAMES:
        base.get_layer(name).set_weights([weights[f"{name}.kernel"], weights[f"{name}.bias"]])
    features = keras.layers.GlobalAveragePooling2D(name="gap")(base.output)
    dense = keras.layers.Dense(1, name="head",
                               kernel_initializer=keras.initializers.GlorotUniform(seed=HEAD_SEED),
                               bias_initializer=keras.initializers.Constant(HEAD_BIAS))
    logits = dense(features)
    model = keras.Model(base.input, [features, logits])
    layers = keras.Model(base.input, [base.get_layer(n).output for n in (*dt.CONV_NAMES, "block5_pool")])
    return model, layers, dense


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def make_golden(weights_path: str, seed: int) -> tuple[list[tuple[str, np.ndarray]], dict[str, str]]:
    """Computes every golden tensor and the metadata; raises Refusal when Keras and float64 disagree."""
    try:
        weights_file = dt.SafetensorsFile(weights_path)
        weights = {name: np.array(a) for name, a in dt.load_conv_base(weights_file).items()}
    except dt.SafetensorsError as e:
        raise Refusal(f"{e} (run Scripts/setup.sh to import the weights)") from e
    inputs, small = make_inputs(seed)

    print(f"Keras forward ({IMAGES} x {SIDE}x{SIDE}, and {SMALL_SIDE}x{SMALL_SIDE} per layer)", flush=True)
    model, layer_model, dense = keras_model(weights)
    keras_features, keras_logits = (np.asarray(t) for t in model(inputs, training=False))
    keras_layers = [np.asarray(t) for t in layer_model(small, training=False)]
    head_kernel, head_bias = (np.asarray(v, np.float32) for v in dense.get_weights())

    print("float64 reference forward", flush=True)
    f64_features = np.concatenate([dt.vgg16_features_f64(image[None], weights) for image in inputs])
    f64_logits = dt.dense_f64(f64_features, head_kernel, head_bias)
    captured: dict[str, np.ndarray] = {}
    dt.vgg16_features_f64(small, weights, capture=lambda name, a: captured.__setitem__(name, a))

    errors = {
        "features": dt.relative_error(keras_features, f64_features),
        "logits": dt.relative_error(keras_logits[:, 0], f64_logits),
    }
    print("Keras float32 vs float64 reference, max|diff| / max|ref|:")
    for name, reference in zip((*dt.CONV_NAMES, "block5_pool"), keras_layers):
        error = dt.relative_error(reference, captured[name])
        errors[f"small.{name}"] = error
        print(f"  small.{name:<14} {error:.2e}")
    print(f"  features             {errors['features']:.2e}")
    print(f"  logits               {errors['logits']:.2e}   (f64 logits {np.array2string(f64_logits, precision=6)})")
    worst = max(errors, key=errors.get)
    if errors[worst] > TOLERANCE:
        raise Refusal(f"Keras and the float64 reference disagree on {worst}: {errors[worst]:.3e} > {TOLERANCE:g}")

    import keras
    import tensorflow as tf

    tensors: list[tuple[str, np.ndarray]] = [
        ("inputs", inputs),
        ("head.kernel", head_kernel),
        ("head.bias", head_bias),
        ("keras.features", keras_features.astype(np.float32)),
        ("keras.logits", keras_logits[:, 0].astype(np.float32)),
        ("f64.features", f64_features.astype(np.float64)),
        ("f64.logits", f64_logits.astype(np.float64)),
        ("small.input", small),
    ] + [(f"small.{name}", captured[name].astype(np.float32)) for name in (*dt.CONV_NAMES, "block5_pool")]
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generator": "Scripts/make-golden.py",
        "weights_file": os.path.basename(weights_path),
        "weights_file_sha256": dt.sha256_file(weights_path),
        "weights_tensors_sha256": dt.tensors_digest(weights, dt.BASE_TENSOR_LAYOUT),
        "weights_source_sha256": weights_file.metadata.get("source_sha256", ""),
        "input_seed": str(seed),
        "inputs": "NHWC float32; synthetic RGB images of integers 0-255, sample-wise centred "
                  "(minus the single mean over all values of each image)",
        "head_seed": str(HEAD_SEED),
        "head": f"Dense(1), kernel GlorotUniform(seed={HEAD_SEED}) as Keras {keras.__version__} draws it, "
                f"bias {HEAD_BIAS}",
        "small": "small.<conv>: post-ReLU conv output and small.block5_pool: final max-pool output, "
                 "from the float64 forward, stored F32",
        "keras_vs_f64": ", ".join(f"{k}={v:.3e}" for k, v in errors.items() if not k.startswith("small."))
                        + f", small layers max={max(v for k, v in errors.items() if k.startswith('small.')):.3e}",
        "versions": f"python {platform.python_version()}, numpy {np.__version__}, "
                    f"tensorflow {tf.__version__}, keras {keras.__version__}",
    }
    return tensors, metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate Tests/NeuralNetTests/Golden/vgg16-golden.safetensors.")
    parser.add_argument("--weights", metavar="PATH",
                        help=f"VGG16 weights file (default: {DEFAULT_WEIGHTS} under the repository root)")
    parser.add_argument("--output", metavar="PATH",
                        help=f"golden file to write (default: {DEFAULT_OUTPUT} under the repository root)")
    parser.add_argument("--seed", type=int, default=INPUT_SEED, help=f"seed of the synthetic inputs (default {INPUT_SEED})")
    args = parser.parse_args(argv)
    root = dt.repo_root()
    weights = args.weights or os.path.join(root, DEFAULT_WEIGHTS)
    output = args.output or os.path.join(root, DEFAULT_OUTPUT)
    try:
        tensors, metadata = make_golden(weights, args.seed)
        size = len(dt.safetensors_header(tensors, metadata)) + sum(a.nbytes for _, a in tensors)
        if size > MAX_OUTPUT_BYTES:
            raise Refusal(f"golden data would be {size} bytes, over the {MAX_OUTPUT_BYTES} byte budget")
        dt.write_safetensors(output, tensors, metadata)
    except Refusal as e:
        print(f"make-golden: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"make-golden: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({size:,} bytes, {len(tensors)} tensors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
