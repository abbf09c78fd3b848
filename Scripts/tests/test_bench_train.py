"""Tests of Scripts/bench-train.py's pure parts: parsing dogdoor-train's output and epoch log, the Keras label
remapping and batch stream, the summaries and tables. Runs without TensorFlow and without training anything."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import load_script, run_script

bt = load_script("bench-train")

DOGDOOR_OUTPUT = """\
2026-11-29T17:54:58.035 NOTICE OpenBLAS picked slow kernels for this CPU; restarting with better ones detected=Prescott using=SkylakeX
images: train 18 bo / 120 not_bo, valid 10 / 20; skipped 1
OpenBLAS kernel: SkylakeX (OpenBLAS detected Prescott; corrected by DogDoor); 2 threads
Phase 1: training the new head on the frozen VGG16 base (2 epochs)
frozen epoch 1/2 - 1.3s - accuracy: 0.7500 - loss: 5.4943 - val_accuracy: 0.6667 - val_loss: 3.6122
frozen epoch 2/2 - 1.2s - accuracy: 0.8750 - loss: 1.4943 - val_accuracy: 0.8000 - val_loss: 1.6122
Phase 2: fine-tuning the unfrozen base (1 epochs)
fine-tune epoch 1/1 - 8.1s - accuracy: 0.8750 - loss: 0.4580 - val_accuracy: 0.9333 - val_loss: 0.8324
phase 1 (frozen base): 162.4 s
phase 2 (fine-tuning): 408.9 s
final validation accuracy: 0.9333
threshold 0.5000: 9 of 10 bo admitted, 1 of 20 others admitted
wrote /tmp/x/model.safetensors (tensors sha256 d0ea5a9f38c7f848...)
report: /tmp/x/model.report.html
"""

EPOCH_LOG = "\n".join(json.dumps(r) for r in [
    {"phase": "frozen", "epoch": 1, "loss": 5.49, "accuracy": 0.75, "val_loss": 3.61, "val_accuracy": 0.6667, "seconds": 1.3},
    {"phase": "frozen", "epoch": 2, "loss": 1.49, "accuracy": 0.875, "val_loss": 1.61, "val_accuracy": 0.8, "seconds": 1.2},
    {"phase": "fine-tune", "epoch": 1, "loss": 0.46, "accuracy": 0.875, "val_loss": 0.83, "val_accuracy": 0.9333, "seconds": 8.1},
]) + "\n"


# ---- dogdoor-train output -----------------------------------------------------------------------


def test_parse_dogdoor_output_reads_phase_times_accuracy_kernel_and_images():
    parsed = bt.parse_dogdoor_output(DOGDOOR_OUTPUT)
    assert parsed["phase1_seconds"] == 162.4
    assert parsed["phase2_seconds"] == 408.9
    assert parsed["final_val_accuracy"] == 0.9333
    assert parsed["kernel"] == "SkylakeX (OpenBLAS detected Prescott; corrected by DogDoor)"
    assert parsed["threads"] == 2
    assert parsed["images"] == {"positive_class": "bo", "negative_class": "not_bo", "train_positive": 18,
                                "train_negative": 120, "valid_positive": 10, "valid_negative": 20, "skipped": 1}


def test_parse_dogdoor_output_without_fine_tuning_has_no_phase_2():
    text = "\n".join(line for line in DOGDOOR_OUTPUT.splitlines() if not line.startswith("phase 2"))
    parsed = bt.parse_dogdoor_output(text)
    assert parsed["phase1_seconds"] == 162.4
    assert "phase2_seconds" not in parsed


def test_parse_dogdoor_output_ignores_epoch_lines_and_crlf():
    parsed = bt.parse_dogdoor_output("frozen epoch 1/1 - 1.0s - val_accuracy: 0.5\r\nphase 1 (frozen base): 7.0 s\r\n")
    assert parsed == {"phase1_seconds": 7.0}


def test_parse_epoch_log_and_phase_accuracies():
    records = bt.parse_epoch_log(EPOCH_LOG + "\n")
    assert [r["phase"] for r in records] == ["frozen", "frozen", "fine-tune"]
    assert bt.phase_accuracies(records) == (0.8, 0.9333)


def test_phase_accuracies_of_a_run_without_fine_tuning():
    records = bt.parse_epoch_log(EPOCH_LOG.splitlines()[0])
    assert bt.phase_accuracies(records) == (0.6667, None)
    assert bt.phase_accuracies([]) == (None, None)


@pytest.mark.parametrize("text", ["not json\n", "[1, 2]\n", '{"epoch": 1}\n'])
def test_parse_epoch_log_rejects_what_is_not_an_epoch_record(text):
    with pytest.raises(ValueError, match="line 1"):
        bt.parse_epoch_log(text)


def test_dogdoor_command_matches_the_recipe():
    command = bt.dogdoor_command("/b/dogdoor-train", data="/d", positive="bo", workdir="/w", weights="/v.safetensors",
                                 epochs=20, fine_tune_epochs=10, steps_per_epoch=12, batch_size=8, learning_rate=1e-3,
                                 fine_tune_learning_rate=1e-5, seed=1, threads=2, resize="nearest",
                                 centering="samplewise")
    assert command[0] == "/b/dogdoor-train" and command[-1] == "--no-int8"
    options = dict(zip(command[1:-1:2], command[2:-1:2]))
    assert options == {"--data": "/d", "--positive": "bo", "--recipe": "tutorial", "--output": "/w/model.safetensors",
                       "--report": "/w/model.report.html", "--log-json": "/w/epochs.jsonl",
                       "--weights": "/v.safetensors", "--epochs": "20", "--fine-tune-epochs": "10",
                       "--steps-per-epoch": "12", "--batch-size": "8", "--learning-rate": "0.001",
                       "--fine-tune-learning-rate": "1e-05", "--seed": "1", "--threads": "2", "--resize": "nearest",
                       "--centering": "samplewise"}
    assert float(options["--fine-tune-learning-rate"]) == 1e-5


# ---- labels -------------------------------------------------------------------------------------


def test_positive_class_index_follows_sorted_folder_indices():
    indices = {"bo": 0, "not_bo": 1}
    assert bt.positive_class_index(indices, "bo") == 0
    assert bt.positive_class_index(indices, "not_bo") == 1
    with pytest.raises(ValueError, match='no class folder "sunny"'):
        bt.positive_class_index(indices, "sunny")
    with pytest.raises(ValueError, match="exactly two"):
        bt.positive_class_index({"a": 0, "b": 1, "c": 2}, "a")


def test_remap_labels_makes_the_positive_class_label_1():
    keras_labels = np.array([0, 1, 1, 0], dtype=np.float32)  # bo=0, not_bo=1 (sorted folders)
    remapped = bt.remap_labels(keras_labels, flip=True)  # positive "bo" sorts first
    np.testing.assert_array_equal(remapped, [1, 0, 0, 1])
    assert remapped.dtype == np.float32
    assert bt.remap_labels(keras_labels, flip=False) is keras_labels


class FakeDirectoryIterator:
    """A stand-in for Keras's DirectoryIterator: 3 finite batches, an endless stream, reshuffle counting."""

    def __init__(self):
        self.streamed = 0
        self.reshuffles = 0

    def __len__(self):
        return 3

    def __getitem__(self, index):
        return np.full((2, 1), index, np.float32), np.array([0, 1], np.float32)

    def __next__(self):
        self.streamed += 1
        return np.full((2, 1), 100 + self.streamed, np.float32), np.array([0, 0], np.float32)

    def on_epoch_end(self):
        self.reshuffles += 1


