"""The formats of inquiry data named once: the input formats batch scoring reads and the timestamp
form of `received_at`. Imports nothing heavy, so the command line can offer and check them without
loading the readers."""

from __future__ import annotations

from datetime import datetime
from enum import Enum


class InputFormat(str, Enum):
    eml = "eml"  # a folder of .eml files
    mbox = "mbox"
    maildir = "maildir"
    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"


FORMATS = tuple(f.value for f in InputFormat)


def check_timestamp(value: str) -> str | None:
    """None if `value` is ISO 8601 with a UTC offset, else what is wrong with it."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return "not an ISO 8601 timestamp"
    if parsed.tzinfo is None:
        return "timestamp has no UTC offset"
    return None


def timestamp_or_empty(value: str) -> str:
    """`value` if it is an ISO 8601 timestamp (with or without offset), else ''.

    Scored output shows `received_at` through this: a value that is no timestamp at all may be
    anything (a shifted column puts a name or a phone number there), and the error column says why
    it is empty. A timestamp without offset is kept: it can hold nothing else, and is still useful."""
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return ""
    return value
