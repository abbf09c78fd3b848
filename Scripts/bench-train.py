#!/usr/bin/env python3
"""Side-by-side benchmark of the training recipe in Keras (TensorFlow, CPU) and in DogDoor's dogdoor-train.

Both engines start from the same VGG16 base weights (var/weights/vgg16-notop.safetensors) and train on the same
photos with the same recipe (--recipe): phase 1 trains a GlobalAveragePooling2D + Dense(1) head on the frozen base
(RMSprop 1e-3); in the tutorial's recipe phase 2 unfreezes the whole base (RMSprop 1e-5, 10 epochs), in the
adapted one (dogdoor-train's default) blocks 3-5 (RMSprop 1e-4, 20 epochs, cosine decay in both phases, the
weights averaged over phase 2's last 5 epochs); batch 8, 12 steps per epoch, Keras's
ImageDataGenerator augmentation for training, none for validation, sample-wise centering, nearest resize. The
script prints the wall time of each phase (validation included), the validation accuracy after each phase, the
medians over the rounds and the ratios dogdoor/keras (the project's target: at most 0.5 per phase).

Engines run alternately in fresh processes, in ABBA order (round 1 keras then dogdoor, round 2 dogdoor then
keras, ...), so both see the machine's drifting load alike. This machine's speed swings from minute to minute:
only ratios of runs made side by side, in one invocation, mean anything.

--sweep runs only dogdoor-train, over resize methods (nearest, bilinear, area) x centering (samplewise, caffe),
and prints validation accuracy after phase 1 (the last frozen epoch of its --log-json) and after phase 2, with
the wall times, to choose the default resize method and decide whether to offer caffe preprocessing.

Usage:
  python3 -m venv .venv-bench && .venv-bench/bin/pip install -r Scripts/requirements-bench.txt   # once
  .venv-bench/bin/python Scripts/bench-train.py --data ../shared/data/presidential_doggy_door --positive bo
      [--recipe tutorial|adapted] [--rounds 3] [--engines keras,dogdoor] [--json results.json]
      [--epochs 20 --fine-tune-epochs 10 --steps-per-epoch 12]   (shrink these for a smoke test)
  .venv/bin/python Scripts/bench-train.py --sweep --data ... --positive bo [--seeds 1,2,3]
      (DogDoor only: needs no TensorFlow)
  .venv/bin/python Scripts/bench-train.py --recipes tutorial,stable,adapted --seeds 1,2,3 --data ... --positive bo
      (DogDoor only)

--recipes tutorial,stable,adapted runs only dogdoor-train, each recipe with each of --seeds, calibrating the threshold
with --max-false-accept (default 0), and prints per run: the spread of validation accuracy over each phase's
epochs (min-max, standard deviation), the validation accuracy of the weights kept, the calibrated threshold's
outcome on the validation images (which chose it: optimistic) and its cross-validated outcome (each image judged
by a threshold calibrated without it: honest), and the phase times; then mean and standard deviation over seeds.

The comparison runs one recipe in both engines: --recipe (tutorial by default, or adapted; the Keras side mirrors
dogdoor-train's recipe in KERAS_RECIPES, with DogDoor's cosine schedule and weight averaging); --fine-tune-from,
--fine-tune-learning-rate, --fine-tune-epochs, --[no-]cosine-decay and --fine-tune-average-epochs override it in
both. Keras reports the accuracy of the weights kept (after averaging) as DogDoor does.

A full comparison round takes tens of minutes of both cores; --sweep runs dogdoor-train 6 x seeds x rounds times,
--recipes runs it recipes x seeds times (about 6 minutes each on the tutorial photos, 2 cores).

Keras details worth knowing (Keras 3.15):
- Binary accuracy: Keras 3 counts a prediction as class 1 when `y_pred > threshold` (strictly greater). The model
  outputs logits, so the metric is `BinaryAccuracy(threshold=0.0)`: logit > 0 means the positive class, exactly
  DogDoor's rule (a logit of exactly 0 counts as negative in both). `metrics=["accuracy"]` would compare logits
  with 0.5, which is wrong for a from_logits model.
- Labels: flow_from_directory numbers the class folders in sorted order, so with folders bo/ and not_bo/,
  bo=0. DogDoor labels --positive as 1. The Keras batches are wrapped so that label 1 = the --positive class
  (y -> 1 - y when the positive class sorts first): both engines learn the same task and their accuracies
  count the same thing.
- Steps run on across epochs: 12 steps of 8 images is less than one pass over the training set, and Keras 3
  stops an epoch early when a finite dataset (such as a bare DirectoryIterator, 18 batches) runs out, so every
  other epoch would have only 6 steps. The training batches are therefore drawn from the iterator's endless
  stream (`next(iterator)`: a fresh permutation per pass, the last batch of a pass smaller), as Keras 2 did
  for the original tutorial and as DogDoor's BatchStream does. Keras takes two extra batches from the stream
  before training to infer the tensor spec.
- Validation covers every validation image once per epoch (validation_steps = ceil(n_valid / batch)), without
  augmentation (the tutorial augmented validation by mistake).
- DogDoor decodes and resizes every photo once before phase 1; Keras decodes each batch from disk inside the
  epochs. The phase times therefore leave DogDoor's decoding out; the "total" column (process wall time, imports
  and start-up included) shows everything. Keras's phase times include tracing its training and validation graphs
  in the first epoch of each fit (10 s or more here), a cost the tutorial's user pays too.
- Keras with the same seed repeats itself exactly (the generators reseed numpy per batch); DogDoor too. Rounds
  therefore differ only in time; --sweep --seeds 1,2,3 varies the seed to see how much accuracy moves with it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "Scripts"
DEFAULT_WEIGHTS = ROOT / "var/weights/vgg16-notop.safetensors"
ENGINES = ("keras", "dogdoor")
RESIZE_METHODS = ("nearest", "bilinear", "area")
CENTERINGS = ("samplewise", "caffe")
PHASE_TARGET = 0.5  # dogdoor/keras wall-time ratio the project aims for, per phase
IMAGE_SIDE = 224

VENV_HELP = f"""\
TensorFlow is not installed in this Python ({sys.executable}). The Keras side needs its own venv:
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -r Scripts/requirements-bench.txt
    .venv-bench/bin/python Scripts/bench-train.py ...
