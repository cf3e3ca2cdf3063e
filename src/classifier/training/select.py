"""Model selection: cross-validation of the configurations in params.yaml's grid.

Folds are grouped by writer (`selection.group_by`, the corpus's `source`) when the data has enough
writers: a random split measures how well the model knows its writers, a grouped one how it does on
people it has not read, which is what a shop meets. Each fold's training part is augmented
(`classifier.augment`), its validation part never. Texts are preprocessed once; features are fitted
once per fold and feature configuration and shared by every estimator configuration that uses them.
Out-of-fold probabilities of the winner are kept: they are the validation data for the review-routing
thresholds.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from classifier import model
from classifier.evaluation.metrics import compute_metrics
from classifier.io.contract import stratum
from classifier.training import shop
from classifier.training.augment import augmented_copies

FEATURE_KEYS = (
    "features",
    "word_ngram_max",
    "word_min_df",
    "char_ngram_min",
    "char_ngram_max",
    "char_min_df",
)


@dataclass
class CandidateResult:
    config: dict[str, Any]
    metrics: dict[str, float]
    out_of_fold: pd.DataFrame  # probabilities_frame columns, indexed like the training frame
    probabilities: list[np.ndarray]  # out-of-fold probabilities per head, rows as in the frame
    classes: list[np.ndarray]
    shop_metrics: dict[str, float] | None = None  # out-of-fold on the shop's rows only, when there are any

    @property
    def score(self) -> float:
        # With shop rows the candidates (their shop weight above all) are compared on the shop's mail:
        # that is the mail the adapted model is for; the frozen corpus split still reports the rest.
        metrics = self.shop_metrics or self.metrics
        return (metrics["topic_macro_f1"] + metrics["urgency_macro_f1"]) / 2


def candidate_configs(base: Mapping[str, Any], grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, each on top of the base configuration."""
    keys = sorted(grid)
    return [{**base, **dict(zip(keys, values))} for values in itertools.product(*(grid[k] for k in keys))]


def feature_key(config: Mapping[str, Any]) -> str:
    return repr([config[k] for k in FEATURE_KEYS])


def folds_of(
    frame: pd.DataFrame, folds: int, seed: int, group_by: str | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train and validation row positions of each fold, stratified by topic × urgency, grouped by
    the `group_by` column when it has at least `folds` distinct values."""
    if group_by and group_by in frame and frame[group_by].nunique() >= folds:
        splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
        return list(splitter.split(frame, stratum(frame), frame[group_by]))
    return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(frame, stratum(frame)))


def training_part(
    frame: pd.DataFrame, texts: np.ndarray, rows: np.ndarray, augment: Mapping[str, float] | None, seed: int
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Texts and labels of the rows at `rows`, followed by their augmented copies, and those rows
    themselves (copies included: a shop row's weight follows it into its copies)."""
    y = model.labels_of(frame)[rows]
    if not augment:
        return texts[rows], y, frame.iloc[rows]
    copies = augmented_copies(frame.iloc[rows], augment, seed)
    extra = np.array(model.InquiryText().transform(copies), dtype=object)
    rows_frame = pd.concat([frame.iloc[rows], copies], ignore_index=True)
    labels = np.concatenate([y, model.labels_of(copies)]).reshape(-1, 2)
    return np.concatenate([texts[rows], extra]), labels, rows_frame


def cross_validate(
    frame: pd.DataFrame,
    configs: list[dict[str, Any]],
    folds: int,
    seed: int,
    group_by: str | None = None,
    augment: Mapping[str, float] | None = None,
) -> list[CandidateResult]:
    text_list, deadlines = model.texts_and_deadlines(frame)
    texts = np.array(text_list, dtype=object)
    y = model.labels_of(frame)
    widths = [len(np.unique(y[:, head])) for head in range(y.shape[1])]
    probabilities = {i: [np.zeros((len(frame), w)) for w in widths] for i in range(len(configs))}
    classes: dict[int, list[np.ndarray]] = {}
    groups: dict[str, list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault(feature_key(config), []).append(i)
    for train_idx, valid_idx in folds_of(frame, folds, seed, group_by):
        train_texts, y_train, train_rows = training_part(frame, texts, train_idx, augment, seed)
        for members in groups.values():
            features = model.build_features(configs[members[0]])
            X_train = features.fit_transform(train_texts)
            X_valid = features.transform(texts[valid_idx])
            for i in members:
                weight = shop.weights(train_rows, configs[i].get("shop_weight"))
                heads = model.build_heads(configs[i], seed).fit(X_train, y_train, sample_weight=weight)
                classes[i] = heads.classes_
                for head, proba in enumerate(heads.predict_proba(X_valid)):
                    probabilities[i][head][valid_idx] = proba
    results = []
    for i, config in enumerate(configs):
        oof = model.probabilities_frame(
            classes[i], probabilities[i], frame.index, texts=text_list, deadlines=deadlines
        )
        on_shop = shop_rows(frame)
        shop_metrics = compute_metrics(frame[on_shop], oof[on_shop]) if on_shop.any() else None
        metrics = compute_metrics(frame, oof)
        results.append(CandidateResult(config, metrics, oof, probabilities[i], classes[i], shop_metrics))
    return results


def shop_rows(frame: pd.DataFrame) -> np.ndarray:
    if shop.SHOP_COLUMN not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame[shop.SHOP_COLUMN].astype(bool).to_numpy()


def best(results: list[CandidateResult]) -> CandidateResult:
    """Highest mean macro-F1 of the two heads; ties go to the earlier (simpler) configuration."""
    return max(results, key=lambda r: r.score)
