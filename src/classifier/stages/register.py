"""Registration stage: the trained model's MLflow run gets the evaluation's figures and reports, its
model becomes a version of the registered model aliased `candidate`, and `champion` only if the gate in
params.yaml passes on the frozen test metrics.

The MLflow store is local state that git does not carry, so this stage writes no pipeline output and
always runs (`always_changed` in dvc.yaml): a run is found by the model file's SHA-256 (or logged from
the model's metadata when this store never saw the training), and a run registered before keeps its
version, so running it again changes nothing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from classifier import model
from classifier.config import RegistryConfig, SlaConfig, stage_arguments
from classifier.model import tracking

log = logging.getLogger(__name__)


def main(
    registry: RegistryConfig, model_dir: str | Path, reports_dir: str | Path, sla: SlaConfig
) -> dict[str, Any]:
    _, metadata = model.load(model_dir)  # checked before it is logged
    reports = Path(reports_dir)
    metrics = json.loads((reports / "metrics.json").read_text())
    tracking.configure()
    run = tracking.training_run(metadata["model_sha256"]) or tracking.log_training_run(
        model_dir, metadata, sla
    )
    tracking.log_evaluation(run.info.run_id, metrics, reports)
    outcome = tracking.register(
        run.info.run_id,
        run.data.tags[tracking.MODEL_URI_TAG],
        registry.model_name,
        registry.gate.metrics,
        registry.gate.tolerance,
    )
    log.info("registered %s version %s: %s", outcome["model_name"], outcome["version"], outcome["reason"])
    return outcome


def cli() -> None:
    args, params = stage_arguments(__doc__, model=Path("models"), reports=Path("reports"))
    main(params.registry, args.model, args.reports, params.sla)


if __name__ == "__main__":
    cli()