(or pass --engines dogdoor, or --sweep, to run DogDoor's side only, which needs no TensorFlow)"""


# --------------------------------------------------------------------------------------------------
# Pure helpers (unit-tested in Scripts/tests/test_bench_train.py without TensorFlow)
# --------------------------------------------------------------------------------------------------

_PHASE_LINES = {
    "phase1_seconds": re.compile(r"^phase 1 \(frozen base\): ([0-9.eE+-]+) s\s*$"),
    "phase2_seconds": re.compile(r"^phase 2 \(fine-tuning\): ([0-9.eE+-]+) s\s*$"),
    "final_val_accuracy": re.compile(
        r"^(?:final validation accuracy|validation accuracy of the weights kept): ([0-9.eE+-]+|nan)\s*$"),
}
RECIPES = ("tutorial", "stable", "adapted")
CONV_NAMES = tuple(f"block{b}_conv{c}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)) for c in range(1, n + 1))
# What each recipe the Keras side can run does where it departs from the tutorial's phase 1 (RMSprop 1e-3, 20
# epochs of 12 steps of 8): a mirror of TrainingRecipe.tutorial and .adapted in Sources/Training/Trainer.swift.
# (stable also standardises the head's features, which the Keras side does not do: DogDoor only.)
KERAS_RECIPES: dict[str, dict[str, Any]] = {
    "tutorial": {"fine_tune_epochs": 10, "fine_tune_learning_rate": 1e-5, "fine_tune_from": "block1_conv1",
                 "cosine_decay": False, "fine_tune_average_epochs": 0},
    "adapted": {"fine_tune_epochs": 20, "fine_tune_learning_rate": 1e-4, "fine_tune_from": "block3_conv1",
                "cosine_decay": True, "fine_tune_average_epochs": 5},
}
_OUTCOME = r"(\d+) of (\d+) \S+ admitted, (\d+) of (\d+) others admitted"
_CALIBRATED_LINE = re.compile(r"^threshold ([0-9.]+)( \(calibrated\))?: " + _OUTCOME + r"\s*$")
_CROSS_VALIDATED_LINE = re.compile(r"^(\d+)-fold cross-validated \([^)]*\): " + _OUTCOME + r", accuracy")
_KERNEL_LINE = re.compile(r"^OpenBLAS kernel: (.*); (\d+) threads?\s*$")
_IMAGES_LINE = re.compile(r"^images: train (\d+) (\S+) / (\d+) (\S+), valid (\d+) / (\d+); skipped (\d+)\s*$")


def parse_dogdoor_output(text: str) -> dict[str, Any]:
    """What dogdoor-train's standard output says: phase times (s), final validation accuracy, OpenBLAS kernel,
    thread count and image counts. Keys whose line is missing are absent (no phase 2 line without fine-tuning)."""
    result: dict[str, Any] = {}
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        for key, pattern in _PHASE_LINES.items():
            if m := pattern.match(line):
                result[key] = float(m.group(1))
        if m := _KERNEL_LINE.match(line):
            result["kernel"] = m.group(1)
            result["threads"] = int(m.group(2))
        for key, pattern in (("calibrated", _CALIBRATED_LINE), ("cross_validated", _CROSS_VALIDATED_LINE)):
            if m := pattern.match(line):
                admitted, positives, false_accepts, negatives = (int(g) for g in m.groups()[-4:])
                result[key] = {"true_accepts": admitted, "positives": positives, "false_accepts": false_accepts,
                               "negatives": negatives,
                               "accuracy": (admitted + negatives - false_accepts) / (positives + negatives)}
                if key == "calibrated":
                    result[key]["threshold"] = float(m.group(1))
                else:
                    result[key]["folds"] = int(m.group(1))
        if m := _IMAGES_LINE.match(line):
            result["images"] = {
                "positive_class": m.group(2), "negative_class": m.group(4),
                "train_positive": int(m.group(1)), "train_negative": int(m.group(3)),
                "valid_positive": int(m.group(5)), "valid_negative": int(m.group(6)), "skipped": int(m.group(7)),
            }
    return result


def parse_epoch_log(text: str) -> list[dict[str, Any]]:
    """The records of dogdoor-train's --log-json file: one JSON object per line (phase, epoch, loss, accuracy,
    val_loss, val_accuracy, seconds). Blank lines are skipped; anything else that is not an object is an error."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"epoch log line {number} is not JSON: {e}") from e
        if not isinstance(record, dict) or "phase" not in record or "val_accuracy" not in record:
            raise ValueError(f"epoch log line {number} is not an epoch record: {line.strip()[:80]}")
        records.append(record)
    return records


def phase_accuracies(records: Sequence[dict[str, Any]]) -> tuple[float | None, float | None]:
    """Validation accuracy after phase 1 (the last "frozen" epoch) and after phase 2 (the last "fine-tune"
    epoch); None for a phase that did not run."""
    last: dict[str, float] = {}
    for record in records:
        last[record["phase"]] = float(record["val_accuracy"])
    return last.get("frozen"), last.get("fine-tune")


def phase_spread(records: Sequence[dict[str, Any]], phase: str) -> dict[str, float] | None:
    """Validation accuracy over a phase's epochs: min, max, mean and (population) standard deviation; None
    when the phase did not run."""
    values = [float(r["val_accuracy"]) for r in records if r["phase"] == phase]
    if not values:
        return None
    return {"min": min(values), "max": max(values), "mean": statistics.fmean(values),
            "sd": statistics.pstdev(values)}


def summarize_recipes(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per recipe, in first-run order: mean and standard deviation over its runs (seeds) of the
    kept weights' accuracy, the calibrated and cross-validated accuracies and false accepts, the epoch-to-epoch
    spread of each phase (mean of the per-run standard deviations), and median phase times."""
    by_recipe: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by_recipe.setdefault(r["recipe"], []).append(r)

    def stats(values: Sequence[float | None]) -> dict[str, float | None]:
        present = [v for v in values if v is not None]
        return {"mean": mean(present), "sd": statistics.pstdev(present) if len(present) > 1 else None}

    summary = []
    for recipe, mine in by_recipe.items():
        entry: dict[str, Any] = {"recipe": recipe, "runs": len(mine), "seeds": [r["seed"] for r in mine]}
        entry["kept_accuracy"] = stats([r.get("final_val_accuracy") for r in mine])
        for key in ("calibrated", "cross_validated"):
            entry[f"{key}_accuracy"] = stats([(r.get(key) or {}).get("accuracy") for r in mine])
            entry[f"{key}_false_accepts"] = stats([(r.get(key) or {}).get("false_accepts") for r in mine])
            entry[f"{key}_true_accepts"] = stats([(r.get(key) or {}).get("true_accepts") for r in mine])
        for phase in ("frozen", "fine-tune"):
            entry[f"{phase}_epoch_sd"] = stats([(r.get("spread") or {}).get(phase, {}).get("sd") for r in mine])
        for key in ("phase1_seconds", "phase2_seconds"):
            entry[f"median_{key}"] = median(r.get(key) for r in mine)
        summary.append(entry)
    return summary


def format_recipes(runs: Sequence[dict[str, Any]], summary: Sequence[dict[str, Any]]) -> str:
    def spread(r: dict[str, Any], phase: str) -> str:
        s = (r.get("spread") or {}).get(phase)
        return "-" if not s else f"{s['min']:.3f}-{s['max']:.3f} sd {s['sd']:.3f}"

    def outcome(o: dict[str, Any] | None) -> str:
        if not o:
            return "-"
        return f"{o['true_accepts']}/{o['positives']} in, {o['false_accepts']}/{o['negatives']} FA"

    headers = ["recipe", "seed", "phase 1 epochs", "phase 2 epochs", "kept acc", "calibrated", "cross-validated",
               "phase 1 s", "phase 2 s"]
    rows = [[r["recipe"], str(r["seed"]), spread(r, "frozen"), spread(r, "fine-tune"),
             fmt(r.get("final_val_accuracy"), 3), outcome(r.get("calibrated")), outcome(r.get("cross_validated")),
             fmt(r.get("phase1_seconds")), fmt(r.get("phase2_seconds"))] for r in runs]

    def ms(entry: dict[str, Any], key: str, digits: int = 3) -> str:
        value = entry[key]
        if value["mean"] is None:
            return "-"
        return fmt(value["mean"], digits) + ("" if value["sd"] is None else f" +- {fmt(value['sd'], digits)}")

    summary_headers = ["recipe", "runs", "kept acc", "calibrated acc", "calibrated FA", "cross-val acc",
                       "cross-val FA", "epoch sd 1", "epoch sd 2", "phase 1 s", "phase 2 s"]
    summary_rows = [[e["recipe"], str(e["runs"]), ms(e, "kept_accuracy"), ms(e, "calibrated_accuracy"),
                     ms(e, "calibrated_false_accepts", 2), ms(e, "cross_validated_accuracy"),
                     ms(e, "cross_validated_false_accepts", 2), ms(e, "frozen_epoch_sd"), ms(e, "fine-tune_epoch_sd"),
                     fmt(e["median_phase1_seconds"]), fmt(e["median_phase2_seconds"])] for e in summary]
    return "\n".join([table(headers, rows, left=2), "",
                      "per recipe (mean +- standard deviation over seeds; times: medians)",
                      table(summary_headers, summary_rows, left=1)])


def positive_class_index(class_indices: dict[str, int], positive: str) -> int:
    """Keras's index of the --positive class; exactly two classes are required."""
    if len(class_indices) != 2:
        raise ValueError(f"need exactly two class folders, found {len(class_indices)}: {sorted(class_indices)}")
    if positive not in class_indices:
        raise ValueError(f'no class folder "{positive}" (classes: {", ".join(sorted(class_indices))})')
    return class_indices[positive]


def remap_labels(labels, flip: bool):
    """Keras binary labels (sorted-folder index) to DogDoor's (1 = the positive class): 1 - y when the positive
    class has index 0, unchanged otherwise. Works on numbers and numpy arrays alike, keeping the dtype."""
    return 1 - labels if flip else labels


class RemappedBatches:
    """Batches of a Keras DirectoryIterator with labels remapped so that 1 = the positive class.

    `endless`: batches come from the iterator's own endless stream (`next(iterator)`, a new permutation per pass,
    the last batch of a pass smaller), and `num_batches` is None, so that Keras 3 runs every epoch for the full
    steps_per_epoch and continues the stream across epochs and phases. Otherwise (validation) the dataset is
    the iterator's finite sequence of batches. Kept free of Keras so it can be tested without TensorFlow; the
    Keras child wraps it in a `keras.utils.PyDataset`."""

    def __init__(self, iterator, flip: bool, endless: bool):
        self.iterator = iterator
        self.flip = flip
        self.endless = endless

    @property
    def num_batches(self) -> int | None:
        return None if self.endless else len(self.iterator)

    def batch(self, index: int):
        x, y = next(self.iterator) if self.endless else self.iterator[index]
        return x, remap_labels(y, self.flip)

    def epoch_ended(self) -> None:
        # The endless stream reshuffles at the end of each pass by itself; reshuffling at each epoch's end would
        # cut passes short (12 steps are less than a pass).
        if not self.endless:
            self.iterator.on_epoch_end()


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def fmt(value: float | None, digits: int = 1, signed: bool = False) -> str:
    """A number with `digits` decimals, "-" for a missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if round(value, digits) == 0:
        value = 0.0  # no "-0.0000" for a difference lost in rounding
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A plain-text table: the first `left` columns left-aligned, the others right-aligned."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]

    def line(cells):
        return "  ".join(str(c).ljust(w) if i < left else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


RUN_COLUMNS = ("phase1_seconds", "phase2_seconds", "total_seconds", "val_accuracy_phase1", "val_accuracy_phase2",
               "final_val_accuracy")


def summarize_comparison(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-engine medians of the run columns, the dogdoor/keras ratios of the times (target: at most 0.5 per
    phase) and the accuracy differences dogdoor - keras (of the medians)."""
    medians = {}
    for engine in ENGINES:
        mine = [r for r in runs if r["engine"] == engine]
        if mine:
            medians[engine] = {key: median(r.get(key) for r in mine) for key in RUN_COLUMNS}
            medians[engine]["runs"] = len(mine)
    summary: dict[str, Any] = {"medians": medians}
    if "keras" in medians and "dogdoor" in medians:
        k, d = medians["keras"], medians["dogdoor"]
        summary["ratios"] = {
            "phase1": ratio(d["phase1_seconds"], k["phase1_seconds"]),
            "phase2": ratio(d["phase2_seconds"], k["phase2_seconds"]),
            "total": ratio(d["total_seconds"], k["total_seconds"]),
        }
        summary["accuracy_difference"] = {
            f"phase{p}": (None if d[f"val_accuracy_phase{p}"] is None or k[f"val_accuracy_phase{p}"] is None
                          else d[f"val_accuracy_phase{p}"] - k[f"val_accuracy_phase{p}"])
            for p in (1, 2)
        }
    return summary


def _run_row(label: str, engine: str, r: dict[str, Any]) -> list[str]:
    return [label, engine, fmt(r.get("phase1_seconds")), fmt(r.get("phase2_seconds")), fmt(r.get("total_seconds")),
            fmt(r.get("val_accuracy_phase1"), 4), fmt(r.get("val_accuracy_phase2"), 4),
            fmt(r.get("final_val_accuracy"), 4)]


def format_comparison(runs: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    """Per-round rows, the medians, the ratios dogdoor/keras against the target and the accuracy differences."""
    # val acc 2 is the last epoch's; kept acc that of the weights kept (the average, where the recipe averages).
    headers = ["round", "engine", "phase 1 s", "phase 2 s", "total s", "val acc 1", "val acc 2", "kept acc"]
    rows = [_run_row(str(r["round"]), r["engine"], r) for r in runs]
    rows += [_run_row("median", engine, m) for engine, m in summary["medians"].items()]
    lines = [table(headers, rows, left=2), ""]
    if "ratios" in summary:
        parts = []
        for phase, name in (("phase1", "phase 1"), ("phase2", "phase 2")):
            value = summary["ratios"][phase]
            verdict = "" if value is None else (" (target <= 0.5: met)" if value <= PHASE_TARGET else " (target <= 0.5: missed)")
            parts.append(f"{name} {fmt(value, 2)}{verdict}")
        parts.append(f"total {fmt(summary['ratios']['total'], 2)}")
        lines.append("time ratio dogdoor/keras (medians): " + ", ".join(parts))
        diff = summary["accuracy_difference"]
        lines.append(f"validation accuracy dogdoor - keras (medians): after phase 1 {fmt(diff['phase1'], 4, signed=True)}, "
                     f"after phase 2 {fmt(diff['phase2'], 4, signed=True)}")
    else:
        lines.append("(one engine only: no ratios)")
    return "\n".join(lines)


def summarize_sweep(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (resize, centering), in first-run order: mean accuracies over its runs (seeds x rounds),
    their range, and median times."""
    configs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        configs.setdefault((r["resize"], r["centering"]), []).append(r)
    summary = []
    for (resize, centering), mine in configs.items():
        entry: dict[str, Any] = {"resize": resize, "centering": centering, "runs": len(mine)}
        for p in (1, 2):
            values = [r.get(f"val_accuracy_phase{p}") for r in mine if r.get(f"val_accuracy_phase{p}") is not None]
            entry[f"mean_val_accuracy_phase{p}"] = mean(values)
            entry[f"min_val_accuracy_phase{p}"] = min(values) if values else None
            entry[f"max_val_accuracy_phase{p}"] = max(values) if values else None
        for key in ("phase1_seconds", "phase2_seconds", "total_seconds"):
            entry[f"median_{key}"] = median(r.get(key) for r in mine)
        summary.append(entry)
    return summary


def format_sweep(runs: Sequence[dict[str, Any]], summary: Sequence[dict[str, Any]]) -> str:
    headers = ["resize", "centering", "seed", "round", "val acc 1", "val acc 2", "phase 1 s", "phase 2 s", "total s"]
    rows = [[r["resize"], r["centering"], str(r["seed"]), str(r["round"]), fmt(r.get("val_accuracy_phase1"), 4),
             fmt(r.get("val_accuracy_phase2"), 4), fmt(r.get("phase1_seconds")), fmt(r.get("phase2_seconds")),
             fmt(r.get("total_seconds"))] for r in runs]
    summary_headers = ["resize", "centering", "runs", "mean acc 1", "range acc 1", "mean acc 2", "range acc 2",
                       "phase 1 s", "phase 2 s", "total s"]

    def span(entry, p):
        low, high = entry[f"min_val_accuracy_phase{p}"], entry[f"max_val_accuracy_phase{p}"]
        return "-" if low is None else f"{low:.4f}-{high:.4f}"

    summary_rows = [[e["resize"], e["centering"], str(e["runs"]), fmt(e["mean_val_accuracy_phase1"], 4), span(e, 1),
                     fmt(e["mean_val_accuracy_phase2"], 4), span(e, 2), fmt(e["median_phase1_seconds"]),
                     fmt(e["median_phase2_seconds"]), fmt(e["median_total_seconds"])] for e in summary]
    return "\n".join([table(headers, rows, left=2), "", "per configuration (accuracy: mean over runs; times: medians)",
                      table(summary_headers, summary_rows, left=2)])


def recipe_settings(args: argparse.Namespace, recipe: str) -> dict[str, Any]:
    """Phase 2's settings and the decay for the Keras side: the recipe's, with the ones given on the command line
    instead."""
    settings = dict(KERAS_RECIPES[recipe])
    for key in settings:
        if getattr(args, key, None) is not None:
            settings[key] = getattr(args, key)
    return settings


def dogdoor_command(binary: str, *, data: str, positive: str, workdir: str, weights: str, epochs: int,
                    fine_tune_epochs: int | None, steps_per_epoch: int, batch_size: int, learning_rate: float,
                    fine_tune_learning_rate: float | None, seed: int, threads: int, resize: str, centering: str,
                    recipe: str = "tutorial", max_false_accept: float | None = None, fine_tune_from: str | None = None,
                    cosine_decay: bool | None = None, fine_tune_average_epochs: int | None = None) -> list[str]:
    """The dogdoor-train command line; the model, its report and the epoch log go to `workdir`. No int8 form:
    its calibration and comparison are not what this measures. Phase 2's settings left None are the recipe's
    (dogdoor-train's own)."""
    calibrate = [] if max_false_accept is None else ["--max-false-accept", repr(max_false_accept)]
    phase2 = [*(["--fine-tune-epochs", str(fine_tune_epochs)] if fine_tune_epochs is not None else []),
              *(["--fine-tune-learning-rate", repr(fine_tune_learning_rate)]
                if fine_tune_learning_rate is not None else []),
              *(["--fine-tune-from", fine_tune_from] if fine_tune_from is not None else []),
              *([] if cosine_decay is None else ["--cosine-decay" if cosine_decay else "--no-cosine-decay"]),
              *(["--fine-tune-average-epochs", str(fine_tune_average_epochs)]
                if fine_tune_average_epochs is not None else [])]
    return [binary, "--data", data, "--positive", positive, "--recipe", recipe, *calibrate, *phase2,
            "--output", os.path.join(workdir, "model.safetensors"),
            "--report", os.path.join(workdir, "model.report.html"),
            "--log-json", os.path.join(workdir, "epochs.jsonl"),
            "--weights", weights, "--epochs", str(epochs),
            "--steps-per-epoch", str(steps_per_epoch), "--batch-size", str(batch_size),
            "--learning-rate", repr(learning_rate),
            "--seed", str(seed), "--threads", str(threads), "--resize", resize, "--centering", centering, "--no-int8"]


def round_order(round_index: int, engines: Sequence[str]) -> list[str]:
    """ABBA: the engines in the given order in odd rounds (1-based), reversed in even ones."""
    return list(engines) if round_index % 2 == 1 else list(reversed(engines))


def parse_choices(text: str, allowed: Sequence[str]) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in allowed]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(allowed)}, got {text!r}")
    return names


def parse_seeds(text: str) -> list[int]:
    seeds = [int(s) for s in text.split(",") if s.strip()]
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"--seeds {text!r}: expected non-negative integers separated by commas")
    return seeds


def parse_engines(text: str) -> list[str]:
    engines = [e.strip() for e in text.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if not engines or unknown or len(set(engines)) != len(engines):
        raise argparse.ArgumentTypeError(f"--engines {text!r}: expected a comma-separated subset of {','.join(ENGINES)}")
    return engines


# --------------------------------------------------------------------------------------------------
# Running the engines
# --------------------------------------------------------------------------------------------------


def stream(command: Sequence[str], prefix: str, quiet: bool, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> tuple[int, str, float]:
    """Runs `command`, echoing its merged output line by line with `prefix` (unless quiet); returns the exit
    status, the whole output and the wall time."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                               env=env, cwd=cwd, errors="replace")
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if not quiet:
            print(f"{prefix}{line}", end="", flush=True)
    status = process.wait()
    return status, "".join(lines), time.perf_counter() - start


class BenchError(Exception):
    pass


def build_dogdoor_train(scratch_path: str | None, jobs: int | None) -> Path:
    """Builds dogdoor-train in release mode (incremental) and returns the binary's path."""
    extra = (["--scratch-path", scratch_path] if scratch_path else []) + (["-j", str(jobs)] if jobs else [])
    print("building dogdoor-train (release, incremental)...", flush=True)
    built = subprocess.run(["swift", "build", "-c", "release", "--product", "dogdoor-train", *extra], cwd=ROOT,
                           capture_output=True, text=True)
    if built.returncode != 0:
        raise BenchError(f"swift build failed (exit {built.returncode}):\n{built.stdout[-4000:]}{built.stderr[-4000:]}")
    bin_path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path", *extra], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    return Path(bin_path) / "dogdoor-train"


def run_dogdoor(binary: Path, args: argparse.Namespace, *, seed: int, resize: str, centering: str,
                recipe: str = "tutorial", max_false_accept: float | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-train-dogdoor-") as workdir:
        command = dogdoor_command(
            str(binary), data=args.data, positive=args.positive, workdir=workdir, weights=args.weights,
            epochs=args.epochs, fine_tune_epochs=args.fine_tune_epochs, steps_per_epoch=args.steps_per_epoch,
            batch_size=args.batch_size, learning_rate=args.learning_rate,
            fine_tune_learning_rate=args.fine_tune_learning_rate, seed=seed, threads=args.threads,
            resize=resize, centering=centering, recipe=recipe, max_false_accept=max_false_accept,
            fine_tune_from=args.fine_tune_from, cosine_decay=args.cosine_decay,
            fine_tune_average_epochs=args.fine_tune_average_epochs)
        status, output, wall = stream(command, "  [dogdoor] ", args.quiet, cwd=ROOT)
        if status != 0:
            raise BenchError(f"dogdoor-train failed (exit {status}): {' '.join(command)}\n{output[-4000:]}")
        parsed = parse_dogdoor_output(output)
        with open(os.path.join(workdir, "epochs.jsonl")) as f:
            epochs = parse_epoch_log(f.read())
    if "phase1_seconds" not in parsed:
        raise BenchError(f"dogdoor-train printed no phase 1 time:\n{output[-4000:]}")
    acc1, acc2 = phase_accuracies(epochs)
    return {"engine": "dogdoor", "seed": seed, "resize": resize, "centering": centering,
            "phase1_seconds": parsed.get("phase1_seconds"), "phase2_seconds": parsed.get("phase2_seconds"),
            "total_seconds": wall, "val_accuracy_phase1": acc1, "val_accuracy_phase2": acc2,
            "final_val_accuracy": parsed.get("final_val_accuracy"), "kernel": parsed.get("kernel"),
            "threads": parsed.get("threads"), "images": parsed.get("images"), "epochs": epochs, "recipe": recipe,
            "calibrated": parsed.get("calibrated"), "cross_validated": parsed.get("cross_validated"),
            "spread": {phase: spread for phase in ("frozen", "fine-tune")
                       if (spread := phase_spread(epochs, phase)) is not None}}


def run_keras(args: argparse.Namespace, *, seed: int) -> dict[str, Any]:
    """Runs the Keras recipe in a fresh child process (this script with --keras-child)."""
    with tempfile.TemporaryDirectory(prefix="bench-train-keras-") as workdir:
        config_path, result_path = os.path.join(workdir, "config.json"), os.path.join(workdir, "result.json")
        config = {"data": args.data, "positive": args.positive, "weights": args.weights, "epochs": args.epochs,
                  "steps_per_epoch": args.steps_per_epoch, "batch_size": args.batch_size,
                  "learning_rate": args.learning_rate, "seed": seed, "threads": args.threads,
                  "inter_op_threads": args.tf_inter_op_threads, "recipe": args.recipe,
                  **recipe_settings(args, args.recipe)}
        with open(config_path, "w") as f:
            json.dump(config, f)
        env = dict(os.environ, KERAS_BACKEND="tensorflow", PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="",
                   TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "1"))
        command = [sys.executable, str(Path(__file__).resolve()), "--keras-child", config_path, result_path]
        status, output, wall = stream(command, "  [keras] ", args.quiet, env=env, cwd=ROOT)
        if status != 0 or not os.path.exists(result_path):
            raise BenchError(f"the Keras run failed (exit {status}):\n{output[-4000:]}")
        with open(result_path) as f:
            result = json.load(f)
    result.update(engine="keras", seed=seed, resize="nearest", centering="samplewise", total_seconds=wall,
                  recipe=args.recipe)
    return result


def keras_child(config_path: str, result_path: str) -> None:
    """The Keras recipe, in its own process. Writes phase times, accuracies and history to `result_path`."""
    started = time.perf_counter()
    with open(config_path) as f:
        cfg = json.load(f)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import numpy as np
    import tensorflow as tf

    # Threads must be set before TensorFlow runs its first op.
    tf.config.threading.set_intra_op_parallelism_threads(cfg["threads"])
    if cfg.get("inter_op_threads"):
        tf.config.threading.set_inter_op_parallelism_threads(cfg["inter_op_threads"])
    import keras

    sys.path.insert(0, str(SCRIPTS))
    import dogdoor_tensors as dt

    keras.utils.set_random_seed(cfg["seed"])
    batch = cfg["batch_size"]
    ImageDataGenerator = tf.keras.preprocessing.image.ImageDataGenerator  # Keras 3 keeps it under tf.keras (legacy)

    # Data: augmentation for training only; nearest resize is load_img's default, as in the tutorial.
    train_gen = ImageDataGenerator(samplewise_center=True, rotation_range=10, zoom_range=0.1, width_shift_range=0.1,
                                   height_shift_range=0.1, horizontal_flip=True, vertical_flip=False)
    valid_gen = ImageDataGenerator(samplewise_center=True)
    flow = dict(target_size=(IMAGE_SIDE, IMAGE_SIDE), color_mode="rgb", class_mode="binary", batch_size=batch,
                seed=cfg["seed"])
    train_it = train_gen.flow_from_directory(os.path.join(cfg["data"], "train"), **flow)
    valid_it = valid_gen.flow_from_directory(os.path.join(cfg["data"], "valid"), shuffle=False, **flow)
    if train_it.class_indices != valid_it.class_indices:
        raise SystemExit(f"train and valid class folders differ: {train_it.class_indices} vs {valid_it.class_indices}")
    flip = positive_class_index(train_it.class_indices, cfg["positive"]) == 0
    print(f"class indices {train_it.class_indices}; positive class {cfg['positive']!r} is label 1"
          f"{' (labels flipped: y -> 1 - y)' if flip else ''}", flush=True)

    class Batches(keras.utils.PyDataset):
        def __init__(self, source: RemappedBatches):
            super().__init__()
            self.source = source

        @property
        def num_batches(self):
            return self.source.num_batches

        def __getitem__(self, index):
            return self.source.batch(index)

        def on_epoch_end(self):
            self.source.epoch_ended()

    train_data = Batches(RemappedBatches(train_it, flip, endless=True))
    valid_data = Batches(RemappedBatches(valid_it, flip, endless=False))
    validation_steps = math.ceil(valid_it.samples / batch)

    # Model: the VGG16 conv base with DogDoor's weights, frozen; GAP + Dense(1) logits on top.
    weights = dt.load_conv_base(dt.SafetensorsFile(cfg["weights"]))
    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(IMAGE_SIDE, IMAGE_SIDE, 3))
    for name in dt.CONV_NAMES:
        base.get_layer(name).set_weights([np.array(weights[f"{name}.kernel"]), np.array(weights[f"{name}.bias"])])
    base.trainable = False
    inputs = keras.Input(shape=(IMAGE_SIDE, IMAGE_SIDE, 3))
    x = base(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)

    class CosineDecay(keras.optimizers.schedules.LearningRateSchedule):
        """DogDoor's LearningRateSchedule without warm-up: step k of n runs at peak * (1 + cos(pi (k+1)/(n+1))) / 2
        (Keras's own CosineDecay reaches 0 at the last step; DogDoor stops one step short)."""

        def __init__(self, peak, total_steps):
            self.peak, self.total_steps = peak, total_steps

        def __call__(self, step):
            progress = (tf.cast(step, tf.float32) + 1.0) / (self.total_steps + 1.0)
            return self.peak * 0.5 * (1.0 + tf.cos(math.pi * tf.minimum(progress, 1.0)))

    class AverageLastEpochs(keras.callbacks.Callback):
        """Keeps the mean of the trainable weights over the ends of the last `count` epochs (DogDoor's WeightAverage)
        and sets it when training ends."""

        def __init__(self, epochs, count):
            super().__init__()
            self.first, self.sums, self.count = epochs - count, None, 0

        def on_epoch_end(self, epoch, logs=None):
            if epoch < self.first:
                return
            values = [w.numpy().astype(np.float64) for w in self.model.trainable_weights]
            self.sums = values if self.sums is None else [a + b for a, b in zip(self.sums, values)]
            self.count += 1

        def on_train_end(self, logs=None):
            for w, total in zip(self.model.trainable_weights, self.sums):
                w.assign((total / self.count).astype(np.float32))

    def compile_with(learning_rate, epochs):
        steps = epochs * cfg["steps_per_epoch"]
        rate = CosineDecay(learning_rate, steps) if cfg["cosine_decay"] else learning_rate
        model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True),
                      metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
                      optimizer=keras.optimizers.RMSprop(learning_rate=rate))

    def fit(epochs, average=0):
        t = time.perf_counter()
        callbacks = [AverageLastEpochs(epochs, min(average, epochs))] if average > 1 else []
        history = model.fit(train_data, steps_per_epoch=cfg["steps_per_epoch"], validation_data=valid_data,
                            validation_steps=validation_steps, epochs=epochs, verbose=2, callbacks=callbacks,
                            shuffle=False)  # the endless stream shuffles each pass itself
        return time.perf_counter() - t, {k: [float(v) for v in vs] for k, vs in history.history.items()}

    setup_seconds = time.perf_counter() - started
    print("Phase 1: training the new head on the frozen VGG16 base", flush=True)
    compile_with(cfg["learning_rate"], cfg["epochs"])
    trainable = {"frozen": len(model.trainable_weights)}
    print(f"trainable tensors: {trainable['frozen']}", flush=True)
    phase1_seconds, history1 = fit(cfg["epochs"])
    phase2_seconds, history2 = None, {}
    if cfg["fine_tune_epochs"] > 0:
        print(f"Phase 2: fine-tuning the base from {cfg['fine_tune_from']}", flush=True)
        base.trainable = True
        first = dt.CONV_NAMES.index(cfg["fine_tune_from"])
        for name in dt.CONV_NAMES[:first]:
            base.get_layer(name).trainable = False
        compile_with(cfg["fine_tune_learning_rate"], cfg["fine_tune_epochs"])  # trainable changes take effect here
        trainable["fine-tune"] = len(model.trainable_weights)
        print(f"trainable tensors: {trainable['fine-tune']}", flush=True)
        phase2_seconds, history2 = fit(cfg["fine_tune_epochs"], cfg["fine_tune_average_epochs"])
    result = {
        "setup_seconds": setup_seconds, "phase1_seconds": phase1_seconds, "phase2_seconds": phase2_seconds,
        "val_accuracy_phase1": history1["val_accuracy"][-1],
        "val_accuracy_phase2": history2["val_accuracy"][-1] if history2 else None,
        # The weights kept (averaged, where the recipe averages), as DogDoor reports them.
        "final_val_accuracy": float(model.evaluate(valid_data, steps=validation_steps, verbose=0,
                                                   return_dict=True)["accuracy"]),
        "history": {"frozen": history1, "fine-tune": history2},
        "images": {"train": train_it.samples, "valid": valid_it.samples, "class_indices": train_it.class_indices,
                   "labels_flipped": flip},
        "threads": cfg["threads"], "trainable_tensors": trainable,
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__},
    }
    with open(result_path, "w") as f:
        json.dump(result, f)
    print(f"phase 1 (frozen base): {phase1_seconds:.1f} s", flush=True)
    if phase2_seconds is not None:
        print(f"phase 2 (fine-tuning): {phase2_seconds:.1f} s", flush=True)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def check_data(data: str, positive: str) -> None:
    for split in ("train", "valid"):
        path = Path(data) / split
        if not path.is_dir():
            raise BenchError(f"{path} is not a directory (expected DATA/train/<class>/ and DATA/valid/<class>/)")
        classes = sorted(p.name for p in path.iterdir() if p.is_dir())
        try:
            positive_class_index({c: i for i, c in enumerate(classes)}, positive)
        except ValueError as e:
            raise BenchError(f"{path}: {e}") from None


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="See the header of Scripts/bench-train.py for details.")
    parser.add_argument("--data", help="DATA with train/<class>/ and valid/<class>/ folders")
    parser.add_argument("--positive", help="class folder of the dog to admit (label 1 in both engines)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat everything N times (default 1)")
    parser.add_argument("--engines", type=parse_engines, default=list(ENGINES), help="keras,dogdoor (default both)")
    parser.add_argument("--sweep", action="store_true",
                        help="dogdoor-train only (--engines is ignored), over resize (nearest, bilinear, area) x "
                             "centering (samplewise, caffe)")
    parser.add_argument("--resize-methods", type=lambda t: parse_choices(t, RESIZE_METHODS), default=list(RESIZE_METHODS),
                        help="--sweep: comma-separated resize methods (default: all)")
    parser.add_argument("--centerings", type=lambda t: parse_choices(t, CENTERINGS), default=list(CENTERINGS),
                        help="--sweep: comma-separated centerings (default: all)")
    parser.add_argument("--recipes", type=lambda t: parse_choices(t, RECIPES),
                        help="dogdoor-train only: compare these recipes (comma-separated: tutorial,stable) over --seeds")
    parser.add_argument("--max-false-accept", type=float, default=0.0,
                        help="--recipes: dogdoor-train --max-false-accept (default 0)")
    parser.add_argument("--seeds", type=parse_seeds,
                        help="--sweep, --recipes: comma-separated seeds to run each configuration with (default: --seed)")
    parser.add_argument("--epochs", type=int, default=20, help="phase 1 epochs (default 20)")
    parser.add_argument("--recipe", choices=tuple(KERAS_RECIPES), default="tutorial",
                        help="the recipe both engines run in the comparison (default tutorial)")
    parser.add_argument("--fine-tune-epochs", type=int, help="phase 2 epochs, 0 skips it (default: the recipe's)")
    parser.add_argument("--fine-tune-from", choices=CONV_NAMES,
                        help="first conv layer trained in phase 2 (default: the recipe's)")
    parser.add_argument("--cosine-decay", action=argparse.BooleanOptionalAction,
                        help="cosine decay of the learning rate in each phase (default: the recipe's)")
    parser.add_argument("--fine-tune-average-epochs", type=int,
                        help="phase 2 keeps its weights averaged over its last N epochs (default: the recipe's)")
    parser.add_argument("--steps-per-epoch", type=int, default=12, help="default 12")
    parser.add_argument("--batch-size", type=int, default=8, help="default 8")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="phase 1 RMSprop (default 1e-3)")
    parser.add_argument("--fine-tune-learning-rate", type=float, help="phase 2 RMSprop (default: the recipe's)")
    parser.add_argument("--seed", type=int, default=1, help="default 1")
    parser.add_argument("--threads", type=int, default=2,
                        help="dogdoor-train --threads and TensorFlow's intra-op threads (default 2)")
    parser.add_argument("--tf-inter-op-threads", type=int, default=0,
                        help="TensorFlow's inter-op threads (default 0: TensorFlow's own choice)")
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="VGG16 base weights (safetensors)")
    parser.add_argument("--binary", help="dogdoor-train to run as it is (skips the build)")
    parser.add_argument("--scratch-path", help="swift build --scratch-path (default: .build)")
    parser.add_argument("--build-jobs", type=int, help="swift build -j")
    parser.add_argument("--json", help="write all results to this file (rewritten after every run)")
    parser.add_argument("--quiet", action="store_true", help="do not echo the engines' progress")
    parser.add_argument("--keras-child", nargs=2, metavar=("CONFIG", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.keras_child:
        return args
    if not args.data or not args.positive:
        parser.error("--data and --positive are required")
    if args.rounds < 1 or args.epochs < 1 or (args.fine_tune_epochs or 0) < 0 or args.steps_per_epoch < 1:
        parser.error("--rounds, --epochs and --steps-per-epoch must be at least 1, --fine-tune-epochs at least 0")
    if not 1 <= args.batch_size <= 64 or args.threads < 1:
        parser.error("--batch-size must be 1..64 and --threads at least 1")
    if args.seeds and not (args.sweep or args.recipes):
        parser.error("--seeds is for --sweep and --recipes (the comparison uses --seed)")
    if args.sweep and args.recipes:
        parser.error("--sweep and --recipes are separate modes")
    args.data = os.path.abspath(args.data)
    args.weights = os.path.abspath(args.weights)
    args.seeds = args.seeds or [args.seed]
    return args


def machine_info() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "load_average_at_start": list(os.getloadavg())}


def write_json(path: str | None, document: dict[str, Any]) -> None:
    if not path:
        return
    temporary = f"{path}.tmp"
    with open(temporary, "w") as f:
        json.dump(document, f, indent=1)
        f.write("\n")
    os.replace(temporary, path)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    if args.keras_child:
        keras_child(*args.keras_child)
        return 0
    try:
        check_data(args.data, args.positive)
        if not os.path.exists(args.weights):
            raise BenchError(f"{args.weights} not found: run Scripts/setup.sh (or pass --weights)")
        engines = ["dogdoor"] if args.sweep or args.recipes else args.engines
        if "keras" in engines:
            import importlib.util

            if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None:
                print(VENV_HELP, file=sys.stderr)
                return 2
        binary = Path(args.binary) if args.binary else (
            build_dogdoor_train(args.scratch_path, args.build_jobs) if "dogdoor" in engines else None)
        settings = {k: v for k, v in vars(args).items() if k != "keras_child"}
        mode = "sweep" if args.sweep else "recipes" if args.recipes else "compare"
        document: dict[str, Any] = {"mode": mode, "settings": settings,
                                    "machine": machine_info(), "dogdoor_train": str(binary) if binary else None,
                                    "runs": []}
        runs = document["runs"]
        if args.recipes:
            for round_index in range(1, args.rounds + 1):
                for seed in args.seeds:
                    for recipe in args.recipes:
                        print(f"== round {round_index}, seed {seed}: dogdoor-train --recipe {recipe}", flush=True)
                        run = run_dogdoor(binary, args, seed=seed, resize="nearest", centering="samplewise",
                                          recipe=recipe, max_false_accept=args.max_false_accept)
                        run["round"] = round_index
                        runs.append(run)
                        document["summary"] = summarize_recipes(runs)
                        write_json(args.json, document)
            print()
            print(format_recipes(runs, document["summary"]))
        elif args.sweep:
            for round_index in range(1, args.rounds + 1):
                for seed in args.seeds:
                    for resize in args.resize_methods:
                        for centering in args.centerings:
                            print(f"== round {round_index}, seed {seed}: dogdoor-train --resize {resize} "
                                  f"--centering {centering}", flush=True)
                            run = run_dogdoor(binary, args, seed=seed, resize=resize, centering=centering)
                            run["round"] = round_index
                            runs.append(run)
                            document["summary"] = summarize_sweep(runs)
                            write_json(args.json, document)
            print()
            print(format_sweep(runs, document["summary"]))
        else:
            for round_index in range(1, args.rounds + 1):
                for engine in round_order(round_index, engines):
                    print(f"== round {round_index}/{args.rounds}: {engine}", flush=True)
                    if engine == "keras":
                        run = run_keras(args, seed=args.seed)
                    else:
                        run = run_dogdoor(binary, args, seed=args.seed, resize="nearest", centering="samplewise",
                                          recipe=args.recipe)
                    run["round"] = round_index
                    runs.append(run)
                    print(f"   {engine}: phase 1 {fmt(run['phase1_seconds'])} s, phase 2 {fmt(run['phase2_seconds'])} s, "
                          f"total {fmt(run['total_seconds'])} s; val accuracy {fmt(run['val_accuracy_phase1'], 4)} "
                          f"after phase 1, {fmt(run['val_accuracy_phase2'], 4)} after phase 2", flush=True)
                    document["summary"] = summarize_comparison(runs)
                    write_json(args.json, document)
            print()
            print(format_comparison(runs, document["summary"]))
        if args.json:
            print(f"\nresults: {args.json}")
        return 0
    except BenchError as e:
        print(f"bench-train: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nbench-train: interrupted{f'; results so far in {args.json}' if args.json else ''}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
