#!/usr/bin/env python3
"""Export DogDoor's network to ONNX, the ONNX Runtime reference the benchmark compares against.

The graph (opset 17, NCHW) is the Keras tutorial model: 13 x (Conv 3x3 pad 1 + Relu) with a 2x2/2 MaxPool
after each block, GlobalAveragePool, Flatten and a Gemm head. Batch, height and width are dynamic.
Input `images` [batch, 3, height, width] float32 (preprocessed, channels first); outputs `logits`
[batch, 1] and `features` [batch, 512].

Weights come from vgg16-notop.safetensors with the golden file's seeded head, or, with --model, from a
DogDoor model file (its conv weights and its head: a fine-tuned model's conv base differs from the
imported one). Before writing, ONNX Runtime runs the model on the golden inputs (transposed to NCHW) and
its logits must match the float64 reference within 1e-4 (max|diff| / max|reference|). Exit status 1
otherwise. Needs onnx and onnxruntime (pip install -r Scripts/requirements-onnx.txt).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dogdoor_tensors as dt  # noqa: E402

OPSET = 17
#: IR version 8 is the one that introduced opset 17; older runtimes can load it.
IR_VERSION = 8
TOLERANCE = 1e-4
MODEL_FORMAT = "dogdoor-model"

DEFAULT_WEIGHTS = os.path.join("var", "weights", "vgg16-notop.safetensors")
DEFAULT_GOLDEN = os.path.join("Tests", "NeuralNetTests", "Golden", "vgg16-golden.safetensors")
DEFAULT_OUTPUT = os.path.join("var", "onnx", "dogdoor-vgg16.onnx")


class Refusal(Exception):
    """The export was refused; the message says which file and why."""


def build_model(weights: dict[str, np.ndarray], head_kernel: np.ndarray, head_bias: np.ndarray,
                description: str, properties: dict[str, str] | None = None):
    """The ONNX ModelProto of the network with `weights` (HWIO, as stored) and the Dense(1) head."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, initializers = [], []
    x = "images"
    for name, cin, cout in dt.CONV_LAYERS:
        kernel = np.ascontiguousarray(np.transpose(weights[f"{name}.kernel"], (3, 2, 0, 1)), dtype=np.float32)
        initializers.append(numpy_helper.from_array(kernel, f"{name}.kernel_oihw"))
        initializers.append(numpy_helper.from_array(np.asarray(weights[f"{name}.bias"], np.float32), f"{name}.bias"))
        nodes.append(helper.make_node("Conv", [x, f"{name}.kernel_oihw", f"{name}.bias"], [f"{name}.conv"], name=name,
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]))
        nodes.append(helper.make_node("Relu", [f"{name}.conv"], [f"{name}.relu"], name=f"{name}_relu"))
        x = f"{name}.relu"
        if name in dt.POOLED_AFTER:
            pool = name.split("_")[0] + "_pool"
            nodes.append(helper.make_node("MaxPool", [x], [pool], name=pool, kernel_shape=[2, 2], strides=[2, 2]))
            x = pool
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="global_average_pool"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["features"], name="flatten", axis=1))
    initializers.append(numpy_helper.from_array(np.asarray(head_kernel, np.float32).reshape(dt.FEATURE_COUNT, 1),
                                                "head.kernel"))
    initializers.append(numpy_helper.from_array(np.asarray(head_bias, np.float32).reshape(1), "head.bias"))
    nodes.append(helper.make_node("Gemm", ["features", "head.kernel", "head.bias"], ["logits"], name="head"))
    graph = helper.make_graph(
        nodes, "dogdoor_vgg16",
        inputs=[helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        outputs=[helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1]),
                 helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", dt.FEATURE_COUNT])],
        initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="DogDoor Scripts/export-onnx.py", doc_string=description)
    for key, value in (properties or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    return model


def run_onnx(serialized: bytes, images_nhwc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logits [N], features [N, 512]) from ONNX Runtime's CPU provider for NHWC images."""
    import onnxruntime as ort

    session = ort.InferenceSession(serialized, providers=["CPUExecutionProvider"])
    images = np.ascontiguousarray(np.transpose(images_nhwc, (0, 3, 1, 2)), dtype=np.float32)
    logits, features = session.run(["logits", "features"], {"images": images})
    return logits[:, 0], features


def load_sources(args, root: str):
    """(conv weights, head kernel, head bias, description, metadata properties) for the chosen source."""
    golden_path = args.golden or os.path.join(root, DEFAULT_GOLDEN)
    try:
        golden = dt.SafetensorsFile(golden_path)
    except dt.SafetensorsError as e:
        raise Refusal(f"{e} (make it with Scripts/make-golden.py)") from e
    properties = {}
    try:
        if args.model:
            model = dt.SafetensorsFile(args.model)
            if model.metadata.get("format") != MODEL_FORMAT:
                raise Refusal(f"{args.model}: not a DogDoor model (its __metadata__ format is "
                              f"{model.metadata.get('format')!r}, expected {MODEL_FORMAT!r})")
            weights = dt.load_conv_base(model, allow_extra=[name for name, _ in dt.HEAD_TENSOR_LAYOUT])
            head_kernel = model.float32("head.kernel", (dt.FEATURE_COUNT, 1))
            head_bias = model.float32("head.bias", (1,))
            if not (np.isfinite(head_kernel).all() and np.isfinite(head_bias).all()):
                raise Refusal(f"{args.model}: the head contains NaN or infinity")
            description = f"DogDoor model {os.path.basename(args.model)}"
            properties["dogdoor_model_sha256"] = dt.sha256_file(args.model)
        else:
            weights_path = args.weights or os.path.join(root, DEFAULT_WEIGHTS)
            weights_file = dt.SafetensorsFile(weights_path)
            weights = dt.load_conv_base(weights_file)
            head_kernel = golden.float32("head.kernel", (dt.FEATURE_COUNT, 1))
            head_bias = golden.float32("head.bias", (1,))
            description = (f"VGG16 conv base from {os.path.basename(weights_path)} with the golden seeded head "
                           f"({golden.metadata.get('head', 'Dense(1)')})")
            properties["weights_file_sha256"] = dt.sha256_file(weights_path)
    except dt.SafetensorsError as e:
        raise Refusal(str(e)) from e
    properties["conv_tensors_sha256"] = dt.tensors_digest(weights, dt.BASE_TENSOR_LAYOUT)
    return golden, weights, head_kernel, head_bias, description, properties


def reference_logits(golden: dt.SafetensorsFile, weights, head_kernel, head_bias, conv_digest: str) -> tuple[np.ndarray, str]:
    """float64 logits for the golden inputs and how they were obtained: the golden file's own when its
    weights and head are the ones exported, its float64 features with another head when only the conv
    base matches, else a fresh float64 forward pass."""
    same_base = golden.metadata.get("weights_tensors_sha256") == conv_digest
    golden_kernel = golden.float32("head.kernel", (dt.FEATURE_COUNT, 1))
    golden_bias = golden.float32("head.bias", (1,))
    if same_base and np.array_equal(golden_kernel, head_kernel) and np.array_equal(golden_bias, head_bias):
        return np.asarray(golden.tensor("f64.logits"), np.float64), "golden f64.logits"
    if same_base:
        return dt.dense_f64(golden.tensor("f64.features"), head_kernel, head_bias), "golden f64.features with this head"
    print("conv weights differ from the golden file's: computing a float64 reference forward pass", flush=True)
    inputs = golden.float32("inputs")
    features = np.concatenate([dt.vgg16_features_f64(image[None], weights) for image in inputs])
    return dt.dense_f64(features, head_kernel, head_bias), "a float64 forward pass with these weights"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export the DogDoor network to ONNX and check it with ONNX Runtime.")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--weights", metavar="PATH",
                        help=f"conv-base weights (default: {DEFAULT_WEIGHTS}); the head is the golden file's")
    source.add_argument("--model", metavar="PATH", help="a DogDoor model file: export its conv weights and head")
    parser.add_argument("--golden", metavar="PATH", help=f"golden data (default: {DEFAULT_GOLDEN})")
    parser.add_argument("--output", metavar="PATH", help=f"ONNX file to write (default: {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)
    root = dt.repo_root()
    output = args.output or os.path.join(root, DEFAULT_OUTPUT)
    try:
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError as e:
            raise Refusal(f"{e.name} is not installed (pip install -r Scripts/requirements-onnx.txt)") from e
        golden, weights, head_kernel, head_bias, description, properties = load_sources(args, root)
        model = build_model(weights, head_kernel, head_bias, description, properties)
        serialized = model.SerializeToString()
        reference, how = reference_logits(golden, weights, head_kernel, head_bias, properties["conv_tensors_sha256"])
        logits, _ = run_onnx(serialized, golden.float32("inputs"))
        error = dt.relative_error(logits, reference)
        print(f"ONNX Runtime logits {np.array2string(logits, precision=6)}")
        print(f"reference ({how}) {np.array2string(reference, precision=6)}")
        print(f"max|diff| / max|reference| = {error:.2e} (allowed {TOLERANCE:g})")
        if not error <= TOLERANCE:
            raise Refusal(f"ONNX Runtime disagrees with the float64 reference: {error:.3e} > {TOLERANCE:g}; "
                          "nothing written")
        dt.atomic_write(output, [serialized])
    except Refusal as e:
        print(f"export-onnx: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"export-onnx: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({len(serialized):,} bytes, opset {OPSET}, {description})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
