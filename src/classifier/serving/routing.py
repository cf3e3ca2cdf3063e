"""Review routing: which predictions are trusted to go straight into the queue (`auto`) and which a
person checks first (`review`).

A mail is auto-triaged when the joint confidence of its two labels reaches a threshold chosen on
validation data for a target accuracy. A mail that might be high urgency (P(high) above a low guard
threshold) but was not predicted high always goes to review: it is never silently demoted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

# Predictions as a frame, or as columns of arrays (the scoring path's dict of columns).
Columns = pd.DataFrame | Mapping[str, Any]


def joint_confidence(predicted: Columns) -> Any:
    return predicted["topic_confidence"] * predicted["urgency_confidence"]


def guarded(predicted: Columns, high_guard: float) -> np.ndarray:
    return (np.asarray(predicted["urgency"], dtype=object) != "high") & (
        np.asarray(predicted["p_high"]) >= high_guard
    )


def both_correct(truth: pd.DataFrame, predicted: pd.DataFrame) -> pd.Series:
    return truth["topic"].eq(predicted["topic"]) & truth["urgency"].eq(predicted["urgency"])


def coverage_curve(truth: pd.DataFrame, predicted: pd.DataFrame, high_guard: float) -> pd.DataFrame:
    """For each candidate threshold: the share routed to auto and the accuracy of that share."""
    confidence = joint_confidence(predicted)
    eligible = ~guarded(predicted, high_guard)
    correct = both_correct(truth, predicted)
    rows = []
    for threshold in np.round(np.arange(0.0, 1.0001, 0.01), 2):
        auto = eligible & confidence.ge(threshold)
        rows.append(
            {
                "threshold": float(threshold),
                "coverage": float(auto.mean()),
                "accuracy": float(correct[auto].mean()) if auto.any() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def choose_thresholds(
    truth: pd.DataFrame, predicted: pd.DataFrame, target_accuracy: float, high_guard: float
) -> dict[str, float]:
    """The lowest threshold whose auto share reaches the target accuracy (1.01: everything to review)."""
    curve = coverage_curve(truth, predicted, high_guard)
    reaching = curve[curve["accuracy"].ge(target_accuracy)]
    chosen = (
        reaching.iloc[0]
        if len(reaching)
        else pd.Series({"threshold": 1.01, "coverage": 0.0, "accuracy": float("nan")})
    )
    return {
        "auto_confidence": float(chosen["threshold"]),
        "high_guard": float(high_guard),
        "target_accuracy": float(target_accuracy),
        "validation_coverage": round(float(chosen["coverage"]), 4),
        "validation_accuracy": round(float(chosen["accuracy"]), 4),
    }


def choose_high_threshold(truth: pd.DataFrame, predicted: pd.DataFrame, target_recall: float) -> float | None:
    """The highest P(high) threshold whose recall of high urgency reaches the target on validation;
    None when the most probable class already reaches it."""
    is_high = truth["urgency"].eq("high")
    if (predicted["urgency"].eq("high") & is_high).sum() >= target_recall * is_high.sum():
        return None
    for threshold in np.round(np.arange(0.5, 0.0, -0.01), 2):
        caught = (predicted["urgency"].eq("high") | predicted["p_high"].ge(threshold)) & is_high
        if caught.sum() >= target_recall * is_high.sum():
            return float(threshold)
    return 0.01


def route(predicted: Columns, thresholds: Mapping[str, Any]) -> pd.DataFrame:
    """`route` (auto/review) and `route_reason` for each prediction (a frame, or columns as arrays)."""
    confidence = np.asarray(joint_confidence(predicted))
    guard = guarded(predicted, thresholds["high_guard"])
    low = confidence < thresholds["auto_confidence"]
    reason = np.full(len(confidence), "", dtype=object)
    for row in np.flatnonzero(low & ~guard).tolist():
        reason[row] = f"low confidence: {confidence[row]:.2f}"
    p_high = np.asarray(predicted["p_high"])
    for row in np.flatnonzero(guard).tolist():
        reason[row] = f"possible high urgency: P(high)={p_high[row]:.2f}"
    routes = np.where(guard | low, "review", "auto").astype(object)
    return pd.DataFrame({"route": routes, "route_reason": reason}, index=getattr(predicted, "index", None))
