"""Explanations of linear predictions: the terms whose coefficient × feature value pushed each
decision most (for the predicted topic and the predicted urgency)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV


def class_weights(estimator: Any) -> np.ndarray:
    """A (classes × features) weight matrix for the linear families the grid can choose."""
    if isinstance(estimator, CalibratedClassifierCV):
        return np.mean([class_weights(c.estimator) for c in estimator.calibrated_classifiers_], axis=0)
    if hasattr(estimator, "coef_"):
        return np.asarray(estimator.coef_)
    if hasattr(estimator, "feature_log_prob_"):
        weights = np.asarray(estimator.feature_log_prob_)
        return weights - weights.mean(axis=0)
    raise TypeError(f"cannot explain {type(estimator).__name__}: no linear weights")


def readable(name: str) -> str:
    """`words__届く ない` → `届く ない`; character n-grams are quoted: `chars__届か` → `「届か」`."""
    kind, separator, term = name.partition("__")
    if not separator:
        return name
    return f"「{term}」" if kind == "chars" else term


def top_terms(
    X: sp.csr_matrix, weights: np.ndarray, rows_class: np.ndarray, names: np.ndarray, k: int
) -> list[list[str]]:
    """For each row, the k features with the largest positive contribution to its class."""
    explanations = []
    X = sp.csr_matrix(X)
    for i, cls in enumerate(rows_class):
        start, end = X.indptr[i], X.indptr[i + 1]
        columns, values = X.indices[start:end], X.data[start:end]
        contributions = values * weights[cls, columns]
        order = np.argsort(-contributions)[:k]
        explanations.append([readable(names[columns[j]]) for j in order if contributions[j] > 0])
    return explanations


def explain(heads: Any, X: Any, probabilities: list[np.ndarray], names: np.ndarray, k: int = 5) -> list[str]:
    """'topic: t1, t2 | urgency: u1, u2' for each row, from the heads that made the prediction."""
    topic_terms = top_terms(X, class_weights(heads.topic_), probabilities[0].argmax(axis=1), names, k)
    urgency_names = names
    X_urgency = heads.urgency_input(X, probabilities[0])
    if X_urgency.shape[1] > len(names):
        urgency_names = np.concatenate([names, [f"topic={c}" for c in heads.topic_.classes_]])
    urgency_terms = top_terms(
        X_urgency, class_weights(heads.urgency_), probabilities[1].argmax(axis=1), urgency_names, k
    )
    return [f"topic: {', '.join(t)} | urgency: {', '.join(u)}" for t, u in zip(topic_terms, urgency_terms)]