def test_remapped_batches_endless_stream_ignores_the_index_and_never_reshuffles_mid_pass():
    iterator = FakeDirectoryIterator()
    batches = bt.RemappedBatches(iterator, flip=True, endless=True)
    assert batches.num_batches is None  # Keras 3 then runs every epoch for the full steps_per_epoch
    x1, y1 = batches.batch(0)
    x2, y2 = batches.batch(0)  # a new fit() restarts its index at 0: the stream goes on
    assert (x1[0, 0], x2[0, 0]) == (101, 102)
    np.testing.assert_array_equal(y1, [1, 1])
    batches.epoch_ended()
    assert iterator.reshuffles == 0


def test_remapped_batches_finite_for_validation():
    iterator = FakeDirectoryIterator()
    batches = bt.RemappedBatches(iterator, flip=False, endless=False)
    assert batches.num_batches == 3
    x, y = batches.batch(2)
    assert x[0, 0] == 2
    np.testing.assert_array_equal(y, [0, 1])
    batches.epoch_ended()
    assert iterator.reshuffles == 1


# ---- summaries and tables -----------------------------------------------------------------------


def run(engine, round_index, p1, p2, total, a1, a2):
    return {"engine": engine, "round": round_index, "phase1_seconds": p1, "phase2_seconds": p2, "total_seconds": total,
            "val_accuracy_phase1": a1, "val_accuracy_phase2": a2}


