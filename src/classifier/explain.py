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


def term_names(feature_names: np.ndarray) -> np.ndarray:
    """The readable name of every feature, computed once per loaded model."""
    return np.array([readable(name) for name in feature_names], dtype=object)


def top_terms(X: sp.csr_matrix, weights: np.ndarray, rows_class: np.ndarray, names: np.ndarray, k: int) -> list[list[str]]:
    """For each row, the names of the k features with the largest positive contribution to its class."""
    X = sp.csr_matrix(X)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    contributions = X.data * weights[rows_class[rows], X.indices]  # for the whole batch at once
    explanations = []
    for start, end in zip(X.indptr[:-1].tolist(), X.indptr[1:].tolist()):
        row = contributions[start:end]
        order = np.argsort(-row)[:k]
        explanations.append(names[X.indices[start + order[row[order] > 0]]].tolist())
    return explanations


def explain(heads: Any, X: Any, probabilities: list[np.ndarray], names: np.ndarray, k: int = 5) -> list[str]:
    """'topic: t1, t2 | urgency: u1, u2' for each row, from the heads that made the prediction;
    `names` are the features' `term_names`."""
    topic_terms = top_terms(X, class_weights(heads.topic_), probabilities[0].argmax(axis=1), names, k)
    urgency_names = names
    X_urgency = heads.urgency_input(X, probabilities[0])
    if X_urgency.shape[1] > len(names):
        urgency_names = np.concatenate([names, np.array([f"topic={c}" for c in heads.topic_.classes_], dtype=object)])
    urgency_terms = top_terms(
        X_urgency, class_weights(heads.urgency_), probabilities[1].argmax(axis=1), urgency_names, k
    )
    return [f"topic: {', '.join(t)} | urgency: {', '.join(u)}" for t, u in zip(topic_terms, urgency_terms)]
