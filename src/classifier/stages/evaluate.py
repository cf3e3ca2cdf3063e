"""Evaluation stage: the model and the keyword baseline on the frozen test split, beside the
writer-grouped cross-validation of training, the robustness set (other writers, real-customer
register) and the behaviour suite of the labeling rules.

Writes reports/metrics.json (DVC metrics), plot data under reports/plots/ (DVC plots), confusion
matrix images, reports/evaluation.md and reports/model_card.md (the register stage logs them to the
training run in MLflow). Text shown in reports is redacted (masked personal data, names as <NAME>).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from classifier import model
from classifier.config import Config, stage_arguments
from classifier.evaluation import report
from classifier.evaluation.metrics import compute_metrics, evaluate, held_out_views
from classifier.io import contract
from classifier.training import shop

log = logging.getLogger(__name__)


def main(
    model_dir: str | Path,
    test_path: str | Path,
    reports_dir: str | Path,
    robustness_path: str | Path | None = None,
    config: Config | None = None,
) -> dict[str, Any]:
    pipeline, metadata = model.load(model_dir)
    test = contract.load_inquiries(test_path)
    robustness = contract.load_inquiries(robustness_path) if robustness_path else None
    result = evaluate(pipeline, metadata, test)
    result.update(held_out_views(pipeline, metadata, test, robustness))
    holdout = shop.holdout_of(config, metadata.get("shop", {}).get("training_ids")) if config else None
    if holdout is not None and len(holdout):
        # The shop's frozen held-out mail: the test of "better for this shop" the champion gate uses.
        on_shop = compute_metrics(holdout, model.predict(pipeline, holdout))
        result["shop_holdout"] = {**on_shop, "rows": len(holdout)}
    for key in ("writer_grouped_cv", "robustness", "behaviour", "shop_holdout"):
        if key in result:
            result["metrics"][key] = result[key]
    reports = Path(reports_dir)
    (reports / "plots").mkdir(parents=True, exist_ok=True)
    (reports / "metrics.json").write_text(json.dumps(result["metrics"], indent=2) + "\n")
    report.write_all(reports, test, result, metadata)
    log.info("test metrics: %s", result["metrics"])
    return result["metrics"]


def cli() -> None:
    args, params = stage_arguments(__doc__, model=Path("models"), reports=Path("reports"))
    robustness = params.path(params.data.robustness) if params.data.robustness else None
    main(args.model, params.path(params.data.test), args.reports, robustness, params)


if __name__ == "__main__":
    cli()
