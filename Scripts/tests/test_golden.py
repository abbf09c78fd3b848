"""Tests of Scripts/make-golden.py's input generator and of the committed golden data (no TensorFlow needed)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import dt, load_script

mg = load_script("make-golden")
GOLDEN = os.path.join(dt.repo_root(), mg.DEFAULT_OUTPUT)
WEIGHTS = os.path.join(dt.repo_root(), mg.DEFAULT_WEIGHTS)


def test_synthetic_photos_are_photo_like_and_deterministic():
    rng = np.random.default_rng(11)
    image = mg.synthetic_photo(rng, 64)
    assert image.shape == (64, 64, 3)
    assert image.min() >= 0 and image.max() <= 255 and np.array_equal(image, np.round(image))
    # Smooth regions and sharp edges: most neighbour differences are small, some are large.
    steps = np.abs(np.diff(image, axis=1))
    assert np.median(steps) < 10 and steps.max() > 60
    assert np.array_equal(image, mg.synthetic_photo(np.random.default_rng(11), 64))


def test_samplewise_centre_subtracts_one_mean():
    image = np.arange(24, dtype=np.float64).reshape(2, 4, 3)
    centred = mg.samplewise_centre(image)
    assert centred.dtype == np.float32
    assert np.allclose(centred, image - 11.5)


@pytest.fixture(scope="module")
def golden():
    if not os.path.exists(GOLDEN):
        pytest.skip("golden data not generated")
    return dt.SafetensorsFile(GOLDEN)


def test_golden_layout(golden):
    expected = {
        "inputs": ("F32", (3, 224, 224, 3)), "head.kernel": ("F32", (512, 1)), "head.bias": ("F32", (1,)),
        "keras.features": ("F32", (3, 512)), "keras.logits": ("F32", (3,)),
        "f64.features": ("F64", (3, 512)), "f64.logits": ("F64", (3,)), "small.input": ("F32", (1, 32, 32, 3)),
        "small.block5_pool": ("F32", (1, 1, 1, 512)),
    }
    side = 32
    for name, _, cout in dt.CONV_LAYERS:
        expected[f"small.{name}"] = ("F32", (1, side, side, cout))
        if name in dt.POOLED_AFTER:
            side //= 2
    assert set(golden.names) == set(expected)
    for name, (dtype, shape) in expected.items():
        assert golden.entries[name][:2] == (dtype, shape), name
    assert os.path.getsize(GOLDEN) < 4 * 1024 * 1024


def test_golden_is_self_consistent(golden):
    inputs, small = mg.make_inputs(int(golden.metadata["input_seed"]))
    assert np.array_equal(golden.tensor("inputs"), inputs), "input generator changed: regenerate the golden data"
    assert np.array_equal(golden.tensor("small.input"), small)
    for image in golden.tensor("inputs"):
        assert abs(float(np.mean(image, dtype=np.float64))) < 1e-3
    f64 = dt.dense_f64(golden.tensor("f64.features"), golden.tensor("head.kernel"), golden.tensor("head.bias"))
    assert np.array_equal(f64, golden.tensor("f64.logits"))
    assert dt.relative_error(golden.tensor("keras.logits"), golden.tensor("f64.logits")) < mg.TOLERANCE
    assert dt.relative_error(golden.tensor("keras.features"), golden.tensor("f64.features")) < mg.TOLERANCE
    assert float(golden.tensor("head.bias")[0]) == mg.HEAD_BIAS


@pytest.mark.skipif(not os.path.exists(WEIGHTS), reason="Scripts/setup.sh has not imported the weights")
def test_golden_matches_the_imported_weights(golden):
    """Recomputes the per-layer references for the small input from the weights file."""
    weights_file = dt.SafetensorsFile(WEIGHTS)
    weights = dt.load_conv_base(weights_file)
    assert golden.metadata["weights_tensors_sha256"] == dt.tensors_digest(weights, dt.BASE_TENSOR_LAYOUT)
    seen = {}
    dt.vgg16_features_f64(golden.tensor("small.input"), weights, capture=lambda n, a: seen.__setitem__(n, a))
    for name, activation in seen.items():
        assert dt.relative_error(golden.tensor(f"small.{name}"), activation) < 1e-6, name
