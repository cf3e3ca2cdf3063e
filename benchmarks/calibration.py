"""Calibrated heads side by side: the project's own stacking against scikit-learn's classes.

Writer-grouped cross-validation of the selected configuration (params.yaml: linear_svc, words+chars),
features fitted once per fold and shared by every variant, so the variants differ only in their heads:

- ``sigmoid_cv3+T``: the heads before issue 16: ``CalibratedClassifierCV(method="sigmoid", cv=3)`` per
  head, scored through ``StackedCalibratedLinear``, then one temperature per head fitted on the pooled
  out-of-fold probabilities (as the train stage does; so its figures are slightly optimistic).
- ``temperature_cv3``: ``CalibratedClassifierCV(method="temperature", cv=3)`` (an ensemble of 3).
- ``temperature_single``: the same with ``ensemble=False`` (one LinearSVC on all the data, one
  temperature fitted on its cross-validated decision values).
- ``multioutput(temperature_single)``: ``MultiOutputClassifier`` around the heads of the last (same
  numbers; its own scoring time).

    python benchmarks/calibration.py            # 5 folds of the full training data: ~15 min on 2 cores
    python benchmarks/calibration.py --rows 3000 --folds 3

Prints one table and writes benchmarks/calibration.json. Times are measured side by side in one run
(best of `--repeats`): ratios travel between machines, absolute times do not.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.multioutput import MultiOutputClassifier
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from classifier import model  # noqa: E402
from classifier.config import load_config  # noqa: E402
from classifier.evaluation.metrics import calibration_metrics, compute_metrics  # noqa: E402
from classifier.io import contract  # noqa: E402
from classifier.model.pipeline import fit_temperature, temper  # noqa: E402
from classifier.training.select import folds_of, training_part  # noqa: E402


class StackedCalibratedLinear:
    """The scoring path of the heads before issue 16 (src/classifier/model/pipeline.py then), kept here
    to measure it against scikit-learn's own classes.

    `CalibratedClassifierCV.predict_proba` of sigmoid-calibrated linear classifiers, with the
    decision functions of all its folds as one sparse × dense product.

    scikit-learn validates the input and fits a label encoder again in each fold's call, which cost
    more than the products; this computes the same numbers, bit for bit (tested), in the same order
    of operations: per fold, sigmoid of each class's score, normalized, averaged over the folds.
    """

    def __init__(self, estimator: CalibratedClassifierCV):
        folds = estimator.calibrated_classifiers_
        self.classes = len(estimator.classes_)
        self.folds = len(folds)
        self.weights = np.ascontiguousarray(np.vstack([fold.estimator.coef_ for fold in folds]).T)
        self.intercepts = np.concatenate(
            [np.broadcast_to(fold.estimator.intercept_, (self.classes,)) for fold in folds]
        )
        self.slopes = np.array([c.a_ for fold in folds for c in fold.calibrators], dtype=np.float64)
        self.offsets = np.array([c.b_ for fold in folds for c in fold.calibrators], dtype=np.float64)

    @staticmethod
    def applies(estimator: Any) -> bool:
        """Sigmoid calibration of linear folds that each know every class (more than two)."""
        if not isinstance(estimator, CalibratedClassifierCV) or estimator.method != "sigmoid":
            return False
        if len(estimator.classes_) < 3:
            return False
        return all(
            isinstance(fold.estimator, LinearSVC | LogisticRegression)
            and np.array_equal(fold.estimator.classes_, estimator.classes_)
            for fold in estimator.calibrated_classifiers_
        )

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = np.asarray(X @ self.weights) + self.intercepts
        calibrated = expit(-(self.slopes * scores + self.offsets))
        mean = np.zeros((X.shape[0], self.classes))
        for fold in range(self.folds):
            proba = np.ascontiguousarray(calibrated[:, fold * self.classes : (fold + 1) * self.classes])
            denominator = np.sum(proba, axis=1)[:, np.newaxis]
            uniform = np.full_like(proba, 1 / self.classes)
            proba = np.divide(proba, denominator, out=uniform, where=denominator != 0)
            proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
            mean += proba
        mean /= self.folds
        return mean


def linear_svc(config: dict[str, Any], seed: int) -> LinearSVC:
    return LinearSVC(C=config["C"], class_weight=config["class_weight"], random_state=seed)


def per_head(make: Callable[[], Any]) -> Callable[[Any, np.ndarray], Callable[[Any], list[np.ndarray]]]:
    """A variant fitting one `make()` per head; returns its scoring function."""

    def fit(X: Any, y: np.ndarray) -> Callable[[Any], list[np.ndarray]]:
        heads = [make().fit(X, y[:, head]) for head in (0, 1)]
        score = lambda X_new: [h.predict_proba(X_new) for h in heads]  # noqa: E731
        score.heads = heads  # type: ignore[attr-defined]
        return score

    return fit


Scorer = Callable[[Any], list[np.ndarray]]
Variant = Callable[[Any, np.ndarray], Scorer]


def stacked_sigmoid(config: dict[str, Any], seed: int) -> Variant:
    def fit(X: Any, y: np.ndarray) -> Scorer:
        heads = []
        for head in (0, 1):
            calibrated = CalibratedClassifierCV(linear_svc(config, seed), method="sigmoid", cv=3)
            fitted = calibrated.fit(X, y[:, head])
            heads.append(StackedCalibratedLinear(fitted))
        return lambda X_new: [h.predict_proba(X_new) for h in heads]

    return fit


def multioutput_of(fitted: list[Any]) -> Callable[[Any], list[np.ndarray]]:
    """`MultiOutputClassifier` around heads fitted already (the same fit as `temperature_single`: only
    its scoring cost is new, so the full run does not fit the heads a second time)."""
    heads = MultiOutputClassifier(fitted[0])
    heads.estimators_ = fitted
    return heads.predict_proba


def variants(config: dict[str, Any], seed: int) -> dict[str, Variant]:
    return {
        "sigmoid_cv3+T": stacked_sigmoid(config, seed),
        "temperature_cv3": per_head(
            lambda: CalibratedClassifierCV(linear_svc(config, seed), method="temperature", cv=3)
        ),
        "temperature_single": per_head(
            lambda: CalibratedClassifierCV(
                linear_svc(config, seed), method="temperature", cv=3, ensemble=False
            )
        ),
    }


MULTIOUTPUT = "multioutput(temperature_single)"


def best_time(call: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=0, help="stratified sample of the training data (0: all)")
    parser.add_argument("--folds", type=int, default=0, help="folds (0: params.yaml selection.folds)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "calibration.json")
    args = parser.parse_args()
    params = load_config(ROOT / "params.yaml").model_dump(mode="json")  # as plain values
    seed, selection = params["seed"], params["selection"]
    # The configuration the selection picks on the full data (reports/model_card.md).
    config = {**params["model"], "estimator": "linear_svc", "C": 10.0}
    frame = contract.load_inquiries(ROOT / params["data"]["train"])
    if args.rows:
        frame = frame.groupby(contract.stratum(frame), group_keys=False).sample(
            frac=min(1.0, args.rows / len(frame)), random_state=0
        )
    folds = args.folds or selection["folds"]
    text_list, deadlines = model.texts_and_deadlines(frame)
    texts = np.array(text_list, dtype=object)
    y = model.labels_of(frame)
    widths = [len(np.unique(y[:, head])) for head in (0, 1)]
    names = [*variants(config, seed), MULTIOUTPUT]
    oof = {name: [np.zeros((len(frame), w)) for w in widths] for name in names}
    fit_seconds = dict.fromkeys(names, 0.0)
    score_seconds = dict.fromkeys(names, 0.0)
    for number, (train_idx, valid_idx) in enumerate(folds_of(frame, folds, seed, selection.get("group_by"))):
        train_texts, y_train = training_part(frame, texts, train_idx, params.get("augment"), seed)
        features = model.build_features(config)
        X_train = features.fit_transform(train_texts)
        X_valid = features.transform(texts[valid_idx])
        for name, fit in variants(config, seed).items():
            start = time.perf_counter()
            score = fit(X_train, y_train)
            fit_seconds[name] += time.perf_counter() - start
            score_seconds[name] += best_time(lambda score=score, X=X_valid: score(X), args.repeats)
            for head, proba in enumerate(score(X_valid)):
                oof[name][head][valid_idx] = proba
            if name == "temperature_single":
                wrapped = multioutput_of(score.heads)  # type: ignore[attr-defined]
                score_seconds[MULTIOUTPUT] += best_time(
                    lambda wrapped=wrapped, X=X_valid: wrapped(X), args.repeats
                )
                for head, proba in enumerate(wrapped(X_valid)):
                    oof[MULTIOUTPUT][head][valid_idx] = proba
        print(f"fold {number + 1}/{folds} done", file=sys.stderr, flush=True)
    classes = [np.unique(y[:, head]) for head in (0, 1)]
    # The pre-issue-16 heads get their temperatures from the pooled out-of-fold probabilities.
    temperatures = [fit_temperature(oof["sigmoid_cv3+T"][h], y[:, h], classes[h]) for h in (0, 1)]
    oof["sigmoid_cv3+T"] = [temper(p, t) for p, t in zip(oof["sigmoid_cv3+T"], temperatures)]
    rows = []
    for name in names:
        predicted = model.probabilities_frame(
            classes, oof[name], frame.index, texts=text_list, deadlines=deadlines
        )
        quality = compute_metrics(frame, predicted)
        calibration = calibration_metrics(frame, predicted)
        row = {
            "variant": name,
            "topic_macro_f1": quality["topic_macro_f1"],
            "urgency_macro_f1": quality["urgency_macro_f1"],
            "high_urgency_recall": quality["high_urgency_recall"],
            "topic_log_loss": round(float(log_loss(y[:, 0], oof[name][0], labels=classes[0])), 4),
            "urgency_log_loss": round(float(log_loss(y[:, 1], oof[name][1], labels=classes[1])), 4),
            "topic_ece": calibration["topic_ece"],
            "urgency_ece": calibration["urgency_ece"],
            "fit_s": round(fit_seconds[name], 2),
            "score_s": round(score_seconds[name], 4),
            "score_vs_current": round(score_seconds[name] / score_seconds["sigmoid_cv3+T"], 2),
        }
        rows.append(row)
    table = pd.DataFrame(rows).set_index("variant")
    print(table.to_string())
    result = {
        "rows": len(frame),
        "folds": folds,
        "grouped_by": selection.get("group_by"),
        "config": {k: config[k] for k in ("estimator", "C", "class_weight", "features")},
        "sigmoid_temperatures": temperatures,
        "scikit_learn": sklearn.__version__,
        "python": platform.python_version(),
        "results": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
