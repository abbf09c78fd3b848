"""Tests of Scripts/dogdoor_tensors.py: safetensors reading and writing, digests, the float64 forward."""

from __future__ import annotations

import hashlib
import json
import os
import struct

import numpy as np
import pytest

from conftest import dt


def raw_file(path, header: dict, data: bytes, pad: bool = True):
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-(8 + len(text)) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return str(path)


def test_round_trip_f32_f64_and_metadata(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5
    b = np.array([1e-300, -2.5, np.pi])
    path = str(tmp_path / "t.safetensors")
    dt.write_safetensors(path, [("a", a), ("b", b), ("empty", np.zeros((0, 3), np.float32))], {"z": "1", "k": "v"})
    file = dt.SafetensorsFile(path)
    assert file.names == ["a", "b", "empty"]
    assert file.metadata == {"k": "v", "z": "1"}
    assert file.entries["b"][0] == "F64" and file.entries["a"][0] == "F32"
    assert np.array_equal(file.float32("a", (3, 4)), a)
    assert np.array_equal(file.tensor("b"), b)
    assert file.tensor("empty").shape == (0, 3)
    assert file.data_offset % 8 == 0
    assert bytes(file.data_area()) == a.astype("<f4").tobytes() + b.astype("<f8").tobytes()


def test_big_endian_input_is_stored_little_endian(tmp_path):
    a = np.array([1.5, -2.0], dtype=">f4")
    path = str(tmp_path / "t.safetensors")
    dt.write_safetensors(path, [("a", a)], {})
    assert bytes(dt.SafetensorsFile(path).data_area()) == struct.pack("<2f", 1.5, -2.0)


def test_writer_rejects_non_string_metadata_and_reserved_names(tmp_path):
    with pytest.raises(ValueError, match="strings to strings"):
        dt.write_safetensors(str(tmp_path / "m"), [("a", np.zeros(1, np.float32))], {"n": 1})
    with pytest.raises(ValueError, match="reserved or repeated"):
        dt.write_safetensors(str(tmp_path / "m"), [("__metadata__", np.zeros(1, np.float32))], {})
    assert os.listdir(tmp_path) == []


GOOD = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}


@pytest.mark.parametrize("header,data,message", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(12), "4 unused bytes at offset 8"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8), "4 unused bytes at offset 0"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8), 'tensors "a" and "b" overlap'),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8), "need 12 bytes but data_offsets give 8"),
    ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8), "beyond the data area of 8 bytes"),
    ({"a": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}}, bytes(8), 'unknown dtype "Q7"'),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "extra": 1}}, bytes(8), "exactly dtype"),
    ({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, bytes(8), "non-negative integers"),
    ({"__metadata__": {"k": 3}, **GOOD}, bytes(12), "strings to strings"),
])
def test_reader_rejects_malformed_files(tmp_path, header, data, message):
    path = raw_file(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(dt.SafetensorsError, match=message) as caught:
        dt.SafetensorsFile(path)
    assert str(caught.value).startswith(path + ": ")


def test_reader_rejects_truncated_and_non_json_headers(tmp_path):
    short = tmp_path / "short"
    short.write_bytes(b"\x01\x02")
    with pytest.raises(dt.SafetensorsError, match="too short"):
        dt.SafetensorsFile(str(short))
    beyond = tmp_path / "beyond"
    beyond.write_bytes(struct.pack("<Q", 100) + b"{}")
    with pytest.raises(dt.SafetensorsError, match="beyond the end of the file"):
        dt.SafetensorsFile(str(beyond))
    garbage = tmp_path / "garbage"
    garbage.write_bytes(struct.pack("<Q", 8) + b"not json")
    with pytest.raises(dt.SafetensorsError, match="not valid JSON"):
        dt.SafetensorsFile(str(garbage))


def test_float32_accessor_checks_dtype_and_shape(tmp_path):
    path = str(tmp_path / "t.safetensors")
    dt.write_safetensors(path, [("d", np.zeros(2)), ("f", np.zeros((2, 2), np.float32))], {})
    file = dt.SafetensorsFile(path)
    with pytest.raises(dt.SafetensorsError, match='"d" is F64, expected F32'):
        file.float32("d")
    with pytest.raises(dt.SafetensorsError, match=r'"f" has shape \[2, 2\], expected \[4\]'):
        file.float32("f", (4,))
    with pytest.raises(dt.SafetensorsError, match='"g" is missing'):
        file.tensor("g")


def test_tensors_digest_follows_the_swift_definition():
    layout = (("x.kernel", (2, 1)), ("x.bias", (1,)))
    tensors = {"x.kernel": np.array([[1.0], [2.0]], np.float32), "x.bias": np.array([-1.0], np.float32)}
    expected = hashlib.sha256(b"x.kernel\n2x1\n" + struct.pack("<2f", 1, 2) + b"x.bias\n1\n" + struct.pack("<f", -1))
    assert dt.tensors_digest(tensors, layout) == expected.hexdigest()


def test_layout_is_vgg16():
    assert len(dt.BASE_TENSOR_LAYOUT) == 26
    assert dt.BASE_TENSOR_LAYOUT[0] == ("block1_conv1.kernel", (3, 3, 3, 64))
    assert dt.BASE_TENSOR_LAYOUT[-1] == ("block5_conv3.bias", (512,))
    assert sum(int(np.prod(s)) for _, s in dt.BASE_TENSOR_LAYOUT) == 14_714_688
    assert sorted(dt.POOLED_AFTER) == ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]


