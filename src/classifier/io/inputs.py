"""Inputs for batch scoring, read as a stream of chunks: a directory of .eml files, an mbox, a
Maildir, CSV, JSONL or Parquet (the columns of the labeling spec; labels optional).

Every record becomes exactly one row, readable or not: a row that cannot be read carries the
reason in `input_error` and is scored as an error, never dropped. Chunks are indexed by record
number (0-based, over the whole input), so errors can name the row. An input unusable as a whole
(missing, undecodable, no `body` column) raises `InputError` when `read_chunks` is called, before
any scoring. Table inputs need only `body`: without an `id` column each record's id is
`<file name>:row<n>` (JSONL: `:line<n>`), as for rows that cannot be read.

CSV and JSONL text is read as UTF-8 (a BOM, as Excel writes, is dropped) or, when the bytes are
not UTF-8, as CP932 (Shift_JIS with the Windows extensions Japanese Excel writes); `encoding`
names another codec. Mail carries its own charsets, so `encoding` does not apply to it.

Mail chunks carry the raw messages (`raw_mail`); `materialize` parses them where the chunk is
scored, so worker processes share the parsing.
"""

from __future__ import annotations

import codecs
import csv
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from itertools import islice
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from classifier.config import Limits
from classifier.io.contract import frame_as_text
from classifier.io.formats import FORMATS
from classifier.io.mail import (
    MailRecord,
    eml_files,
    parse_raw,
    raw_eml,
    raw_maildir,
    raw_mbox,
)

# topic and urgency pass through when the input is labeled (drift and evaluation read them).
COLUMNS = (
    "id",
    "received_at",
    "channel",
    "subject",
    "body",
    "topic",
    "urgency",
    "in_reply_to",
    "references",
    "input_error",
)
# Tried in order by --encoding auto: UTF-8 (BOM or not) first, as a stray CP932 file almost never
# decodes as UTF-8 while UTF-8 often decodes as CP932 (into nonsense).
AUTO_ENCODINGS = ("utf-8-sig", "cp932")
# What users mean by these names: a BOM is dropped, and Shift_JIS files come from Windows (CP932).
_PREFERRED_CODEC = {"utf-8": "utf-8-sig", "shift_jis": "cp932"}
log = logging.getLogger(__name__)


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
    if suffix in (".csv", ".parquet", ".eml", ".mbox"):  # lowered: .CSV and .EML as Windows writes them
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


def text_encoding(path: Path, encoding: str = "auto") -> str:
    """The codec to read a CSV or JSONL file with: `encoding` itself, or for "auto" the first of
    AUTO_ENCODINGS that decodes the whole file (read once more, in blocks, before any scoring)."""
    if encoding.lower() != "auto":
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise InputError(
                f"unknown encoding {encoding!r} for --encoding (e.g. auto, utf-8, cp932)"
            ) from None
        return _PREFERRED_CODEC.get(name, name)
    for codec in AUTO_ENCODINGS:
        if _decodes(path, codec):
            return codec
    raise InputError(f"{path}: neither UTF-8 nor CP932 (Shift_JIS) text; name its encoding with --encoding")


def _decodes(path: Path, codec: str) -> bool:
    """Whether the whole file decodes to text. NUL is refused too: CP932 maps almost every byte to
    some character, and would otherwise take UTF-16 or binary files for text."""
    decoder = codecs.getincrementaldecoder(codec)()
    with path.open("rb") as handle:
        try:
            while block := handle.read(1 << 20):
                if "\x00" in decoder.decode(block):
                    return False
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _undecodable(path: Path, codec: str) -> InputError:
    return InputError(f"{path}: not readable as {codec}; name its encoding with --encoding")


def _field_limit(max_chars: int) -> None:
    """The csv module's field limit (131,072 by default, too low for an inquiry quoting a long mail)
    as params.yaml sets it. It is process-wide, so it is set again as each reading starts; a too
    long text within it is refused per record by limits.max_text_chars when scored."""
    csv.field_size_limit(max_chars)


