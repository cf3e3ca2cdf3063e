"""Training stage: labeled inquiries + params.yaml → a selected, refitted model in models/ with its drift
reference, tracked in MLflow. The frozen test split is never read here."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from classifier import model
from classifier.config import Config, stage_arguments
from classifier.io import contract
from classifier.model import tracking
from classifier.monitoring import drift, estimate
from classifier.training import shop
from classifier.training.fit import TRACKED_LIBRARIES, describe, select_and_fit

log = logging.getLogger(__name__)
# The sections that decide what is trained: logged as the run's parameters.
TRACKED_SECTIONS = {"seed", "model", "selection", "routing", "augment"}


def main(params: Config, data_path: str | Path, out_dir: str | Path) -> dict[str, Any]:
    frame = contract.load_inquiries(data_path)
    store = shop.load_store(params.path(params.data.shop) if params.data.shop else None)
    shop_train: pd.DataFrame | None = None
    shop_holdout = pd.DataFrame()
    if store is not None:
        shop_train, shop_holdout = shop.split(store, params.data.shop_holdout, params.seed)
    tracking.configure()
    with mlflow.start_run(run_name="train") as run:
        mlflow.log_params(tracking.flatten(params.model_dump(mode="json", include=TRACKED_SECTIONS)))
        mlflow.log_param("training_rows", len(frame))
        pipeline, summary = select_and_fit(frame, params, shop_train)
        mlflow.log_params({f"selected.{k}": str(v) for k, v in summary["config"].items()})
        mlflow.log_metrics({f"cv_{k}": v for k, v in summary["cv_metrics"].items()})
        mlflow.log_metrics({f"routing_{k}": v for k, v in summary["thresholds"].items()})
        if shop_train is not None:
            mlflow.log_params({"shop_training_rows": len(shop_train), "shop_holdout_rows": len(shop_holdout)})
            mlflow.log_metrics({f"cv_shop_{k}": v for k, v in summary["cv_shop_metrics"].items()})
        metadata = {
            "training_data": str(data_path),
            "training_rows": len(frame),
            "training_data_sha256": contract.frame_hash(frame),
            "params": summary["config"],
            "seed": params.seed,
            "cv_metrics": summary["cv_metrics"],
            "routing": summary["thresholds"],
            "selection": summary["candidates"],
            "library_versions": model.library_versions(TRACKED_LIBRARIES),
        }
        if shop_train is not None:
            # Ids only: which shop mail trained the model and which is its frozen test (never trained on).
            metadata["shop"] = {
                "store": str(params.data.shop),
                "training_ids": shop_train["id"].astype(str).tolist(),
                "holdout_ids": shop_holdout["id"].astype(str).tolist(),
                "cv_metrics": summary["cv_shop_metrics"],
            }
        model.save(pipeline, out_dir, metadata)
        trained = summary["frame"]
        profile, sample = drift.build_reference(
            trained,  # the corpus plus the shop's training rows: what the model read
            summary["out_of_fold"],
            model.inquiry_tokens(model.inquiry_texts(trained)),
            params.drift.reference_sample,
            params.seed,
        )
        # The label-free accuracy estimator of the drift check, fitted on the held-out writers' predictions.
        group_by = params.selection.group_by
        groups = trained[group_by].to_numpy() if group_by in trained else None
        profile["estimators"] = estimate.fit_estimators(trained, summary["out_of_fold"], groups)
        drift.save_reference(out_dir, profile, sample)
        tracking.log_model(out_dir, model.read_metadata(out_dir), params.sla)
    log.info(
        "selected %s: cv %s (MLflow run %s)",
        describe(summary["config"]),
        summary["cv_metrics"],
        run.info.run_id,
    )
    return model.read_metadata(out_dir)


def cli() -> None:
    args, params = stage_arguments(__doc__, data=None, out=Path("models"))
    main(params, args.data or params.path(params.data.train), args.out)


if __name__ == "__main__":
    cli()