def naive_conv3x3_relu(x, kernel, bias):
    """Textbook loops: out[n,y,x,o] = relu(b[o] + sum in[n,y+dy-1,x+dx-1,i] * k[dy,dx,i,o]), zero outside."""
    n, h, w, cin = x.shape
    out = np.zeros((n, h, w, kernel.shape[3]))
    for b in range(n):
        for y in range(h):
            for xx in range(w):
                total = bias.astype(np.float64).copy()
                for dy in range(3):
                    for dx in range(3):
                        sy, sx = y + dy - 1, xx + dx - 1
                        if 0 <= sy < h and 0 <= sx < w:
                            total += x[b, sy, sx].astype(np.float64) @ kernel[dy, dx].astype(np.float64)
                out[b, y, xx] = np.maximum(total, 0)
    return out


def test_conv3x3_relu_matches_textbook_loops():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, 7, 3))
    kernel = rng.standard_normal((3, 3, 3, 4))
    bias = rng.standard_normal(4)
    got = dt.conv3x3_relu_f64(x, kernel, bias)
    assert got.shape == (2, 5, 7, 4)
    assert np.allclose(got, naive_conv3x3_relu(x, kernel, bias), rtol=1e-12, atol=1e-12)
    assert np.any(got == 0) and np.any(got > 0)


def test_maxpool_drops_odd_edges():
    x = np.arange(2 * 5 * 5 * 1, dtype=np.float64).reshape(2, 5, 5, 1)
    pooled = dt.maxpool2x2(x)
    assert pooled.shape == (2, 2, 2, 1)
    assert pooled[0, :, :, 0].tolist() == [[6, 8], [16, 18]]


def test_vgg16_forward_captures_every_layer():
    rng = np.random.default_rng(2)
    weights = {name: rng.standard_normal(shape) * (0.5 / np.sqrt(np.prod(shape[:3])) if len(shape) == 4 else 0.01)
               for name, shape in dt.BASE_TENSOR_LAYOUT}
    x = rng.standard_normal((1, 32, 32, 3))
    seen = {}
    features = dt.vgg16_features_f64(x, weights, capture=lambda name, a: seen.__setitem__(name, a))
    assert list(seen) == [*dt.CONV_NAMES, "block5_pool"]
    assert seen["block1_conv1"].shape == (1, 32, 32, 64) and seen["block5_conv3"].shape == (1, 2, 2, 512)
    assert np.array_equal(seen["block1_conv1"], dt.conv3x3_relu_f64(x, weights["block1_conv1.kernel"],
                                                                   weights["block1_conv1.bias"]))
    assert seen["block5_pool"].shape == (1, 1, 1, 512)
    assert np.allclose(features, seen["block5_pool"].reshape(1, 512))


def test_relative_error():
    assert dt.relative_error([1.0, 2.0], [1.0, 4.0]) == pytest.approx(0.5)
    assert dt.relative_error([0.5], [0.0]) == pytest.approx(0.5)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def chunks():
        yield b"new"
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        dt.atomic_write(str(target), chunks())
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]
