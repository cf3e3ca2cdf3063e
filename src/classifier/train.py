"""Training stage: labeled inquiries + params.yaml → a model directory with metadata and metrics."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from classifier import data, model
from classifier.evaluate import compute_metrics

log = logging.getLogger(__name__)

TRACKED_LIBRARIES = ("scikit-learn", "fugashi", "unidic-lite", "pandas", "numpy", "joblib")


def train(frame: pd.DataFrame, params: dict[str, Any]) -> tuple[Any, dict[str, float]]:
    """Fit on a stratified part of `frame`, measure on the held-out rest."""
    fit_part, holdout = data.split(frame, params["split"]["holdout_size"], params["seed"])
    pipeline = model.fit(model.build_pipeline(params["model"]), fit_part)
    metrics = compute_metrics(holdout, model.predict(pipeline, holdout))
    metrics.update(n_train=len(fit_part), n_holdout=len(holdout))
    return pipeline, metrics


def main(data_path: str | Path, params: dict[str, Any], out_dir: str | Path) -> dict[str, Any]:
    frame = data.load_inquiries(data_path)
    pipeline, metrics = train(frame, params)
    metadata = {
        "training_data": str(data_path),
        "training_data_sha256": data.frame_hash(frame),
        "params": params["model"],
        "seed": params["seed"],
        "holdout_metrics": metrics,
        "library_versions": model.library_versions(TRACKED_LIBRARIES),
    }
    model.save(pipeline, out_dir, metadata)
    log.info("trained on %d inquiries: %s", len(frame), metrics)
    return metadata
