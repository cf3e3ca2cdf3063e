"""The shipped model on a labeled set nothing in the project was fitted, tuned or selected on (a probe
written by other hands after the model was trained): the metrics of the evaluation report's robustness
column, overall, per writer and per register (`style`), and the errors as ids and labels (no text).

    python scripts/probe.py data/probe/2026-12-05.csv --out benchmarks/results/probe.json

Prints one table and writes the JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from classifier import model
from classifier.evaluation.metrics import compute_metrics
from classifier.io import contract

ROOT = Path(__file__).resolve().parents[1]


def accuracy_by(frame: pd.DataFrame, predicted: pd.DataFrame, column: str) -> dict[str, dict[str, Any]]:
    """Rows and the accuracy of each head per value of `column`."""
    result = {}
    for value, rows in frame.groupby(column):
        guess = predicted.loc[rows.index]
        result[str(value)] = {
            "rows": len(rows),
            "topic_accuracy": round(float((guess["topic"] == rows["topic"]).mean()), 4),
            "urgency_accuracy": round(float((guess["urgency"] == rows["urgency"]).mean()), 4),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("labeled", type=Path, help="A labeled inquiry file (the data contract's columns).")
    parser.add_argument("--model", type=Path, default=ROOT / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "probe.json")
    args = parser.parse_args()
    frame = contract.load_inquiries(args.labeled)
    pipeline, metadata = model.load(args.model)
    predicted = model.predict(pipeline, frame)
    errors = frame[(predicted["topic"] != frame["topic"]) | (predicted["urgency"] != frame["urgency"])].index
    report = {
        "set": str(args.labeled.relative_to(ROOT) if args.labeled.is_relative_to(ROOT) else args.labeled),
        "model": metadata.get("model_sha256"),
        "rows": len(frame),
        "metrics": compute_metrics(frame, predicted),
        "per_source": {
            str(source): compute_metrics(rows, predicted.loc[rows.index])
            for source, rows in frame.groupby("source")
        },
        "per_style": accuracy_by(frame, predicted, "style") if "style" in frame else {},
        "errors": [
            {
                "id": frame.at[i, "id"],
                "style": frame.at[i, "style"] if "style" in frame else "",
                "truth": f"{frame.at[i, 'topic']}/{frame.at[i, 'urgency']}",
                "predicted": f"{predicted.at[i, 'topic']}/{predicted.at[i, 'urgency']}",
                "rule": predicted.at[i, "rule"],
            }
            for i in errors
        ],
    }
    for name, value in report["metrics"].items():
        print(f"{name:24} {value:.4f}")
    for source, metrics in report["per_source"].items():
        print(
            f"{source:24} topic {metrics['topic_macro_f1']:.4f} urgency {metrics['urgency_macro_f1']:.4f} "
            f"high recall {metrics['high_urgency_recall']:.4f}"
        )
    print(f"{len(errors)} of {len(frame)} rows with an error; written {args.out}")
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
