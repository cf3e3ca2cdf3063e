"""Metrics of the model on a labeled set: macro-F1, high-urgency recall, calibration, routing, per
class, the most confident errors, and the views beside the frozen split (writer-grouped CV of training,
the robustness set, the behaviour suite of `classifier.evaluation.behaviour`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    f1_score,
    log_loss,
    recall_score,
)

from classifier import model
from classifier.evaluation import behaviour
from classifier.io.contract import LABEL_COLUMNS, TOPICS, URGENCIES
from classifier.model.baseline import KeywordBaseline
from classifier.serving import routing
from classifier.text import redact

log = logging.getLogger(__name__)
LABELS = {"topic": list(TOPICS), "urgency": list(URGENCIES)}


def compute_metrics(truth: pd.DataFrame, predicted: pd.DataFrame) -> dict[str, float]:
    """Macro-F1 and accuracy of both heads and the recall of high urgency."""
    metrics: dict[str, float] = {}
    for name in LABEL_COLUMNS:
        metrics[f"{name}_macro_f1"] = float(f1_score(truth[name], predicted[name], average="macro"))
        metrics[f"{name}_accuracy"] = float(accuracy_score(truth[name], predicted[name]))
    metrics["high_urgency_recall"] = float(
        recall_score(truth["urgency"], predicted["urgency"], labels=["high"], average="macro")
    )
    high = truth["urgency"].to_numpy() == "high"
    # The costliest error of triage: a red mail put at the back of the queue.
    metrics["high_predicted_low"] = (
        float((predicted["urgency"].to_numpy()[high] == "low").mean()) if high.any() else 0.0
    )
    return {k: round(v, 4) for k, v in metrics.items()}


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy − confidence| over equal-width confidence bins, weighted by bin size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def calibration_metrics(
    truth: pd.DataFrame,
    predicted: pd.DataFrame,
    probabilities: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, float]:
    """ECE of the top-label confidence per head; log loss when full probabilities are given."""
    metrics = {}
    for name in LABEL_COLUMNS:
        correct = (truth[name] == predicted[name]).to_numpy()
        metrics[f"{name}_ece"] = round(
            expected_calibration_error(predicted[f"{name}_confidence"].to_numpy(), correct), 4
        )
        if probabilities is not None:
            classes, proba = probabilities[name]
            metrics[f"{name}_log_loss"] = round(float(log_loss(truth[name], proba, labels=classes)), 4)
    return metrics


def per_class(truth: pd.DataFrame, predicted: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    return {
        name: classification_report(
            truth[name], predicted[name], labels=LABELS[name], output_dict=True, zero_division=0
        )
        for name in LABEL_COLUMNS
    }


def most_confident_errors(test: pd.DataFrame, predicted: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The n wrong predictions with the highest joint confidence, with redacted text."""
    wrong = ~(test["topic"].eq(predicted["topic"]) & test["urgency"].eq(predicted["urgency"]))
    joint = predicted["topic_confidence"] * predicted["urgency_confidence"]
    top = joint[wrong].sort_values(ascending=False).head(n).index
    return pd.DataFrame(
        {
            "id": test.loc[top, "id"],
            "text": [
                redact(f"{s} {b}")[:140] for s, b in zip(test.loc[top, "subject"], test.loc[top, "body"])
            ],
            "true": test.loc[top, "topic"] + "/" + test.loc[top, "urgency"],
            "predicted": predicted.loc[top, "topic"] + "/" + predicted.loc[top, "urgency"],
            "confidence": joint[top].round(3),
        }
    )


def routing_metrics(test: pd.DataFrame, predicted: pd.DataFrame, routed: pd.DataFrame) -> dict[str, float]:
    auto = routed["route"].eq("auto")
    correct = routing.both_correct(test, predicted)
    demoted = test["urgency"].eq("high") & predicted["urgency"].ne("high") & auto
    return {
        "auto_coverage": round(float(auto.mean()), 4),
        "auto_accuracy": round(float(correct[auto].mean()), 4) if auto.any() else float("nan"),
        "high_silently_demoted": int(demoted.sum()),
    }


def evaluate(pipeline: Any, metadata: dict[str, Any], test: pd.DataFrame) -> dict[str, Any]:
    """Everything the reports show, computed once."""
    predicted = model.predict(pipeline, test)
    heads = pipeline.named_steps["heads"]
    proba = dict(zip(LABEL_COLUMNS, zip(heads.classes_, pipeline.predict_proba(test))))
    routed = routing.route(predicted, metadata["routing"])
    baseline = pd.DataFrame(KeywordBaseline().predict(test), columns=list(LABEL_COLUMNS), index=test.index)
    return {
        "metrics": {
            "model": {
                **compute_metrics(test, predicted),
                **calibration_metrics(test, predicted, proba),
                **routing_metrics(test, predicted, routed),
            },
            "baseline": compute_metrics(test, baseline),
            "test_rows": len(test),
        },
        "per_class": per_class(test, predicted),
        "baseline_per_class": per_class(test, baseline),
        "predicted": predicted,
        "coverage": routing.coverage_curve(test, predicted, metadata["routing"]["high_guard"]),
        "errors": most_confident_errors(test, predicted),
    }


HEADLINE_KEYS = ("topic_macro_f1", "urgency_macro_f1", "high_urgency_recall", "high_predicted_low")


def held_out_views(
    pipeline: Any, metadata: dict[str, Any], test: pd.DataFrame, robustness: pd.DataFrame | None
) -> dict[str, Any]:
    """The views beside the frozen split: the writer-grouped CV of training, the robustness set, the
    behaviour suite (built on the frozen split's mails)."""
    views: dict[str, Any] = {
        "writer_grouped_cv": {
            k: metadata["cv_metrics"][k] for k in HEADLINE_KEYS if k in metadata["cv_metrics"]
        }
    }
    if robustness is not None:
        predicted = model.predict(pipeline, robustness)
        views["robustness"] = {**compute_metrics(robustness, predicted), "rows": len(robustness)}
        views["robustness_per_class"] = per_class(robustness, predicted)
    suite = behaviour.run_suite(pipeline, test)
    views["behaviour"] = behaviour.summary(suite)
    views["behaviour_failures"] = behaviour.failures(suite)
    return views
