"""Model selection and the final fit: the grid cross-validated by writer, the winner refitted on all
training data, the review-routing thresholds chosen on its out-of-fold predictions.

Cross-validation over the grid picks the configuration (each candidate a child run); the winner is
refitted on all training data; its out-of-fold predictions choose the review-routing thresholds.
The frozen test split is never read here.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
import pandas as pd

from classifier import model
from classifier.config import Config
from classifier.evaluation.metrics import calibration_metrics, compute_metrics
from classifier.model import tracking
from classifier.serving import routing
from classifier.training import shop
from classifier.training.augment import augmented_copies
from classifier.training.select import best, candidate_configs, cross_validate

log = logging.getLogger(__name__)

TRACKED_LIBRARIES = ("scikit-learn", "fugashi", "unidic-lite", "pandas", "numpy", "joblib", "mlflow")


def select_and_fit(
    frame: pd.DataFrame, config: Config, shop_rows: pd.DataFrame | None = None
) -> tuple[Any, dict[str, Any]]:
    """Cross-validate the grid, refit the best configuration on all of `frame`, choose thresholds.

    With the shop's labeled rows (its training part; the held-out slice never comes here) they are
    added to `frame` and `selection.shop_weight` joins the grid; without them the grid, the folds and
    the model are exactly those of the corpus alone."""
    selection, seed, augment = config.selection, config.seed, config.augment.model_dump()
    grid: dict[str, list[Any]] = dict(selection.grid)
    if shop_rows is not None and len(shop_rows):
        frame = shop.combined(frame, shop_rows)
        grid["shop_weight"] = list(selection.shop_weight)
    configs = candidate_configs(config.model.model_dump(), grid)
    results = cross_validate(frame, configs, selection.folds, seed, selection.group_by, augment)
    for result in results:
        with mlflow.start_run(nested=True, run_name=describe(result.config)):
            mlflow.log_params(tracking.flatten(result.config))
            mlflow.log_metrics({f"cv_{k}": v for k, v in result.metrics.items()})
    winner = best(results)
    routing_config = config.routing
    # Calibration and decision thresholds are fitted on the winner's out-of-fold predictions, never
    # on test data: temperatures first (for families that do not calibrate themselves), then the
    # P(high) threshold on the calibrated probabilities.
    truth = model.labels_of(frame)
    temperatures: list[float] | None = None
    calibrated = winner.probabilities
    if not model.calibrates_itself(model.build_heads(winner.config).estimator):
        pairs = zip(winner.probabilities, winner.classes)
        temperatures = [model.fit_temperature(p, truth[:, i], c) for i, (p, c) in enumerate(pairs)]
        calibrated = [model.temper(p, t) for p, t in zip(winner.probabilities, temperatures)]
    texts, deadlines = model.texts_and_deadlines(frame)
    # The rules raise what they recognise to high whatever P(high) is: the threshold only has to
    # catch the rest, so it is chosen with them applied (a lower one would redden many more mails).
    out_of_fold = model.probabilities_frame(winner.classes, calibrated, frame.index, None, texts, deadlines)
    high_threshold = routing.choose_high_threshold(frame, out_of_fold, routing_config.high_recall_target)
    chosen = {**winner.config, "temperatures": temperatures, "high_threshold": high_threshold}
    out_of_fold = model.probabilities_frame(
        winner.classes, calibrated, frame.index, high_threshold, texts, deadlines
    )
    thresholds = routing.choose_thresholds(
        frame, out_of_fold, routing_config.target_accuracy, routing_config.high_guard
    )
    training = pd.concat([frame, augmented_copies(frame, augment, seed)], ignore_index=True)
    weights = shop.weights(training, chosen.get("shop_weight"))
    pipeline = model.fit(model.build_pipeline(chosen, seed), training, weights)
    summary = {
        "config": chosen,
        "cv_metrics": {**compute_metrics(frame, out_of_fold), **calibration_metrics(frame, out_of_fold)},
        "thresholds": thresholds,
        "candidates": [{"config": describe(r.config), **r.metrics} for r in results],
        "out_of_fold": out_of_fold,
        "frame": frame,
    }
    if winner.shop_metrics is not None:
        summary["cv_shop_metrics"] = winner.shop_metrics
    return pipeline, summary


def describe(config: dict[str, Any]) -> str:
    weight = f" shop_weight={config['shop_weight']}" if "shop_weight" in config else ""
    return f"{config['estimator']} C={config['C']} {'+'.join(config['features'])}{weight}"
