"""Model selection: cross-validation of the configurations in params.yaml's grid.

Texts are preprocessed once; features are fitted once per fold and feature configuration and shared
by every estimator configuration that uses them. Out-of-fold probabilities of the winner are kept:
they are the validation data for the review-routing thresholds.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from classifier import model
from classifier.data import stratum
from classifier.evaluate import compute_metrics

FEATURE_KEYS = ("features", "word_ngram_max", "word_min_df", "char_ngram_min", "char_ngram_max", "char_min_df")


@dataclass
class CandidateResult:
    config: dict[str, Any]
    metrics: dict[str, float]
    out_of_fold: pd.DataFrame  # probabilities_frame columns, indexed like the training frame
    probabilities: list[np.ndarray]  # out-of-fold probabilities per head, rows as in the frame
    classes: list[np.ndarray]

    @property
    def score(self) -> float:
        return (self.metrics["topic_macro_f1"] + self.metrics["urgency_macro_f1"]) / 2


def candidate_configs(base: Mapping[str, Any], grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, each on top of the base configuration."""
    keys = sorted(grid)
    return [{**base, **dict(zip(keys, values))} for values in itertools.product(*(grid[k] for k in keys))]


def feature_key(config: Mapping[str, Any]) -> str:
    return repr([config[k] for k in FEATURE_KEYS])


def cross_validate(
    frame: pd.DataFrame, configs: list[dict[str, Any]], folds: int, seed: int
) -> list[CandidateResult]:
    texts = np.array(model.InquiryText().transform(frame), dtype=object)
    y = model.labels_of(frame)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    widths = [len(np.unique(y[:, head])) for head in range(y.shape[1])]
    probabilities = {i: [np.zeros((len(frame), w)) for w in widths] for i in range(len(configs))}
    classes: dict[int, list[np.ndarray]] = {}
    groups: dict[str, list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault(feature_key(config), []).append(i)
    for train_idx, valid_idx in splitter.split(texts, stratum(frame)):
        for members in groups.values():
            features = model.build_features(configs[members[0]])
            X_train = features.fit_transform(texts[train_idx])
            X_valid = features.transform(texts[valid_idx])
            for i in members:
                heads = model.build_heads(configs[i], seed).fit(X_train, y[train_idx])
                classes[i] = heads.classes_
                for head, proba in enumerate(heads.predict_proba(X_valid)):
                    probabilities[i][head][valid_idx] = proba
    results = []
    for i, config in enumerate(configs):
        oof = model.probabilities_frame(classes[i], probabilities[i], frame.index)
        results.append(CandidateResult(config, compute_metrics(frame, oof), oof, probabilities[i], classes[i]))
    return results


def best(results: list[CandidateResult]) -> CandidateResult:
    """Highest mean macro-F1 of the two heads; ties go to the earlier (simpler) configuration."""
    return max(results, key=lambda r: r.score)
