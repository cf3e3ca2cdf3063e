"""Registration stage: the trained run's model becomes a version of the registered model, aliased
`candidate`, and `champion` only if the gate in params.yaml passes on the frozen test metrics."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from classifier import model, tracking
from classifier.params import DEFAULT_PARAMS, load_params

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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS)
    parser.add_argument("--model", type=Path, default=Path("models"))
    parser.add_argument("--out", type=Path, default=Path("reports/registry.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    main(load_params(args.params), args.model, args.out)


if __name__ == "__main__":
    cli()
