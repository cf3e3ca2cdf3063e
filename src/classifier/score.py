"""Scoring: a trained model applied to new inquiries, ordered into the triage queue.

Every input record yields exactly one output record: scored, or carrying its `error`.
The model (from `models/` or an MLflow `models:/` URI) and its feature names are loaded once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from classifier import data, model, routing

URGENCY_ORDER = {"high": 0, "medium": 1, "low": 2}
OUTPUT_COLUMNS = (
    "id", "received_at", "topic", "topic_confidence", "urgency", "urgency_confidence", "p_high",
    "colour", "route", "route_reason", "explanation", "queue_position", "model_version", "error",
)


def record_errors(frame: pd.DataFrame) -> pd.Series:
    """Per-row problems of unlabeled inquiries as one message per row ('' when fine)."""
    allowed = {"channel": data.CHANNELS + ("",)}
    errors = []
    for row, record in enumerate(frame.to_dict("records"), start=1):
        record = {**{c: "" for c in data.TEXT_COLUMNS}, **record}
        problems = data.record_problems(record, row, require_labels=False, allowed=allowed)
        errors.append("; ".join(f"{p.field}: {p.message}" for p in problems))
    return pd.Series(errors, index=frame.index, dtype=str)


def queue_positions(scored: pd.DataFrame) -> pd.Series:
    """1-based position: urgency tier first, then oldest first; failed records last."""
    tier = scored["urgency"].map(URGENCY_ORDER).fillna(len(URGENCY_ORDER))
    arrival = pd.to_datetime(scored["received_at"], utc=True, errors="coerce", format="ISO8601")
    order = pd.DataFrame({"tier": tier, "arrival": arrival}).sort_values(
        ["tier", "arrival"], kind="stable", na_position="last"
    )
    return pd.Series(range(1, len(order) + 1), index=order.index).reindex(scored.index)


class Scorer:
    """A loaded model, ready to score frames of inquiries."""

    def __init__(self, pipeline: Any, metadata: dict[str, Any], version: str):
        self.pipeline = pipeline
        self.metadata = metadata
        self.version = version
        self.feature_names = model.feature_names_of(pipeline)

    @classmethod
    def load(cls, source: str | Path) -> Scorer:
        """A model directory, or an MLflow URI such as `models:/inquiry-triage@champion`."""
        if str(source).startswith("models:/"):
            from classifier import tracking  # MLflow is imported only when a registry model is asked for

            tracking.configure()
            pipeline, metadata = tracking.load(str(source))
            return cls(pipeline, metadata, str(source))
        pipeline, metadata = model.load(source)
        return cls(pipeline, metadata, f"{source}#sha256:{metadata['model_sha256'][:12]}")

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        predicted = model.predict(self.pipeline, frame, self.feature_names)
        return predicted.join(routing.route(predicted, self.metadata["routing"]))

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in data.REQUIRED_FOR_SCORING if c not in frame.columns]
        if missing:
            raise data.InquiryDataError("input", [data.Problem(None, c, "missing column") for c in missing])
        frame = frame.reset_index(drop=True)
        scorable = frame["body"].str.strip().ne("")
        result = frame.reindex(columns=["id", "received_at"]).fillna("")
        if scorable.any():
            result = result.join(self.predict(frame[scorable]))
        result = result.reindex(columns=OUTPUT_COLUMNS)
        result["model_version"] = self.version
        result["error"] = record_errors(frame)
        result["queue_position"] = queue_positions(result)
        return result.sort_values("queue_position", kind="stable").reset_index(drop=True)


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """CSV, JSONL or Parquet by extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8")
    elif suffix in (".jsonl", ".ndjson"):
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        raise ValueError(f"{path}: unknown output type '{suffix}' (use .csv, .jsonl or .parquet)")