RUNS = [run("keras", 1, 300.0, 900.0, 1250.0, 0.9, 0.9333), run("dogdoor", 1, 120.0, 500.0, 640.0, 0.9333, 0.9667),
        run("dogdoor", 2, 140.0, 400.0, 560.0, 0.9333, 0.9667), run("keras", 2, 340.0, 1000.0, 1370.0, 0.9, 0.9667),
        run("keras", 3, 320.0, 950.0, 1300.0, 0.8667, 0.9667), run("dogdoor", 3, 100.0, 450.0, 580.0, 0.9, 1.0)]


def test_summarize_comparison_medians_ratios_and_accuracy_differences():
    summary = bt.summarize_comparison(RUNS)
    keras, dogdoor = summary["medians"]["keras"], summary["medians"]["dogdoor"]
    assert (keras["phase1_seconds"], keras["phase2_seconds"], keras["total_seconds"], keras["runs"]) == (320.0, 950.0, 1300.0, 3)
    assert (dogdoor["phase1_seconds"], dogdoor["phase2_seconds"], dogdoor["total_seconds"]) == (120.0, 450.0, 580.0)
    assert summary["ratios"]["phase1"] == pytest.approx(120 / 320)
    assert summary["ratios"]["phase2"] == pytest.approx(450 / 950)
    assert summary["ratios"]["total"] == pytest.approx(580 / 1300)
    assert summary["accuracy_difference"]["phase1"] == pytest.approx(0.9333 - 0.9)
    assert summary["accuracy_difference"]["phase2"] == pytest.approx(0.9667 - 0.9667)


def test_format_comparison_shows_rounds_medians_ratios_and_target_verdicts():
    runs = RUNS[:2]
    text = bt.format_comparison(runs, bt.summarize_comparison(runs))
    lines = text.splitlines()
    assert lines[0].split() == ["round", "engine", "phase", "1", "s", "phase", "2", "s", "total", "s", "val", "acc",
                                "1", "val", "acc", "2", "kept", "acc"]
    # These runs report no accuracy of the weights kept: "-".
    assert lines[2].split() == ["1", "keras", "300.0", "900.0", "1250.0", "0.9000", "0.9333", "-"]
    assert lines[5].split() == ["median", "dogdoor", "120.0", "500.0", "640.0", "0.9333", "0.9667", "-"]
    assert ("time ratio dogdoor/keras (medians): phase 1 0.40 (target <= 0.5: met), "
            "phase 2 0.56 (target <= 0.5: missed), total 0.51") in text
    assert "validation accuracy dogdoor - keras (medians): after phase 1 +0.0333, after phase 2 +0.0334" in text


def test_format_comparison_without_fine_tuning_or_second_engine():
    runs = [run("keras", 1, 10.0, None, 20.0, 0.5, None), run("dogdoor", 1, 4.0, None, 8.0, 0.5, None)]
    text = bt.format_comparison(runs, bt.summarize_comparison(runs))
    assert "phase 1 0.40 (target <= 0.5: met), phase 2 -, total 0.40" in text
    assert "after phase 1 +0.0000, after phase 2 -" in text  # no "-0.0000" either
    one = bt.format_comparison(runs[1:], bt.summarize_comparison(runs[1:]))
    assert "(one engine only: no ratios)" in one


def test_fmt():
    assert bt.fmt(None) == "-"
    assert bt.fmt(float("nan")) == "-"
    assert bt.fmt(1.25, 1) == "1.2"
    assert bt.fmt(-1e-17, 4, signed=True) == "+0.0000"
    assert bt.fmt(-0.05, 2, signed=True) == "-0.05"


def sweep_run(resize, centering, seed, a1, a2, p1=100.0, p2=400.0):
    return {"engine": "dogdoor", "resize": resize, "centering": centering, "seed": seed, "round": 1,
            "val_accuracy_phase1": a1, "val_accuracy_phase2": a2, "phase1_seconds": p1, "phase2_seconds": p2,
            "total_seconds": p1 + p2 + 10}


