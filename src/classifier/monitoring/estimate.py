"""Label-free accuracy estimates for a scored batch, fitted on writer-grouped held-out predictions.

The drift check needs to know how well the model does on new mail before anyone labels it. The mean
calibrated confidence (NannyML's CBPE idea) is right on mail like the training data and drifts away
from the truth on mail unlike it. This module owns estimators that are fitted at training time on the
out-of-fold predictions of the writer-grouped cross-validation (the model never read those writers)
and estimate a batch's accuracy from its confidences alone:

- `MeanConfidence`: the CBPE baseline, the mean top-label confidence.
- `ThresholdedConfidence`: Average Thresholded Confidence (ATC; Garg et al., ICLR 2022): a threshold
  on confidence chosen so that the share of held-out predictions above it equals their accuracy; the
  estimate is the batch's share above it.
- `DifferenceOfConfidences`: DoC (Guillory et al., ICCV 2021) with the slope fitted across held-out
  writers: accuracy moves by `slope` times the move of the mean confidence.

Each returns a point and an interval. The interval adds two variances: the batch's own sampling
noise (Bernoulli with the confidences as probabilities) and the shift variance, the mean squared
error of the estimator on each held-out writer when fitted on the others (leave-one-writer-out over
the out-of-fold predictions). Estimators serialize to plain dicts (no text) for the drift reference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from classifier.io.contract import LABEL_COLUMNS

DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """An accuracy estimate of one head on one batch."""

    method: str
    point: float
    low: float
    high: float
    rows: int
    level: float

    def covers(self, accuracy: float) -> bool:
        return self.low <= accuracy <= self.high

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "estimated_accuracy": round(self.point, 4),
            "interval": [round(self.low, 4), round(self.high, 4)],
            "level": self.level,
            "rows": self.rows,
        }


def _as_array(values: npt.ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    if array.size and (np.isnan(array).any() or array.min() < 0 or array.max() > 1):
        raise ValueError(f"{name}: confidences must be numbers in [0, 1] (got NaN or values outside)")
    return array


class AccuracyEstimator:
    """Fit on held-out (confidence, correct) pairs; estimate the accuracy of a batch of confidences."""

    method: ClassVar[str] = ""

    def __init__(self, level: float = DEFAULT_LEVEL, shift_sd: float = 0.0) -> None:
        self.level = level
        self.shift_sd = shift_sd  # the estimate's error from one held-out writer to the next (see fit)

    # -- what each estimator defines --------------------------------------------------------------

    def _fit_point(self, confidence: np.ndarray, correct: np.ndarray) -> None:
        raise NotImplementedError

    def _point(self, confidence: np.ndarray) -> float:
        raise NotImplementedError

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        pass

    # -- shared --------------------------------------------------------------------------------

    def fit(
        self, confidence: npt.ArrayLike, correct: npt.ArrayLike, groups: npt.ArrayLike | None = None
    ) -> AccuracyEstimator:
        """Fit on out-of-fold confidences and whether each prediction was right. With `groups` (the
        writer of each row), the shift variance comes from leaving each writer out in turn."""
        scores = _as_array(confidence, "fit")
        right = np.asarray(correct, dtype=bool)
        if len(scores) != len(right) or len(scores) == 0:
            raise ValueError(
                f"fit: {len(scores)} confidences and {len(right)} correctness flags; need equal and > 0"
            )
        if groups is not None:
            self.shift_sd = self._shift_sd(scores, right, np.asarray(groups))
        self._fit_point(scores, right)
        return self

    def _shift_sd(self, confidence: np.ndarray, correct: np.ndarray, groups: np.ndarray) -> float:
        # Leave one writer out: fit on the others, estimate the held-out one. The root-mean-square
        # error is what an estimate on a new writer's few hundred mails is off by. It still holds
        # those mails' sampling noise, which `estimate` adds again for the batch: conservative on
        # purpose (subtracting it covered 16 of 18 validation cases at a nominal 95%; see docs/drift.md).
        squared = []
        for group in pd.unique(groups):
            held = groups == group
            if held.all() or not held.any():
                continue
            self._fit_point(confidence[~held], correct[~held])
            squared.append((self._point(confidence[held]) - float(correct[held].mean())) ** 2)
        return math.sqrt(float(np.mean(squared))) if squared else 0.0

    @staticmethod
    def _sampling_variance(confidence: np.ndarray) -> float:
        # The batch's measured accuracy is a sum of Bernoulli draws: with calibrated confidences as
        # their probabilities its variance around the expectation is Σp(1-p)/n².
        return float(np.sum(confidence * (1 - confidence))) / max(1, len(confidence)) ** 2

    def estimate(self, confidence: npt.ArrayLike) -> Estimate:
        """Point and interval (at `level`) for the accuracy of the batch with these confidences."""
        scores = _as_array(confidence, "estimate")
        if len(scores) == 0:
            return Estimate(self.method, math.nan, math.nan, math.nan, 0, self.level)
        point = self._point(scores)
        z = float(stats.norm.ppf(0.5 + self.level / 2))
        half = z * math.sqrt(self._sampling_variance(scores) + self.shift_sd**2)
        return Estimate(
            self.method, point, max(0.0, point - half), min(1.0, point + half), len(scores), self.level
        )

    def to_dict(self) -> dict[str, Any]:
        state = {"method": self.method, "level": self.level, "shift_sd": round(self.shift_sd, 6)}
        return {**state, **self._state()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AccuracyEstimator:
        kinds = METHODS
        if data.get("method") not in kinds:
            raise ValueError(f"estimator: unknown method {data.get('method')!r}; known: {', '.join(kinds)}")
        estimator = kinds[data["method"]](level=float(data["level"]), shift_sd=float(data["shift_sd"]))
        estimator._load_state(data)
        return estimator


class MeanConfidence(AccuracyEstimator):
    """The CBPE baseline: the mean calibrated top-label confidence."""

    method = "mean confidence"

    def _fit_point(self, confidence: np.ndarray, correct: np.ndarray) -> None:
        pass

    def _point(self, confidence: np.ndarray) -> float:
        return float(confidence.mean())


class ThresholdedConfidence(AccuracyEstimator):
    """ATC: the share of the batch whose confidence reaches a threshold fitted on held-out data."""

    method = "ATC"

    def __init__(self, level: float = DEFAULT_LEVEL, shift_sd: float = 0.0) -> None:
        super().__init__(level, shift_sd)
        self.threshold = 0.5
        self.tie_share = 1.0  # the share of rows exactly at the threshold counted as above it

    def _fit_point(self, confidence: np.ndarray, correct: np.ndarray) -> None:
        # Confidences are rounded to 4 places, so many rows share a value: count a fraction of those
        # at the threshold so the held-out share above it equals the held-out accuracy exactly.
        target = float(correct.mean()) * len(confidence)
        ordered = np.sort(confidence)[::-1]
        k = min(len(ordered) - 1, max(0, math.ceil(target) - 1))
        self.threshold = float(ordered[k])
        above = float((confidence > self.threshold).sum())
        at = float((confidence == self.threshold).sum())
        self.tie_share = float(np.clip((target - above) / at, 0.0, 1.0)) if at else 1.0

    def _point(self, confidence: np.ndarray) -> float:
        above = (confidence > self.threshold).sum() + self.tie_share * (confidence == self.threshold).sum()
        return float(above) / len(confidence)

    def _state(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "tie_share": round(self.tie_share, 6)}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.threshold, self.tie_share = float(state["threshold"]), float(state["tie_share"])


class DifferenceOfConfidences(AccuracyEstimator):
    """DoC: held-out accuracy plus `slope` times the change of the mean confidence; the slope is fitted
    across held-out writers (least squares through the origin), 1 without writers."""

    method = "DoC"

    def __init__(self, level: float = DEFAULT_LEVEL, shift_sd: float = 0.0) -> None:
        super().__init__(level, shift_sd)
        self.accuracy = 1.0
        self.mean_confidence = 1.0
        self.slope = 1.0

    def fit(
        self, confidence: npt.ArrayLike, correct: npt.ArrayLike, groups: npt.ArrayLike | None = None
    ) -> AccuracyEstimator:
        if groups is not None:
            conf, keys = _as_array(confidence, "fit"), np.asarray(groups)
            right = np.asarray(correct, dtype=bool)
            moves = [
                (conf[keys == g].mean() - conf.mean(), right[keys == g].mean() - right.mean())
                for g in pd.unique(keys)
            ]
            dx, dy = np.array(moves).T
            self.slope = float(np.dot(dx, dy) / np.dot(dx, dx)) if np.dot(dx, dx) > 0 else 1.0
        return super().fit(confidence, correct, groups)

    def _fit_point(self, confidence: np.ndarray, correct: np.ndarray) -> None:
        self.accuracy, self.mean_confidence = float(correct.mean()), float(confidence.mean())

    def _point(self, confidence: np.ndarray) -> float:
        moved = self.accuracy + self.slope * (confidence.mean() - self.mean_confidence)
        return float(np.clip(moved, 0.0, 1.0))

    def _state(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "mean_confidence": self.mean_confidence, "slope": self.slope}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.accuracy = float(state["accuracy"])
        self.mean_confidence, self.slope = float(state["mean_confidence"]), float(state["slope"])


METHODS: dict[str, type[AccuracyEstimator]] = {
    kind.method: kind for kind in (MeanConfidence, ThresholdedConfidence, DifferenceOfConfidences)
}


def fit_estimators(
    truth: pd.DataFrame,
    out_of_fold: pd.DataFrame,
    groups: npt.ArrayLike | None,
    method: str = "ATC",
    level: float = DEFAULT_LEVEL,
) -> dict[str, dict[str, Any]]:
    """One fitted estimator per head, as dicts for the drift reference: `truth` holds the labels,
    `out_of_fold` the held-out predictions and confidences of the same rows (in the same order)."""
    fitted = {}
    for name in LABEL_COLUMNS:
        correct = truth[name].to_numpy() == out_of_fold[name].to_numpy()
        confidence = out_of_fold[f"{name}_confidence"].to_numpy()
        estimator = METHODS[method](level=level).fit(confidence, correct, groups)
        fitted[name] = estimator.to_dict()
    return fitted


def load_estimators(data: Mapping[str, Mapping[str, Any]]) -> dict[str, AccuracyEstimator]:
    return {name: AccuracyEstimator.from_dict(state) for name, state in data.items()}
