"""The data contract of a labeled inquiry (LABELING.md): loading, validation and splitting.

Rows are numbered from 1 in file order, header not counted, in every error message. Messages
name the row, the field and the kind of problem, never the value: a misplaced column puts names,
phone numbers and addresses into any field, and error columns and logs travel further than the data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import train_test_split

from classifier.io.formats import check_timestamp, timestamp_or_empty  # noqa: F401 - part of the contract

TOPICS = ("wrong_item", "non_delivery", "usage", "return", "campaign", "other")
URGENCIES = ("high", "medium", "low")
CHANNELS = ("email", "form", "mall")
COLOURS = {"high": "red", "medium": "orange", "low": "green"}
TEXT_COLUMNS = ("id", "received_at", "channel", "subject", "body")
LABEL_COLUMNS = ("topic", "urgency")
# Only the text is needed to score; a missing id is made from the record's position (inputs.py).
REQUIRED_FOR_SCORING = ("body",)
# The columns of a scored queue: what `classifier score` writes and the pyfunc, Spark and REST return.
OUTPUT_COLUMNS = (
    "queue_position",
    "id",
    "received_at",
    "subject",
    "topic",
    "topic_confidence",
    "urgency",
    "urgency_confidence",
    "p_high",
    "colour",
    "route",
    "route_reason",
    "explanation",
    "follow_up_of",
    "contact_number",
    "due_by",
    "model_version",
    "error",
    "text_length",
    "true_topic",
    "true_urgency",
)


@dataclass(frozen=True)
class Problem:
    row: int | None  # 1-based record number; None for a problem of the whole file
    field: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        return f"{where}, field '{self.field}': {self.message}"


class InquiryDataError(ValueError):
    """All the problems found in one file, raised together."""

    def __init__(self, path: str | Path, problems: list[Problem]):
        self.path = str(path)
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{self.path}: {len(problems)} problem(s)\n{shown}{more}")


def as_text(values: pd.Series) -> pd.Series:
    """A column as text, missing values as ''; a text column without gaps is returned as it is."""
    if values.dtype == "str" and not values.hasnans:
        return values
    return values.astype(object).where(values.notna(), "").astype(str)


def frame_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({column: as_text(frame[column]) for column in frame.columns}, index=frame.index)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read CSV, JSONL or Parquet by extension, every column as text, empty cells as ''."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )  # Excel writes a BOM
    elif suffix in (".jsonl", ".ndjson"):
        frame = pd.read_json(path, lines=True, dtype=False, encoding="utf-8-sig")
    elif suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        raise InquiryDataError(
            path, [Problem(None, "path", f"unknown file type '{suffix}' (use .csv, .jsonl or .parquet)")]
        )
    return frame_as_text(frame)


def find_problems(frame: pd.DataFrame, require_labels: bool = True) -> list[Problem]:
    """Every schema and value problem of a frame of inquiries."""
    required = TEXT_COLUMNS + (LABEL_COLUMNS if require_labels else ())
    missing = [c for c in required if c not in frame.columns]
    problems = [Problem(None, c, "missing column") for c in missing]
    if missing:
        return problems
    allowed = {"channel": CHANNELS, "topic": TOPICS, "urgency": URGENCIES}
    first_row_of: dict[str, int] = {}
    records = cast("list[dict[str, Any]]", frame.to_dict("records"))  # the column names are strings
    for row, record in enumerate(records, start=1):
        problems.extend(record_problems(record, row, require_labels, allowed))
        rid = record["id"]
        if rid in first_row_of:
            problems.append(Problem(row, "id", f"duplicate id (first in row {first_row_of[rid]})"))
        elif rid:
            first_row_of[rid] = row
    return problems


def record_problems(
    record: Mapping[str, Any], row: int, require_labels: bool, allowed: Mapping[str, tuple[str, ...]]
) -> list[Problem]:
    problems = []
    if not record["id"].strip():
        problems.append(Problem(row, "id", "empty id"))
    if not record["body"].strip():
        problems.append(Problem(row, "body", "empty body"))
    if (issue := check_timestamp(record["received_at"])) is not None:
        problems.append(Problem(row, "received_at", issue))
    for field, values in allowed.items():
        if field in LABEL_COLUMNS and not require_labels:
            continue
        if record.get(field, "") not in values:
            problems.append(
                Problem(row, field, f"unknown value (allowed: {', '.join(v for v in values if v)})")
            )
    return problems


def load_inquiries(path: str | Path, require_labels: bool = True) -> pd.DataFrame:
    """Load and validate labeled (or, with require_labels=False, unlabeled) inquiries."""
    frame = read_table(path)
    problems = find_problems(frame, require_labels)
    if problems:
        raise InquiryDataError(path, problems)
    return frame.reset_index(drop=True)


def stratum(frame: pd.DataFrame) -> pd.Series:
    return frame["topic"] + "/" + frame["urgency"]


def split(frame: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified by topic × urgency; strata too small to split stay in the first part."""
    strata = stratum(frame)
    counts = strata.value_counts()
    splittable = strata.map(counts) >= 2
    left, right = train_test_split(
        frame[splittable], test_size=test_size, random_state=seed, stratify=strata[splittable]
    )
    left = pd.concat([left, frame[~splittable]])
    return left.sort_index(), right.sort_index()


def frame_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of the frame's content, independent of the file format it came from."""
    digest = hashlib.sha256()
    for column in sorted(frame.columns):
        digest.update(column.encode())
        digest.update("\x1f".join(frame[column].astype(str)).encode())
    return digest.hexdigest()


def near_duplicate_pairs(
    texts: list[str], threshold: float = 0.8, n: int = 5
) -> list[tuple[int, int, float]]:
    """Index pairs whose character n-gram sets have Jaccard similarity >= threshold."""
    grams = CountVectorizer(analyzer="char", ngram_range=(n, n), lowercase=False, binary=True)
    matrix = grams.fit_transform(texts).astype("int32")
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    overlap = (matrix @ matrix.T).tocoo()
    pairs = []
    for i, j, shared in zip(overlap.row, overlap.col, overlap.data):
        if i < j:
            jaccard = shared / (sizes[i] + sizes[j] - shared)
            if jaccard >= threshold:
                pairs.append((int(i), int(j), float(jaccard)))
    return pairs
