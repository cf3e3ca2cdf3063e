"""Registration stage: the trained run's model becomes a version of the registered model, aliased
`candidate`, and `champion` only if the gate in params.yaml passes on the frozen test metrics."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from classifier import model, tracking
from classifier.params import stage_arguments

log = logging.getLogger(__name__)


def main(params: dict[str, Any], model_dir: str | Path, out: str | Path) -> dict[str, Any]:
    metadata = model.read_metadata(model_dir)
    registry = params["registry"]
    tracking.configure()
    outcome = tracking.register(
        metadata["mlflow_run_id"],
        metadata["mlflow_model_uri"],
        registry["model_name"],
        registry["gate"]["metrics"],
        registry["gate"]["tolerance"],
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(outcome, indent=2) + "\n")
    log.info("registered %s version %s: %s", outcome["model_name"], outcome["version"], outcome["reason"])
    return outcome


def cli() -> None:
    args, params = stage_arguments(__doc__, model=Path("models"), out=Path("reports/registry.json"))
    main(params, args.model, args.out)


if __name__ == "__main__":
    cli()
