"""Shared helpers of DogDoor's Python tools: the VGG16 conv-base layout, safetensors reading and writing,
atomic file writes, tensor digests and a float64 reference forward pass.

Only numpy is needed. The safetensors code mirrors Sources/NeuralNet/Safetensors.swift: an 8-byte
little-endian header length N, N bytes of JSON header padded with spaces so that 8 + N is a multiple of 8,
then the tensors' little-endian bytes packed without holes in header order.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import tempfile
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

# --------------------------------------------------------------------------------------------------
# VGG16 conv base (Keras `VGG16(include_top=False)`), NHWC activations, HWIO kernels.
# --------------------------------------------------------------------------------------------------

#: (number of convs, output channels) per block.
VGG16_BLOCKS: tuple[tuple[int, int], ...] = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))


def _conv_layers() -> tuple[tuple[str, int, int], ...]:
    layers = []
    cin = 3
    for b, (count, cout) in enumerate(VGG16_BLOCKS):
        for c in range(count):
            layers.append((f"block{b + 1}_conv{c + 1}", cin, cout))
            cin = cout
    return tuple(layers)


#: (name, input channels, output channels) of the 13 convolutions, in network order.
CONV_LAYERS: tuple[tuple[str, int, int], ...] = _conv_layers()
CONV_NAMES: tuple[str, ...] = tuple(name for name, _, _ in CONV_LAYERS)
#: The last conv of each block, which a 2x2/2 max-pool follows.
POOLED_AFTER: frozenset[str] = frozenset(f"block{b + 1}_conv{count}" for b, (count, _) in enumerate(VGG16_BLOCKS))
#: Tensors of a weights file, in canonical order: HWIO kernel then bias for each conv.
BASE_TENSOR_LAYOUT: tuple[tuple[str, tuple[int, ...]], ...] = tuple(
    entry
    for name, cin, cout in CONV_LAYERS
    for entry in ((f"{name}.kernel", (3, 3, cin, cout)), (f"{name}.bias", (cout,)))
)
BASE_PARAMETER_COUNT = 14_714_688
FEATURE_COUNT = 512
#: Head tensors of a DogDoor model file.
HEAD_TENSOR_LAYOUT: tuple[tuple[str, tuple[int, ...]], ...] = (("head.kernel", (FEATURE_COUNT, 1)), ("head.bias", (1,)))
#: Names that look like a VGG conv layer (`block3_conv4` of VGG19 matches too, on purpose).
VGG_LIKE_LAYER = re.compile(r"^block\d+_conv\d+$")

assert sum(int(np.prod(shape)) for _, shape in BASE_TENSOR_LAYOUT) == BASE_PARAMETER_COUNT

# --------------------------------------------------------------------------------------------------
# Hashing and atomic writes
# --------------------------------------------------------------------------------------------------


def sha256_file(path: str) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tensors_digest(tensors: Mapping[str, np.ndarray], layout: Sequence[tuple[str, tuple[int, ...]]]) -> str:
    """SHA-256 over `layout`'s tensors as Swift's `ModelFile.tensorDigest` defines it: for each tensor in
    order, its name, a newline, its shape as decimal dimensions joined by "x", a newline, and its float32
    little-endian bytes."""
    h = hashlib.sha256()
    for name, shape in layout:
        h.update(f"{name}\n{'x'.join(str(d) for d in shape)}\n".encode())
        h.update(np.ascontiguousarray(tensors[name], dtype="<f4").tobytes())
    return h.hexdigest()


def atomic_write(path: str, chunks: Iterable[bytes | memoryview]) -> None:
    """Writes `chunks` to `path` atomically: a temporary file in the same directory, fsync, rename over
    `path`, fsync of the directory. On any error the temporary file is removed and `path` is untouched."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# --------------------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------------------

#: safetensors dtype names and the little-endian numpy types this module reads and writes.
DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
#: dtypes the format knows but numpy cannot represent; readers recognise them and refuse to load them.
UNLOADABLE_DTYPES = frozenset({"BF16", "F8_E4M3", "F8_E5M2"})
MAX_HEADER_LENGTH = 100_000_000


