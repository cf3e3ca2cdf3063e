"""Inputs for batch scoring, read as a stream of chunks: a directory of .eml files, an mbox, a
Maildir, CSV, JSONL or Parquet (the columns of the labeling spec; labels optional).

Every record becomes exactly one row, readable or not: a row that cannot be read carries the
reason in `input_error` and is scored as an error, never dropped. Mail chunks carry the raw
messages (`raw_mail`); `materialize` parses them where the chunk is scored, so worker processes
share the parsing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from itertools import islice
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from classifier.data import frame_as_text
from classifier.mail import MailRecord, parse_raw, raw_eml, raw_eml_dir, raw_maildir, raw_mbox

FORMATS = ("eml", "mbox", "maildir", "csv", "jsonl", "parquet")
# topic and urgency pass through when the input is labeled (drift and evaluation read them).
COLUMNS = ("id", "received_at", "channel", "subject", "body", "topic", "urgency", "in_reply_to", "references", "input_error")


class InputError(ValueError):
    """The input path as a whole cannot be read (missing, unknown format, no header)."""


def detect_format(path: Path) -> str:
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            return "maildir"
        return "eml"
    suffix = path.suffix.lower()
    if suffix in (".csv", ".parquet", ".eml", ".mbox"):
        return suffix[1:]
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    with path.open("rb") as handle:
        if handle.read(5) == b"From ":
            return "mbox"
    raise InputError(f"{path}: cannot tell the format (use --format {'|'.join(FORMATS)})")


def _mail_row(record: MailRecord) -> dict[str, str]:
    row = {k: str(v) for k, v in asdict(record).items() if k in COLUMNS}
    row["input_error"] = record.error
    return row


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise InputError(f"{path}: empty file, no header row")
        for number, fields in enumerate(reader, start=1):
            if len(fields) != len(header):
                yield {"id": f"{path.name}:row{number}", "input_error": f"row {number}: {len(fields)} fields, header has {len(header)}"}
            else:
                yield dict(zip(header, fields))


def _jsonl_rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
                yield {k: "" if v is None else str(v) for k, v in record.items()}
            except ValueError as error:
                yield {"id": f"{path.name}:line{number}", "input_error": f"line {number}: unreadable JSON ({error})"}


def _parquet_chunks(path: Path, size: int) -> Iterator[pd.DataFrame]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=size):
        yield batch.to_pandas()


def _frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    """Rows of text values as a frame with the COLUMNS above ('' where a row has no value).

    Object columns: the values are str already, and pandas' Arrow-backed strings would encode every
    text here and decode it again for each column the scoring reads as a list.
    """
    return pd.DataFrame(rows, columns=list(COLUMNS), dtype=object).fillna("")


def _chunked(rows: Iterable[dict[str, str]], size: int) -> Iterator[pd.DataFrame]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield _frame(chunk)


def read_chunks(path: str | Path, fmt: str | None = None, size: int = 5000) -> Iterator[pd.DataFrame]:
    """Chunks of at most `size` rows with the COLUMNS above, in input order."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if fmt == "parquet":
        for chunk in _parquet_chunks(path, size):
            yield frame_as_text(chunk.reindex(columns=list(COLUMNS)))
    elif fmt in ("csv", "jsonl"):
        yield from _chunked(_csv_rows(path) if fmt == "csv" else _jsonl_rows(path), size)
    else:
        mails = {
            "eml": lambda: raw_eml_dir(path) if path.is_dir() else raw_eml([path]),
            "mbox": lambda: raw_mbox(path),
            "maildir": lambda: raw_maildir(path),
        }[fmt]()
        while batch := list(islice(mails, size)):
            yield pd.DataFrame({"raw_mail": batch})


def materialize(chunk: pd.DataFrame) -> pd.DataFrame:
    """A chunk with the COLUMNS above: mail chunks are parsed, table chunks pass unchanged."""
    if "raw_mail" not in chunk:
        return chunk
    return _frame([_mail_row(parse_raw(raw)) for raw in chunk["raw_mail"]])
