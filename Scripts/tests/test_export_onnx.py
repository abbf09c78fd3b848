"""Tests of Scripts/export-onnx.py (skipped where onnx and onnxruntime are not installed)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import dt, load_script, run_script

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
eo = load_script("export-onnx")


@pytest.fixture(scope="module")
def small_setup(tmp_path_factory, vgg_weights):
    """Random VGG16 weights scaled to keep activations alive, a head, and a small golden-like file
    (two 32x32 inputs with their float64 features and logits) so every check runs in seconds."""
    directory = tmp_path_factory.mktemp("onnx")
    weights = {}
    for name, cin, cout in dt.CONV_LAYERS:
        weights[f"{name}.kernel"] = vgg_weights[name]["kernel"] * np.float32(100 * np.sqrt(2 / (9 * cin)))
        weights[f"{name}.bias"] = vgg_weights[name]["bias"]
    rng = np.random.default_rng(9)
    head_kernel = rng.standard_normal((512, 1)).astype(np.float32) * 0.05
    head_bias = np.array([0.25], np.float32)
    inputs = rng.uniform(-100, 100, (2, 32, 32, 3)).astype(np.float32)
    features = dt.vgg16_features_f64(inputs, weights)
    weights_path = str(directory / "w.safetensors")
    dt.write_safetensors(weights_path, [(n, weights[n]) for n, _ in dt.BASE_TENSOR_LAYOUT], {})
    golden_path = str(directory / "golden.safetensors")
    dt.write_safetensors(golden_path, [
        ("inputs", inputs), ("head.kernel", head_kernel), ("head.bias", head_bias),
        ("f64.features", features), ("f64.logits", dt.dense_f64(features, head_kernel, head_bias)),
    ], {"weights_tensors_sha256": dt.tensors_digest(weights, dt.BASE_TENSOR_LAYOUT)})
    return directory, weights, head_kernel, head_bias, inputs, weights_path, golden_path


def test_graph_matches_the_float64_forward_with_dynamic_batch(small_setup):
    _, weights, head_kernel, head_bias, inputs, _, _ = small_setup
    model = eo.build_model(weights, head_kernel, head_bias, "test")
    assert model.opset_import[0].version == 17
    assert [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim] == ["batch", "", "height", "width"]
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Conv") == 13 and ops.count("Relu") == 13 and ops.count("MaxPool") == 5
    serialized = model.SerializeToString()
    features = dt.vgg16_features_f64(inputs, weights)
    assert np.count_nonzero(features) > 100, "test weights must keep activations alive"
    reference = dt.dense_f64(features, head_kernel, head_bias)
    logits, onnx_features = eo.run_onnx(serialized, inputs)
    assert dt.relative_error(logits, reference) < 1e-5
    assert dt.relative_error(onnx_features, features) < 1e-5
    single, _ = eo.run_onnx(serialized, inputs[1:])
    assert single.shape == (1,) and abs(single[0] - logits[1]) <= 1e-5 * np.abs(logits).max()


def test_cli_writes_a_checked_model(small_setup):
    directory, _, _, _, _, weights_path, golden_path = small_setup
    output = directory / "m.onnx"
    result = run_script("export-onnx", "--weights", weights_path, "--golden", golden_path, "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert "reference (golden f64.logits)" in result.stdout
    loaded = onnx.load(str(output))
    props = {p.key: p.value for p in loaded.metadata_props}
    assert props["weights_file_sha256"] == dt.sha256_file(weights_path)


def _model_file(path, weights, head_kernel, head_bias):
    tensors = [(n, weights[n]) for n, _ in dt.BASE_TENSOR_LAYOUT] + [("head.kernel", head_kernel), ("head.bias", head_bias)]
    dt.write_safetensors(str(path), tensors, {"format": "dogdoor-model", "dogdoor_manifest": "{}"})


def test_model_file_with_other_head_and_fine_tuned_base(small_setup):
    directory, weights, head_kernel, head_bias, _, _, golden_path = small_setup
    other_head = -head_kernel
    same_base = directory / "same-base.safetensors"
    _model_file(same_base, weights, other_head, head_bias)
    result = run_script("export-onnx", "--model", str(same_base), "--golden", golden_path,
                        "--output", str(directory / "a.onnx"))
    assert result.returncode == 0, result.stderr
    assert "golden f64.features with this head" in result.stdout

    tuned = dict(weights)
    tuned["block5_conv3.bias"] = weights["block5_conv3.bias"] + np.float32(0.5)
    tuned_model = directory / "tuned.safetensors"
    _model_file(tuned_model, tuned, head_kernel, head_bias)
    result = run_script("export-onnx", "--model", str(tuned_model), "--golden", golden_path,
                        "--output", str(directory / "b.onnx"))
    assert result.returncode == 0, result.stderr
    assert "a float64 forward pass with these weights" in result.stdout


def test_refuses_a_weights_file_as_model_and_a_wrong_reference(small_setup, tmp_path):
    _, weights, head_kernel, head_bias, inputs, weights_path, golden_path = small_setup
    result = run_script("export-onnx", "--model", weights_path, "--golden", golden_path,
                        "--output", str(tmp_path / "x.onnx"))
    assert result.returncode == 1 and "not a DogDoor model" in result.stderr
    # A golden file whose recorded logits are wrong must stop the export, and nothing is written.
    features = dt.vgg16_features_f64(inputs, weights)
    wrong = tmp_path / "wrong-golden.safetensors"
    dt.write_safetensors(str(wrong), [
        ("inputs", inputs), ("head.kernel", head_kernel), ("head.bias", head_bias),
        ("f64.features", features), ("f64.logits", dt.dense_f64(features, head_kernel, head_bias) + 1.0),
    ], {"weights_tensors_sha256": dt.tensors_digest(weights, dt.BASE_TENSOR_LAYOUT)})
    output = tmp_path / "y.onnx"
    result = run_script("export-onnx", "--weights", weights_path, "--golden", str(wrong), "--output", str(output))
    assert result.returncode == 1 and "disagrees with the float64 reference" in result.stderr
    assert not output.exists()
