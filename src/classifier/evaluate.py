"""Metrics of predicted against true labels, as plain dicts ready for JSON and MLflow."""

from __future__ import annotations

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, recall_score

from classifier.data import LABEL_COLUMNS


def compute_metrics(truth: pd.DataFrame, predicted: pd.DataFrame) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for name in LABEL_COLUMNS:
        metrics[f"{name}_macro_f1"] = float(f1_score(truth[name], predicted[name], average="macro"))
        metrics[f"{name}_accuracy"] = float(accuracy_score(truth[name], predicted[name]))
    metrics["high_urgency_recall"] = float(
        recall_score(truth["urgency"], predicted["urgency"], labels=["high"], average="macro")
    )
    return {k: round(v, 4) for k, v in metrics.items()}