class SafetensorsError(Exception):
    """A safetensors file is malformed or does not hold what was asked; the message names the file."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _dtype_name(array: np.ndarray) -> str:
    for name, dtype in DTYPES.items():
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize:
            return name
    raise ValueError(f"dtype {array.dtype} has no safetensors equivalent here")


def safetensors_header(tensors: Sequence[tuple[str, np.ndarray]], metadata: Mapping[str, str]) -> bytes:
    """The header (8-byte length prefix included) for `tensors` laid out in the order given.

    Metadata keys are sorted, as the Swift writer does, and the JSON is padded with spaces so that every
    tensor starts 8-byte aligned in the file."""
    header: dict[str, object] = {}
    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError(f"__metadata__ must map strings to strings; {key!r}: {value!r} does not")
        header["__metadata__"] = {key: metadata[key] for key in sorted(metadata)}
    offset = 0
    for name, array in tensors:
        if name == "__metadata__" or name in header:
            raise ValueError(f"tensor name {name!r} is reserved or repeated")
        size = array.size * array.dtype.itemsize
        header[name] = {"dtype": _dtype_name(array), "shape": list(array.shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    text += b" " * (-(8 + len(text)) % 8)
    return struct.pack("<Q", len(text)) + text


def write_safetensors(path: str, tensors: Sequence[tuple[str, np.ndarray]], metadata: Mapping[str, str]) -> None:
    """Writes `tensors` (name, array) in the order given with `metadata` as `__metadata__`, atomically.
    Arrays are stored little-endian with their own dtype (float32 for weights, float64 where asked)."""
    prepared = [(name, np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))) for name, a in tensors]
    header = safetensors_header(prepared, metadata)
    atomic_write(path, [header] + [memoryview(a).cast("B") if a.size else b"" for _, a in prepared])


class SafetensorsFile:
    """A safetensors file read into memory and validated completely, with the same rules as the Swift
    reader: entries are objects with exactly dtype/shape/data_offsets, sizes match shapes, tensors lie in
    the data area without overlaps or holes, and `__metadata__` maps strings to strings."""

    def __init__(self, path: str):
        self.path = path
        try:
            with open(path, "rb") as f:
                self._bytes = f.read()
        except OSError as e:
            raise SafetensorsError(path, f"cannot read: {e.strerror or e}") from e
        self.metadata, self.entries, self.data_offset = self._parse()

    def _fail(self, problem: str) -> SafetensorsError:
        return SafetensorsError(self.path, problem)

    def _parse(self):
        data = self._bytes
        if len(data) < 8:
            raise self._fail(f"file is {len(data)} bytes, too short for a safetensors header")
        (length,) = struct.unpack("<Q", data[:8])
        if length > MAX_HEADER_LENGTH:
            raise self._fail(f"header length {length} exceeds the 100 MB limit")
        if length > len(data) - 8:
            raise self._fail(f"header length {length} reaches beyond the end of the file ({len(data)} bytes)")
        try:
            header = json.loads(data[8:8 + length].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise self._fail(f"header is not valid JSON: {e}") from e
        if not isinstance(header, dict):
            raise self._fail("header is not a JSON object")
        metadata = header.pop("__metadata__", {})
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise self._fail("__metadata__ must be an object mapping strings to strings")
        data_size = len(data) - 8 - length
        entries: dict[str, tuple[str, tuple[int, ...], int, int]] = {}
        for name, entry in header.items():
            if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
                raise self._fail(f'tensor "{name}": entry must be an object with exactly dtype, shape and data_offsets')
            dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
            if dtype not in DTYPES and dtype not in UNLOADABLE_DTYPES:
                raise self._fail(f'tensor "{name}": unknown dtype "{dtype}"')
            if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
                raise self._fail(f'tensor "{name}": shape must be a list of non-negative integers')
            if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
                    or not 0 <= offsets[0] <= offsets[1]):
                raise self._fail(f'tensor "{name}": data_offsets must be [begin, end] with 0 <= begin <= end')
            itemsize = DTYPES[dtype].itemsize if dtype in DTYPES else (2 if dtype == "BF16" else 1)
            expected = int(np.prod(shape, dtype=np.int64)) * itemsize
            if offsets[1] - offsets[0] != expected:
                raise self._fail(f'tensor "{name}": shape and dtype need {expected} bytes '
                                 f"but data_offsets give {offsets[1] - offsets[0]}")
            if offsets[1] > data_size:
                raise self._fail(f'tensor "{name}": data ends at {offsets[1]}, beyond the data area of {data_size} bytes')
            entries[name] = (dtype, tuple(shape), offsets[0], offsets[1])
        cursor, previous = 0, None
        for name, (_, _, begin, end) in sorted(entries.items(), key=lambda item: (item[1][2], item[1][3])):
            if begin < cursor:
                raise self._fail(f'tensors "{previous}" and "{name}" overlap')
            if begin > cursor:
                raise self._fail(f"data area has {begin - cursor} unused bytes at offset {cursor}")
            if end > begin or previous is None:
                previous = name
            cursor = end
        if cursor < data_size:
            raise self._fail(f"data area has {data_size - cursor} unused bytes at offset {cursor}")
        return metadata, entries, 8 + length

    @property
    def names(self) -> list[str]:
        """Tensor names in data order."""
        return [name for name, _ in sorted(self.entries.items(), key=lambda item: (item[1][2], item[1][3]))]

    def tensor(self, name: str) -> np.ndarray:
        """A read-only array view of tensor `name` in its stored dtype."""
        if name not in self.entries:
            raise self._fail(f'tensor "{name}" is missing')
        dtype, shape, begin, end = self.entries[name]
        if dtype in UNLOADABLE_DTYPES:
            raise self._fail(f'tensor "{name}" is {dtype}, which these tools do not load')
        start = self.data_offset + begin
        return np.frombuffer(self._bytes, dtype=DTYPES[dtype], count=(end - begin) // DTYPES[dtype].itemsize,
                             offset=start).reshape(shape)

    def float32(self, name: str, shape: Sequence[int] | None = None) -> np.ndarray:
        """Tensor `name`, which must be F32 (and have `shape`, when given)."""
        array = self.tensor(name)
        if self.entries[name][0] != "F32":
            raise self._fail(f'tensor "{name}" is {self.entries[name][0]}, expected F32')
        if shape is not None and array.shape != tuple(shape):
            raise self._fail(f'tensor "{name}" has shape {list(array.shape)}, expected {list(shape)}')
        return array

    def data_area(self) -> memoryview:
        """The bytes after the header."""
        return memoryview(self._bytes)[self.data_offset:]


def load_conv_base(file: SafetensorsFile, allow_extra: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """The 26 conv-base tensors of a weights or model file, checked against VGG16 names, shapes, F32 dtype
    and finiteness. Tensors other than the conv base and `allow_extra` are errors."""
    allowed = {name for name, _ in BASE_TENSOR_LAYOUT} | set(allow_extra)
    extra = sorted(set(file.entries) - allowed)
    if extra:
        raise SafetensorsError(file.path, f'unexpected tensor "{extra[0]}"')
    tensors = {}
    for name, shape in BASE_TENSOR_LAYOUT:
        array = file.float32(name, shape)
        if not np.isfinite(array).all():
            raise SafetensorsError(file.path, f'tensor "{name}" contains NaN or infinity')
        tensors[name] = array
    return tensors


# --------------------------------------------------------------------------------------------------
# float64 reference forward (direct convolution, no framework)
# --------------------------------------------------------------------------------------------------


def conv3x3_relu_f64(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """3x3 convolution with 'same' zero padding, stride 1, plus bias and ReLU, in float64.

    `x` is NHWC, `kernel` HWIO. Computed as the sum over the nine taps of the shifted input times that
    tap's [Cin, Cout] matrix (cross-correlation, as Keras's Conv2D)."""
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    n, h, w, cin = x.shape
    if kernel.shape[:3] != (3, 3, cin):
        raise ValueError(f"kernel shape {kernel.shape} does not fit input with {cin} channels")
    cout = kernel.shape[3]
    padded = np.zeros((n, h + 2, w + 2, cin))
    padded[:, 1:-1, 1:-1, :] = x
    out = np.empty((n * h * w, cout))
    out[:] = np.asarray(bias, dtype=np.float64)
    for dy in range(3):
        for dx in range(3):
            window = np.ascontiguousarray(padded[:, dy:dy + h, dx:dx + w, :]).reshape(-1, cin)
            out += window @ kernel[dy, dx]
    np.maximum(out, 0, out=out)
    return out.reshape(n, h, w, cout)


def maxpool2x2(x: np.ndarray) -> np.ndarray:
    """2x2 max-pool with stride 2 and 'valid' padding (an odd last row or column is dropped), NHWC."""
    n, h, w, c = x.shape
    h2, w2 = h // 2, w // 2
    return x[:, :2 * h2, :2 * w2, :].reshape(n, h2, 2, w2, 2, c).max(axis=(2, 4))


def vgg16_features_f64(x: np.ndarray, weights: Mapping[str, np.ndarray],
                       capture: Callable[[str, np.ndarray], None] | None = None) -> np.ndarray:
    """Global-average-pooled VGG16 conv-base features [N, 512] in float64 for NHWC input `x`.

    `capture(name, activation)`, when given, receives every conv's post-ReLU output (named after the
    layer) and the final pool's output (named `block5_pool`)."""
    a = np.asarray(x, dtype=np.float64)
    for name, _, _ in CONV_LAYERS:
        a = conv3x3_relu_f64(a, weights[f"{name}.kernel"], weights[f"{name}.bias"])
        if capture:
            capture(name, a)
        if name in POOLED_AFTER:
            a = maxpool2x2(a)
    if capture:
        capture("block5_pool", a)
    return a.mean(axis=(1, 2))