def _csv_header(path: Path, codec: str, max_field_chars: int) -> list[str]:
    """The header row, checked for what scoring needs. The header is not repeated in the message:
    in a file without one, the first record would be taken for it."""
    _field_limit(max_field_chars)
    try:
        with path.open(encoding=codec, newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError:
        raise _undecodable(path, codec) from None
    except csv.Error:  # its text may name a value; the header row is all that is said
        raise InputError(f"{path}: the header row is not readable as CSV") from None
    if not header:
        raise InputError(f"{path}: empty file, no header row")
    if "body" not in header:
        raise InputError(
            f"{path}: no 'body' column in the header row (the text to score must be in a column named body)"
        )
    return header


def _csv_rows(path: Path, codec: str, header: list[str], max_field_chars: int) -> Iterator[dict[str, str]]:
    number = 0
    _field_limit(max_field_chars)
    try:
        with path.open(encoding=codec, newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            for number, fields in enumerate(reader, start=1):
                if len(fields) != len(header):
                    yield {
                        "id": f"{path.name}:row{number}",
                        "input_error": f"row {number}: {len(fields)} fields, header has {len(header)}",
                    }
                else:
                    yield {"id": f"{path.name}:row{number}", **dict(zip(header, fields))}
    except UnicodeDecodeError:
        raise _undecodable(path, codec) from None
    except csv.Error as error:  # the reader cannot resume after it (a NUL byte, a field over the size limit)
        # (field_size_limit's text is not repeated: it names the module's limit, not the parameter)
        reason = (
            f"a field over {max_field_chars:,} characters (params.yaml limits.max_field_chars)"
            if "field limit" in str(error)
            else error
        )
        raise InputError(f"{path}: row {number + 1}: not readable as CSV ({reason})") from None


def _jsonl_records(path: Path, codec: str) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(line number, record) per non-blank line; the record is the reason when the line is not a
    JSON object."""
    try:
        with path.open(encoding=codec) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise ValueError("not an object")
                except ValueError as error:
                    yield number, f"unreadable JSON ({error})"
                    continue
                record = {k: "" if v is None else str(v) for k, v in record.items()}
                if broken := invalid_unicode_fields(record):
                    yield (
                        number,
                        f"{', '.join(broken)}: not valid Unicode (a lone surrogate escape such as \\ud800)",
                    )
                    continue
                yield number, record
    except UnicodeDecodeError:
        raise _undecodable(path, codec) from None


def invalid_unicode_fields(record: dict[str, str]) -> list[str]:
    """The fields (named as `field 'x'`) whose name or text holds a lone surrogate: JSON can escape one
    (\\ud800), no UTF-8 output or MeCab can take it, so such a record is an error row, not a crash."""
    return [
        f"field {key.encode('utf-8', 'backslashreplace').decode()!r}"
        for key, value in record.items()
        if _SURROGATE.search(key) or _SURROGATE.search(value)
    ]


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_jsonl_body(path: Path, codec: str) -> None:
    """Refuse a file where no record has a `body`: reading stops at the first that has one, and
    records without it elsewhere are single records with an empty body."""
    if not any(isinstance(record, dict) and "body" in record for _, record in _jsonl_records(path, codec)):
        raise InputError(f"{path}: no record has a 'body' field (the text to score)")


def _jsonl_rows(path: Path, codec: str) -> Iterator[dict[str, str]]:
    for number, record in _jsonl_records(path, codec):
        if isinstance(record, str):
            yield {"id": f"{path.name}:line{number}", "input_error": f"line {number}: {record}"}
        else:
            yield {"id": f"{path.name}:line{number}", **record}


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        table = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise InputError(f"{path}: not a readable Parquet file ({error})") from None
    if "body" not in table.schema_arrow.names:
        raise InputError(f"{path}: no 'body' column (the text to score must be in a column named body)")
    return table


def _parquet_chunks(path: Path, table: pq.ParquetFile, size: int) -> Iterator[pd.DataFrame]:
    """Chunks with the COLUMNS above; without an `id` column ids are made as for CSV rows."""
    first = 1
    for batch in table.iter_batches(batch_size=size):
        chunk = frame_as_text(batch.to_pandas().reindex(columns=list(COLUMNS)))
        if "id" not in table.schema_arrow.names:
            chunk["id"] = [f"{path.name}:row{n}" for n in range(first, first + len(chunk))]
        first += len(chunk)
        yield chunk


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


def read_chunks(
    path: str | Path,
    fmt: str | None = None,
    size: int = 5000,
    encoding: str = "auto",
    recursive: bool = False,
    limits: Limits = Limits(),
) -> Iterator[pd.DataFrame]:
    """Chunks of at most `size` rows with the COLUMNS above, in input order, indexed by record number.

    The input is checked now (InputError), the records are read as the chunks are taken.
    `recursive`: a folder's subfolders are read too; without it, .eml files there are left out
    with a warning (logged), never silently. `limits`: a mail over max_mail_bytes is one record
    with that error, unread; a CSV field over max_field_chars makes the file unreadable."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if size < 1:
        raise InputError(f"chunk size must be a positive number of records, not {size}")
    return _numbered(_chunks(path, fmt, size, encoding, recursive, limits))


def _chunks(
    path: Path, fmt: str, size: int, encoding: str, recursive: bool, limits: Limits
) -> Iterator[pd.DataFrame]:
    if fmt == "parquet":
        return _parquet_chunks(path, _parquet_file(path), size)
    if fmt == "csv":
        codec = text_encoding(path, encoding)
        return _chunked(
            _csv_rows(path, codec, _csv_header(path, codec, limits.max_field_chars), limits.max_field_chars),
            size,
        )
    if fmt == "jsonl":
        codec = text_encoding(path, encoding)
        _check_jsonl_body(path, codec)
        return _chunked(_jsonl_rows(path, codec), size)
    if fmt == "eml" and path.is_dir():
        files, skipped = eml_files(path, recursive)
        if skipped:
            log.warning(
                "%s: %d .eml file(s) in subfolders not read (use --recursive to read them)", path, skipped
            )
        mails = raw_eml(files, limits.max_mail_bytes)
    else:
        readers = {
            "eml": lambda: raw_eml([path], limits.max_mail_bytes),
            "mbox": lambda: raw_mbox(path, limits.max_mail_bytes),
            "maildir": lambda: raw_maildir(path, limits.max_mail_bytes),
        }
        mails = readers[fmt]()
    return (pd.DataFrame({"raw_mail": batch}) for batch in iter(lambda: list(islice(mails, size)), []))


def _numbered(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Chunks indexed by record number over the whole input, which error messages name as rows."""
    first = 0
    for chunk in chunks:
        chunk.index = pd.RangeIndex(first, first + len(chunk))
        first += len(chunk)
        yield chunk


def check_not_input(input_path: Path, output: Path) -> None:
    """Refuse to write the scored queue over the input it is read from."""
    same = output.resolve() == input_path.resolve()
    if not same and output.exists() and input_path.exists():
        same = os.path.samefile(output, input_path)
    if same:
        raise InputError(f"{output}: is the input itself; write the scored queue to another file")


def materialize(chunk: pd.DataFrame, max_mime_depth: int = Limits().max_mime_depth) -> pd.DataFrame:
    """A chunk with the COLUMNS above: mail chunks are parsed, table chunks pass unchanged."""
    if "raw_mail" not in chunk:
        return chunk
    return _frame([_mail_row(parse_raw(raw, max_mime_depth)) for raw in chunk["raw_mail"]]).set_axis(
        chunk.index
    )
