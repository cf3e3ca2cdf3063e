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


# Only entries within this share of their row's largest contribution are sorted, unless a row has
# fewer than k of them (then all its positive entries are). Any share gives the same result; this one
# keeps a few dozen entries per row out of hundreds.
_CANDIDATE_SHARE = 0.25


def top_terms(
    X: sp.csr_matrix, weights: np.ndarray, rows_class: np.ndarray, names: np.ndarray | FeatureNames, k: int
) -> list[list[str]]:
    """For each row, the names of the k features with the largest positive contribution to its class
    (equal contributions in column order); `names[columns]` names columns."""
    X = sp.csr_matrix(X)
    if not X.has_sorted_indices:
        X = X.sorted_indices()
    lengths = np.diff(X.indptr)
    rows = np.repeat(np.arange(X.shape[0]), lengths)
    # The whole batch at once: weights[class of the row, column] as one flat index.
    contributions = X.data * np.ravel(weights)[np.repeat(rows_class * weights.shape[1], lengths) + X.indices]
    largest = np.zeros(X.shape[0])
    filled = lengths > 0
    if filled.any():
        largest[filled] = np.maximum.reduceat(contributions, X.indptr[:-1][filled])
    positive = contributions > 0
    candidates = positive & (contributions >= np.repeat(_CANDIDATE_SHARE * largest, lengths))
    few = np.bincount(rows[candidates], minlength=X.shape[0]) < k
    if few.any():
        candidates |= positive & np.repeat(few, lengths)
    chosen_at = np.flatnonzero(candidates)  # in row order, and in column order inside a row
    rows, columns, values = rows[chosen_at], X.indices[chosen_at], contributions[chosen_at]
    order = _by_row_then_decreasing(rows, values, X.shape[0])
    rows, columns = rows[order], columns[order]
    starts = np.searchsorted(rows, np.arange(X.shape[0] + 1))
    chosen = names[columns[np.arange(len(rows)) - starts[rows] < k]].tolist()
    bounds = np.cumsum(np.minimum(np.diff(starts), k)).tolist()
    return [chosen[start:end] for start, end in zip([0, *bounds[:-1]], bounds)]


def _by_row_then_decreasing(rows: np.ndarray, values: np.ndarray, row_count: int) -> np.ndarray:
    """The order that sorts entries by row, then by decreasing value, equal values in their given
    order: as two stable sorts, but the value sort is the native unstable one (five times faster)
    and the runs of equal values in a row are put back in their order afterwards."""
    order = np.argsort(-values)
    order = order[np.argsort(rows[order].astype(np.min_scalar_type(row_count)), kind="stable")]
    sorted_rows, sorted_values = rows[order], values[order]
    tied = (sorted_values[1:] == sorted_values[:-1]) & (sorted_rows[1:] == sorted_rows[:-1])
    if tied.any():
        in_run = np.zeros(len(order), dtype=bool)
        in_run[1:] |= tied
        in_run[:-1] |= tied
        at = np.flatnonzero(in_run)
        run = np.cumsum(np.concatenate([[True], ~tied]))[at]
        order[at] = order[at][np.lexsort((order[at], run))]
    return order


class FeatureNames:
    """The readable name of each column of a fitted `FeatureUnion` of the n-gram extractors, indexed
    like an array of them (`names[columns]`). A name is built when a column is first explained and
    then kept: all of them at once cost a tenth of a cold start, and a batch names few distinct ones."""

    def __init__(self, union: Any):
        self.blocks, start = [], 0
        for kind, extractor in union.transformer_list:
            self.blocks.append((kind, extractor, start, start + len(extractor.idf_)))
            start += len(extractor.idf_)
        self.known: dict[int, str] = {}

    def __len__(self) -> int:
        return self.blocks[-1][3] if self.blocks else 0

    def __getitem__(self, columns: np.ndarray) -> np.ndarray:
        columns = np.asarray(columns, dtype=np.int64)
        new = np.array([c for c in np.unique(columns).tolist() if c not in self.known], dtype=np.int64)
        for kind, extractor, start, end in self.blocks:
            inside = new[(new >= start) & (new < end)]
            for column, name in zip(inside.tolist(), extractor.feature_names(inside - start)):
                self.known[column] = readable(f"{kind}__{name}")
        return np.array([self.known[column] for column in columns.tolist()], dtype=object)


class Explainer:
    """Explains the predictions of one fitted pipeline: each head's class weights are computed once,
    not per batch, and the feature names as they are needed (`FeatureNames`)."""

    def __init__(self, pipeline: Any, terms: int = 5):
        self.terms = terms  # per head, in the `explanation` column
        heads = pipeline.named_steps["heads"]
        self.names = FeatureNames(pipeline.named_steps["features"])
        self.weights = (class_weights(heads.topic_), class_weights(heads.urgency_))

    def __call__(self, heads: Any, X: Any, probabilities: list[np.ndarray]) -> list[str]:
        """'topic: t1, t2 | urgency: u1, u2' for each row of features X with these probabilities."""
        topic_terms = top_terms(X, self.weights[0], probabilities[0].argmax(axis=1), self.names, self.terms)
        urgency_terms = top_terms(X, self.weights[1], probabilities[1].argmax(axis=1), self.names, self.terms)
        return [
            f"topic: {', '.join(t)} | urgency: {', '.join(u)}" for t, u in zip(topic_terms, urgency_terms)
        ]