def dense_f64(features: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Logits [N] of the Dense(1) head in float64."""
    return (np.asarray(features, np.float64) @ np.asarray(kernel, np.float64))[:, 0] + float(np.asarray(bias)[0])


def relative_error(actual: np.ndarray, reference: np.ndarray) -> float:
    """max|actual - reference| / max|reference| (or the plain maximum difference when the reference is 0)."""
    actual = np.asarray(actual, np.float64)
    reference = np.asarray(reference, np.float64)
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    diff = float(np.max(np.abs(actual - reference))) if reference.size else 0.0
    return diff / scale if scale > 0 else diff


def repo_root() -> str:
    """The repository root (the parent of Scripts/)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


MASK32 = 0xFFFFFFFF


def pattern(width: int, height: int, seed: int) -> np.ndarray:
    """The shared synthetic test image, uint8 [height, width, 3]: a wrapped diagonal gradient plus
    5 bits of hashed noise. Integer-only, so Swift reproduces it exactly."""
    y, x, c = np.meshgrid(np.arange(height, dtype=np.uint64), np.arange(width, dtype=np.uint64),
                          np.arange(3, dtype=np.uint64), indexing="ij")
    s = np.uint64(seed)
    n = (x * np.uint64(0x9E3779B1) + y * np.uint64(0x85EBCA77) + c * np.uint64(0xC2B2AE3D)
         + s * np.uint64(0x27D4EB2F)) & np.uint64(MASK32)
    n ^= n >> np.uint64(15)
    n = (n * np.uint64(0x2C1B3C6D)) & np.uint64(MASK32)
    n ^= n >> np.uint64(12)
    n = (n * np.uint64(0x297A2D39)) & np.uint64(MASK32)
    n ^= n >> np.uint64(15)
    v = (x * np.uint64(5) + y * np.uint64(3) + c * np.uint64(71) + s * np.uint64(13)) % np.uint64(224)
    v += n % np.uint64(32)
    return v.astype(np.uint8)


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """Dense [n_out, n_in] float64 weights of the area method (see AreaResample in Resize.swift)."""
    m = np.zeros((n_out, n_in))
    if n_in == n_out:
        return np.eye(n_in)
    scale = n_in / n_out
    for i in range(n_out):
        if n_in > n_out:
            low, high = i * n_in / n_out, (i + 1) * n_in / n_out
            for j in range(int(np.floor(low)), min(int(np.ceil(high)), n_in)):
                m[i, j] = (min(high, j + 1) - max(low, j)) / scale
        else:
            p = min(max((i + 0.5) * scale - 0.5, 0.0), n_in - 1)
            j = int(np.floor(p))
            t = p - j
            m[i, j] += 1 - t
            if t > 0 and j + 1 < n_in:
                m[i, j + 1] += t
    return m
