"""Label-free accuracy estimates: ATC and DoC on known inputs, the interval, the serialization in the
drift reference, and on the real model of the session fixture, a shifted set (the robustness set,
other writers) where the fitted estimate must beat the mean confidence and its interval cover."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from classifier.io.inputs import read_chunks
from classifier.monitoring import drift
from classifier.monitoring.estimate import (
    DifferenceOfConfidences,
    Estimate,
    MeanConfidence,
    ThresholdedConfidence,
    load_estimators,
)
from classifier.serving.score import Scorer, run_batch


def test_atc_threshold_makes_the_share_above_it_equal_the_held_out_accuracy():
    confidence = np.array([0.99, 0.95, 0.9, 0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([1, 1, 1, 0, 1, 1, 0, 0], dtype=bool)  # 5 of 8
    atc = ThresholdedConfidence().fit(confidence, correct)
    assert atc.estimate(confidence).point == pytest.approx(5 / 8)
    assert atc.threshold == pytest.approx(0.8)
    # a batch whose confidences all fell below the threshold is estimated at zero, whatever their mean
    assert atc.estimate([0.75, 0.75, 0.7]).point == 0.0
    assert MeanConfidence().estimate([0.75, 0.75, 0.7]).point == pytest.approx(0.7333, abs=1e-4)


def test_atc_counts_a_share_of_the_rows_tied_at_the_threshold():
    confidence = np.array([0.9] * 4 + [0.5] * 4)
    correct = np.array([1, 1, 1, 1, 1, 1, 0, 0], dtype=bool)  # 6 of 8: half the 0.5 rows count
    atc = ThresholdedConfidence().fit(confidence, correct)
    assert atc.threshold == 0.5 and atc.tie_share == pytest.approx(0.5)
    assert atc.estimate(confidence).point == pytest.approx(0.75)


def test_doc_slope_is_fitted_across_writers():
    # writer b is less sure and much less often right: accuracy falls twice as fast as confidence
    confidence = np.r_[np.full(100, 0.9), np.full(100, 0.8)]
    correct = np.r_[np.ones(90), np.zeros(10), np.ones(70), np.zeros(30)].astype(bool)
    doc = DifferenceOfConfidences().fit(confidence, correct, groups=np.repeat(["a", "b"], 100))
    assert doc.slope == pytest.approx(2.0)
    assert doc.estimate(np.full(50, 0.85)).point == pytest.approx(0.8)


def test_interval_widens_with_the_shift_between_writers():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.6, 1.0, 2000)
    # writers whose accuracy is the confidence's plus a writer-specific offset: a shift no sampling explains
    offsets = np.repeat([-0.15, 0.0, 0.1, -0.05], 500)
    correct = rng.uniform(size=2000) < np.clip(confidence + offsets, 0, 1)
    groups = np.repeat(list("abcd"), 500)
    plain = ThresholdedConfidence().fit(confidence, correct)
    grouped = ThresholdedConfidence().fit(confidence, correct, groups)
    assert plain.shift_sd == 0.0 and grouped.shift_sd > 0.05
    narrow, wide = plain.estimate(confidence[:300]), grouped.estimate(confidence[:300])
    assert narrow.point == pytest.approx(wide.point)
    assert wide.high - wide.low > 2 * (narrow.high - narrow.low)


def test_bad_confidences_are_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ThresholdedConfidence().fit([0.5, np.nan], [True, False])
    with pytest.raises(ValueError, match="2 confidences and 1"):
        MeanConfidence().fit([0.5, 0.6], [True])
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        load_estimators({"topic": {"method": "magic", "level": 0.95, "shift_sd": 0.0}})
    empty = ThresholdedConfidence().estimate([])
    assert isinstance(empty, Estimate) and empty.rows == 0 and np.isnan(empty.point)


@pytest.fixture(scope="module")
def reference(model_dir):
    profile, _ = drift.load_reference(model_dir)
    return profile


def test_reference_holds_fitted_estimators_that_round_trip(reference):
    assert set(reference["estimators"]) == {"topic", "urgency"}
    restored = load_estimators(json.loads(json.dumps(reference["estimators"])))
    batch = np.linspace(0.3, 1.0, 57)
    for name, estimator in restored.items():
        assert estimator.to_dict() == reference["estimators"][name]
        again = load_estimators({name: estimator.to_dict()})[name]
        assert again.estimate(batch) == estimator.estimate(batch)
        assert estimator.shift_sd > 0  # fitted with the writers as groups


@pytest.fixture(scope="module")
def robustness_scored(model_dir, params, tmp_path_factory):
    """The whole robustness set (three writers the model never read) scored by the fixture model."""
    out = tmp_path_factory.mktemp("estimate") / "robustness.csv"
    run_batch(
        Scorer.load(model_dir, drift_columns=True),
        read_chunks(ROOT / "data" / "robustness.csv"),
        out,
        params.sla,
        progress=False,
        csv_escape=False,
    )
    return pd.read_csv(out, dtype=str, keep_default_na=False)


def test_on_a_shifted_set_the_fitted_estimate_beats_the_mean_confidence_and_covers(
    reference, robustness_scored
):
    estimators = load_estimators(reference["estimators"])
    errors = {"fitted": 0.0, "plain": 0.0}
    for name in ("topic", "urgency"):
        confidence = robustness_scored[f"{name}_confidence"].astype(float).to_numpy()
        measured = float((robustness_scored[f"true_{name}"] == robustness_scored[name]).mean())
        fitted, plain = estimators[name].estimate(confidence), MeanConfidence().estimate(confidence)
        assert abs(fitted.point - measured) <= 0.05 and fitted.covers(measured), (name, measured, fitted)
        errors["fitted"] += abs(fitted.point - measured)
        errors["plain"] += abs(plain.point - measured)
    # Both heads together: the mean confidence is about right for topic and under-states urgency, whose
    # decision the spec's rules and the P(high) threshold take after the model (one head alone can tie).
    assert errors["fitted"] < errors["plain"], errors


def test_drift_report_shows_the_fitted_estimate_beside_the_mean_confidence(
    model_dir, params, robustness_scored
):
    profile, sample = drift.load_reference(model_dir)
    unlabeled = robustness_scored.drop(columns=["true_topic", "true_urgency"])
    report = drift.compare(profile, sample, unlabeled, params.drift)
    for name in ("topic", "urgency"):
        entry = report.performance[name]
        assert entry["method"] == profile["estimators"][name]["method"] and "accuracy" not in entry
        low, high = entry["interval"]
        assert low <= entry["estimated_accuracy"] <= high
        mean = unlabeled[f"{name}_confidence"].astype(float).mean()
        assert entry["mean_confidence"] == pytest.approx(mean, abs=1e-4)
        check = next(c for c in report.checks if c.name == f"{name} performance")
        assert check.statistic == "estimated accuracy" and check.value == entry["estimated_accuracy"]


def test_drift_command_prints_the_estimate_with_its_interval(model_dir, robustness_scored, tmp_path):
    batch = tmp_path / "unlabeled.csv"
    robustness_scored.drop(columns=["true_topic", "true_urgency"]).to_csv(batch, index=False)
    command = [
        sys.executable,
        "-m",
        "classifier",
        "drift",
        "--current",
        str(batch),
        "--reference",
        str(model_dir),
        "--params",
        str(ROOT / "params.yaml"),
        "--json",
        str(tmp_path / "report.json"),
    ]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode in (0, 1), run.stderr
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    for head in ("topic", "urgency"):
        entry = report["performance"][head]
        low, high = entry["interval"]
        line = f"{head} accuracy: estimated {entry['estimated_accuracy']:.3f} [{low:.3f}, {high:.3f}] (ATC"
        assert line in run.stdout