def test_summarize_and_format_sweep():
    runs = [sweep_run("nearest", "samplewise", 1, 0.9, 0.9333), sweep_run("nearest", "samplewise", 2, 0.8, 1.0, p1=120),
            sweep_run("area", "caffe", 1, 0.9667, 1.0)]
    summary = bt.summarize_sweep(runs)
    assert [(e["resize"], e["centering"], e["runs"]) for e in summary] == [("nearest", "samplewise", 2), ("area", "caffe", 1)]
    first = summary[0]
    assert first["mean_val_accuracy_phase1"] == pytest.approx(0.85)
    assert (first["min_val_accuracy_phase2"], first["max_val_accuracy_phase2"]) == (0.9333, 1.0)
    assert first["median_phase1_seconds"] == 110.0
    text = bt.format_sweep(runs, summary)
    rows = [line.split() for line in text.splitlines()]
    assert ["nearest", "samplewise", "2", "0.8500", "0.8000-0.9000", "0.9667", "0.9333-1.0000", "110.0", "400.0",
            "520.0"] in rows
    assert "area     caffe" in text  # names left-aligned
    area = [row for row in rows if row[:1] == ["area"]]
    assert area[0] == ["area", "caffe", "1", "1", "0.9667", "1.0000", "100.0", "400.0", "510.0"]


# ---- command line -------------------------------------------------------------------------------


def test_round_order_is_abba():
    assert [bt.round_order(r, ["keras", "dogdoor"]) for r in (1, 2, 3)] == [
        ["keras", "dogdoor"], ["dogdoor", "keras"], ["keras", "dogdoor"]]
    assert bt.round_order(2, ["dogdoor"]) == ["dogdoor"]


def test_engines_and_seeds_arguments():
    assert bt.parse_engines("dogdoor") == ["dogdoor"]
    assert bt.parse_engines("keras, dogdoor") == ["keras", "dogdoor"]
    assert bt.parse_seeds("1,2, 3") == [1, 2, 3]
    for bad in ("onnx", "keras,keras", ""):
        with pytest.raises(Exception):
            bt.parse_engines(bad)
    with pytest.raises(Exception):
        bt.parse_seeds("1,-2")


def test_arguments_defaults_are_the_tutorial_recipe(tmp_path):
    args = bt.parse_arguments(["--data", str(tmp_path), "--positive", "bo"])
    assert (args.epochs, args.steps_per_epoch, args.batch_size) == (20, 12, 8)
    assert (args.learning_rate, args.threads, args.rounds, args.recipe) == (1e-3, 2, 1, "tutorial")
    assert args.engines == ["keras", "dogdoor"] and args.seeds == [1] and not args.sweep
    # Phase 2 is left to the recipe unless given.
    assert bt.recipe_settings(args, "tutorial") == {
        "fine_tune_epochs": 10, "fine_tune_learning_rate": 1e-5, "fine_tune_from": "block1_conv1",
        "cosine_decay": False, "fine_tune_average_epochs": 0}
    adapted = bt.parse_arguments(["--data", str(tmp_path), "--positive", "bo", "--recipe", "adapted",
                                  "--fine-tune-epochs", "4", "--no-cosine-decay"])
    assert bt.recipe_settings(adapted, "adapted") == {
        "fine_tune_epochs": 4, "fine_tune_learning_rate": 1e-4, "fine_tune_from": "block3_conv1",
        "cosine_decay": False, "fine_tune_average_epochs": 5}


