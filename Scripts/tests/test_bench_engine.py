"""Tests of Scripts/bench-engine.py's own preprocessing: ONNX Runtime's int8 calibration must see the photos as
DogDoor does, so its reimplementation of DogDoor's area resize is checked against the imaging golden data."""

from __future__ import annotations

import json
import os

import numpy as np

from conftest import SCRIPTS, dt, load_script

be = load_script("bench-engine")
GOLDEN = os.path.join(os.path.dirname(SCRIPTS), "Tests/ImagingTests/Golden")


def test_area_resize_matches_the_float64_reference():
    cases = json.load(open(os.path.join(GOLDEN, "imaging-golden.json")))["area"]
    assert len(cases) == 4  # shrinking and enlarging, each axis
    for case in cases:
        (w, h), (ow, oh) = case["source"], case["target"]
        expected = np.fromfile(os.path.join(GOLDEN, case["file"]), dtype="<f4").reshape(oh, ow, 3)
        actual = be.area_resize(dt.pattern(w, h, case["seed"]), ow, oh)
        assert actual.shape == (oh, ow, 3) and actual.dtype == np.float32
        # float32 weights and sums against a float64 reference over 0...255: a few ulps of 255.
        assert np.max(np.abs(actual - expected)) < 1e-4, case["name"]


def test_calibration_files_alternate_the_classes(tmp_path):
    for name, count in (("bo", 3), ("not_bo", 5)):
        (tmp_path / name).mkdir()
        for i in range(count):
            (tmp_path / name / f"{i:02d}.jpg").write_bytes(b"")
    files = be.calibration_files(tmp_path, limit=4)
    assert [f.parent.name for f in files] == ["bo", "not_bo", "bo", "not_bo"]
    assert [f.name for f in files] == ["00.jpg", "00.jpg", "01.jpg", "01.jpg"]
