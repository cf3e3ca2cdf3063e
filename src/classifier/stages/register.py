"""Registration stage: the trained model's MLflow run gets the evaluation's figures and reports, its
model becomes a version of the registered model aliased `candidate`, and `champion` only if the gate in
params.yaml passes on the frozen test metrics (on the shop's frozen held-out mail when the shop has a
labeled store: `classifier.training.shop`).

The MLflow store is local state that git does not carry, so this stage writes no pipeline output and
always runs (`always_changed` in dvc.yaml): a run is found by the model file's SHA-256 (or logged from
the model's metadata when this store never saw the training), and a run registered before keeps its
version, so running it again changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from classifier import model
from classifier.config import Config, stage_arguments
from classifier.evaluation.metrics import compute_metrics
from classifier.model import tracking
from classifier.training import shop

log = logging.getLogger(__name__)


def main(config: Config, model_dir: str | Path, reports_dir: str | Path) -> dict[str, Any]:
    _, metadata = model.load(model_dir)  # checked before it is logged
    reports = Path(reports_dir)
    metrics = json.loads((reports / "metrics.json").read_text())
    registry = config.registry
    tracking.configure()
    holdout = shop.holdout_of(config, metadata.get("shop", {}).get("training_ids"))
    run = tracking.training_run(metadata["model_sha256"]) or tracking.log_training_run(
        model_dir, metadata, config.sla
    )
    tracking.log_evaluation(run.info.run_id, metrics, reports)
    outcome = tracking.register(
        run.info.run_id,
        run.data.tags[tracking.MODEL_URI_TAG],
        registry.model_name,
        registry.gate.metrics,
        registry.gate.tolerance,
        shop_metrics=None if holdout is None or "shop_holdout" not in metrics else shop_scorer(holdout),
    )
    log.info("registered %s version %s: %s", outcome["model_name"], outcome["version"], outcome["reason"])
    return outcome


def shop_scorer(holdout: pd.DataFrame) -> Callable[[str], dict[str, float]]:
    """A registered model's metrics on the shop's held-out mail (the champion's, for the gate)."""

    def score(uri: str) -> dict[str, float]:
        pipeline, _ = tracking.load(uri)
        return compute_metrics(holdout, model.predict(pipeline, holdout))

    return score


def cli() -> None:
    args, params = stage_arguments(__doc__, model=Path("models"), reports=Path("reports"))
    main(params, args.model, args.reports)


if __name__ == "__main__":
    cli()