def test_dogdoor_command_leaves_phase_2_to_the_recipe_unless_given():
    common = dict(data="d", positive="bo", workdir="/w", weights="w", epochs=2, steps_per_epoch=3, batch_size=8,
                  learning_rate=1e-3, seed=4, threads=2, resize="nearest", centering="samplewise", recipe="adapted")
    plain = bt.dogdoor_command("dogdoor-train", fine_tune_epochs=None, fine_tune_learning_rate=None, **common)
    assert not any(o.startswith(("--fine-tune", "--cosine", "--no-cosine")) for o in plain)
    given = bt.dogdoor_command("dogdoor-train", fine_tune_epochs=3, fine_tune_learning_rate=2e-4,
                               fine_tune_from="block5_conv1", cosine_decay=False, fine_tune_average_epochs=2, **common)
    assert given[given.index("--fine-tune-epochs") + 1] == "3"
    assert float(given[given.index("--fine-tune-learning-rate") + 1]) == 2e-4
    assert given[given.index("--fine-tune-from") + 1] == "block5_conv1"
    assert "--no-cosine-decay" in given and "--cosine-decay" not in given
    assert given[given.index("--fine-tune-average-epochs") + 1] == "2"
    assert "--cosine-decay" in bt.dogdoor_command("dogdoor-train", fine_tune_epochs=None, fine_tune_learning_rate=None,
                                                  cosine_decay=True, **common)


def test_conv_names_are_vgg16s():
    assert len(bt.CONV_NAMES) == 13 and bt.CONV_NAMES[7] == "block4_conv1" and bt.CONV_NAMES[-1] == "block5_conv3"


def test_missing_data_folders_are_reported(tmp_path):
    (tmp_path / "train" / "bo").mkdir(parents=True)
    (tmp_path / "train" / "not_bo").mkdir()
    result = run_script("bench-train", "--data", str(tmp_path), "--positive", "bo", "--engines", "dogdoor")
    assert result.returncode == 1
    assert "valid is not a directory" in result.stderr
    (tmp_path / "valid" / "bo").mkdir(parents=True)
    result = run_script("bench-train", "--data", str(tmp_path), "--positive", "sunny", "--engines", "dogdoor")
    assert result.returncode == 1
    assert 'no class folder "sunny"' in result.stderr


def test_keras_side_without_tensorflow_explains_the_venv(tmp_path):
    import importlib.util

    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("TensorFlow is installed in this Python")
    for split in ("train", "valid"):
        for name in ("bo", "not_bo"):
            (tmp_path / split / name).mkdir(parents=True)
    result = run_script("bench-train", "--data", str(tmp_path), "--positive", "bo", "--engines", "keras")
    assert result.returncode == 2
    assert "pip install -r Scripts/requirements-bench.txt" in result.stderr


def test_sweep_configurations_can_be_narrowed(tmp_path):
    args = bt.parse_arguments(["--sweep", "--data", str(tmp_path), "--positive", "bo",
                               "--resize-methods", "bilinear,area", "--centerings", "caffe"])
    assert args.resize_methods == ["bilinear", "area"] and args.centerings == ["caffe"]
    defaults = bt.parse_arguments(["--sweep", "--data", str(tmp_path), "--positive", "bo"])
    assert defaults.resize_methods == ["nearest", "bilinear", "area"] and defaults.centerings == ["samplewise", "caffe"]
    with pytest.raises(SystemExit):
        bt.parse_arguments(["--sweep", "--data", str(tmp_path), "--positive", "bo", "--resize-methods", "lanczos"])


# ---- recipe comparison (--recipes) ----------------------------------------------------------------

RECIPE_OUTPUT = """\
images: train 18 bo / 120 not_bo, valid 10 / 20; skipped 0
phase 1 (frozen base): 126.0 s
phase 2 (fine-tuning): 230.5 s
Kept: phase 1: the head averaged over epochs 16-20; phase 2: the weights averaged over epochs 8-10.
validation accuracy of the weights kept: 0.9667
threshold 0.8123 (calibrated): 9 of 10 bo admitted, 0 of 20 others admitted
5-fold cross-validated (each image judged by a threshold calibrated without it): 8 of 10 bo admitted, 1 of 20 others admitted, accuracy 0.900
"""


def test_parse_dogdoor_output_reads_the_calibrated_and_cross_validated_outcomes():
    parsed = bt.parse_dogdoor_output(RECIPE_OUTPUT)
    assert parsed["final_val_accuracy"] == 0.9667
    assert parsed["calibrated"] == {"true_accepts": 9, "positives": 10, "false_accepts": 0, "negatives": 20,
                                    "accuracy": pytest.approx(29 / 30), "threshold": 0.8123}
    assert parsed["cross_validated"] == {"true_accepts": 8, "positives": 10, "false_accepts": 1, "negatives": 20,
                                         "accuracy": pytest.approx(27 / 30), "folds": 5}


