"""Reading a scored queue back for display (`classifier queue`) with the standard library only: the
command must start in well under a second, and pandas alone takes longer to import than that."""

from __future__ import annotations

import csv
import json
from pathlib import Path

# What makes a table a scored queue rather than any CSV.
QUEUE_COLUMNS = ("queue_position", "colour", "route", "error")


class NotAQueueError(ValueError):
    """The file is not a scored queue written by `classifier score`."""


def read_scored(path: Path) -> list[dict[str, str]]:
    """The records of a scored queue (.csv, .jsonl, .parquet) as text, in queue order."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:  # Excel writes a BOM
            rows = [dict(row) for row in csv.DictReader(handle)]
    elif suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8-sig") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
    elif suffix == ".parquet":
        import pyarrow.parquet as pq  # only for this format

        rows = pq.read_table(path).to_pylist()
    else:
        raise NotAQueueError(f"{path}: unknown file type '{suffix}' (use .csv, .jsonl or .parquet)")
    columns = set(rows[0]) if rows else set()
    missing = [column for column in QUEUE_COLUMNS if column not in columns]
    if rows and missing:
        raise NotAQueueError(f"{path}: missing column(s) {', '.join(missing)} (not a scored queue?)")
    text = [{key: "" if value is None else str(value) for key, value in row.items()} for row in rows]
    return sorted(text, key=_position)


def _position(row: dict[str, str]) -> float:
    try:
        return float(row["queue_position"])
    except ValueError:
        return float("inf")