def test_phase_spread_covers_only_the_phase_asked():
    records = bt.parse_epoch_log(EPOCH_LOG)
    frozen = bt.phase_spread(records, "frozen")
    assert frozen["min"] == 0.6667 and frozen["max"] == 0.8
    assert frozen["sd"] == pytest.approx((0.8 - 0.6667) / 2)
    assert bt.phase_spread(records, "fine-tune")["sd"] == 0
    assert bt.phase_spread([], "frozen") is None


def test_recipe_summary_gives_mean_and_spread_over_seeds():
    def run(recipe, seed, kept, fa, sd):
        return {"recipe": recipe, "seed": seed, "final_val_accuracy": kept, "phase1_seconds": 100 + seed,
                "phase2_seconds": 200 + seed,
                "calibrated": {"accuracy": kept, "false_accepts": 0, "true_accepts": 9, "positives": 10,
                               "negatives": 20},
                "cross_validated": {"accuracy": kept - 0.05, "false_accepts": fa, "true_accepts": 8, "positives": 10,
                                    "negatives": 20},
                "spread": {"frozen": {"min": 0.5, "max": 0.9, "mean": 0.7, "sd": sd}}}

    runs = [run("tutorial", 1, 0.9, 2, 0.1), run("stable", 1, 1.0, 0, 0.01), run("tutorial", 2, 0.8, 1, 0.2),
            run("stable", 2, 1.0, 0, 0.03)]
    summary = bt.summarize_recipes(runs)
    assert [e["recipe"] for e in summary] == ["tutorial", "stable"]
    tutorial, stable = summary
    assert tutorial["kept_accuracy"]["mean"] == pytest.approx(0.85)
    assert tutorial["kept_accuracy"]["sd"] == pytest.approx(0.05)
    assert tutorial["cross_validated_false_accepts"]["mean"] == 1.5
    assert stable["frozen_epoch_sd"]["mean"] == pytest.approx(0.02)
    assert stable["fine-tune_epoch_sd"]["mean"] is None
    assert tutorial["median_phase2_seconds"] == 201.5
    text = bt.format_recipes(runs, summary)
    assert "0.850 +- 0.050" in text and "9/10 in, 0/20 FA" in text


def test_dogdoor_command_names_the_recipe_and_the_calibration():
    command = bt.dogdoor_command("dogdoor-train", data="d", positive="bo", workdir="/w", weights="w", epochs=2,
                                 fine_tune_epochs=1, steps_per_epoch=3, batch_size=8, learning_rate=1e-3,
                                 fine_tune_learning_rate=1e-5, seed=4, threads=2, resize="nearest",
                                 centering="samplewise", recipe="stable", max_false_accept=0.0)
    assert command[command.index("--recipe") + 1] == "stable"
    assert command[command.index("--max-false-accept") + 1] == "0.0"
    plain = bt.dogdoor_command("dogdoor-train", data="d", positive="bo", workdir="/w", weights="w", epochs=2,
                               fine_tune_epochs=1, steps_per_epoch=3, batch_size=8, learning_rate=1e-3,
                               fine_tune_learning_rate=1e-5, seed=4, threads=2, resize="nearest",
                               centering="samplewise")
    assert plain[plain.index("--recipe") + 1] == "tutorial" and "--max-false-accept" not in plain


def test_keras_recipes_mirror_the_swift_recipes():
    """KERAS_RECIPES copies TrainingRecipe.adapted's phase 2 from Trainer.swift: a change there must be made here too."""
    source = (Path(__file__).resolve().parents[2] / "Sources/Training/Trainer.swift").read_text()
    block = source[source.index("public static let adapted"):]
    block = block[:block.index("}()")]
    adapted = bt.KERAS_RECIPES["adapted"]
    assert f'recipe.fineTuneFrom = "{adapted["fine_tune_from"]}"' in block
    assert f'recipe.fineTuneEpochs = {adapted["fine_tune_epochs"]}' in block
    assert f'recipe.fineTuneAverageLastEpochs = {adapted["fine_tune_average_epochs"]}' in block
    assert "recipe.cosineDecay = true" in block and adapted["cosine_decay"]
    rate = re.search(r"recipe\.fineTuneLearningRate = ([0-9.e-]+)", block)
    assert rate and float(rate.group(1)) == adapted["fine_tune_learning_rate"]
