"""Scoring: a trained model applied to new inquiries, ordered into the triage queue.

Every input record yields exactly one output record: scored, or carrying its `error`. Batches are
streamed in chunks (constant memory in the number of records) in two passes: the first predicts and
keeps only small keys per record, the second links follow-ups, numbers the queue, sets `due_by` and
writes the output atomically. The model and its feature names are loaded once.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import multiprocessing
import os
import pickle
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm import tqdm

from classifier import model
from classifier.config import Limits, ScoringConfig, SlaConfig
from classifier.io import contract
from classifier.io.contract import COLOURS, OUTPUT_COLUMNS, frame_as_text
from classifier.io.inputs import COLUMNS, invalid_unicode_fields, materialize
from classifier.model.explain import Explainer
from classifier.serving import followups, routing, sla
from classifier.text import order_numbers, redact

if TYPE_CHECKING:
    import pyarrow.parquet as pq

URGENCY_ORDER = {"high": 0, "medium": 1, "low": 2}
DRIFT_COLUMNS = ("tokens",)
KEY_COLUMNS = (
    "id",
    "received_at",
    "topic",
    "urgency",
    "route",
    "route_reason",
    "in_reply_to",
    "references",
    "orders",
)


def record_errors(frame: pd.DataFrame, first_row: int = 1) -> list[str]:
    """Per-row problems of unlabeled inquiries as one message per row ('' when fine), naming the
    row (the record number in the input, `first_row` being the frame's first) and the field."""
    allowed = {"channel": (*contract.CHANNELS, "")}
    errors = []
    checked = [c for c in (*contract.TEXT_COLUMNS, "input_error") if c in frame]
    # Column lists zipped into records: DataFrame.to_dict costs several times more.
    for row, values in enumerate(zip(*(frame[c].tolist() for c in checked)), start=first_row):
        record = {**{c: "" for c in contract.TEXT_COLUMNS}, **dict(zip(checked, values))}
        if record.get("input_error"):  # an unreadable record has no fields worth checking
            errors.append(record["input_error"])
            continue
        problems = contract.record_problems(record, row, require_labels=False, allowed=allowed)
        errors.append("; ".join(map(str, problems)))
    return errors


LIMITED_TEXTS = ("subject", "body")


def without_oversized_texts(chunk: pd.DataFrame, max_chars: int, first_row: int) -> pd.DataFrame:
    """The chunk with each subject or body longer than `max_chars` emptied and the reason in its
    `input_error` (unless it has one already), so that record is not scored: MeCab crashes the
    process on texts of about a million characters, taking the whole chunk with it."""
    over = {}
    for row, values in enumerate(zip(*(chunk[c].tolist() for c in LIMITED_TEXTS))):
        if columns := [c for c, value in zip(LIMITED_TEXTS, values) if len(value) > max_chars]:
            over[row] = columns
    if not over:
        return chunk
    chunk = chunk.copy()
    for row, columns in over.items():
        lengths = ", ".join(f"field '{c}': {len(cast(str, chunk.at[row, c])):,} characters" for c in columns)
        if not chunk.at[row, "input_error"]:
            chunk.at[row, "input_error"] = (
                f"row {first_row + row}, {lengths}, over the limit of {max_chars:,} "
                "(params.yaml limits.max_text_chars): not scored"
            )
        for column in columns:
            chunk.at[row, column] = ""
    return chunk


def first_record_number(chunk: pd.DataFrame) -> int:
    """The 1-based input record number of a chunk's first row: `read_chunks` indexes chunks by
    record number; any other frame is numbered from 1."""
    index = chunk.index
    return index.start + 1 if isinstance(index, pd.RangeIndex) and index.step == 1 else 1


def queue_positions(urgency: pd.Series, received_at: pd.Series) -> pd.Series:
    """1-based position: urgency tier first, then oldest first; unscored records last."""
    tier = urgency.map(URGENCY_ORDER).fillna(len(URGENCY_ORDER))
    arrival = pd.to_datetime(received_at, utc=True, errors="coerce", format="ISO8601")
    order = pd.DataFrame({"tier": tier, "arrival": arrival}).sort_values(
        ["tier", "arrival"], kind="stable", na_position="last"
    )
    return pd.Series(range(1, len(order) + 1), index=order.index).reindex(urgency.index)


def queue_decisions(keys: pd.DataFrame) -> pd.DataFrame:
    """Batch-wide decisions: follow-ups raised to high, routes and queue positions."""
    keys = keys.reset_index(drop=True)
    linked = followups.link(keys)
    repeated = linked["follow_up_of"].ne("") & keys["urgency"].notna()
    urgency = keys["urgency"].astype(object).where(keys["urgency"].notna(), None).mask(repeated, "high")
    reason = keys["route_reason"].mask(repeated, "repeated contact: follow-up of " + linked["follow_up_of"])
    return pd.DataFrame(
        {
            "urgency": urgency,
            "colour": urgency.map(COLOURS),
            "route": keys["route"].mask(repeated, "review"),
            "route_reason": reason,
            "follow_up_of": linked["follow_up_of"],
            "contact_number": linked["contact_number"],
            "queue_position": queue_positions(urgency, keys["received_at"]),
        }
    )


def deadlines(received_at: Iterable[str], urgency: Iterable[Any], sla_config: SlaConfig) -> list[str]:
    """`due_by` per record ('' for unscored records)."""
    return [sla.due_by(r, u, sla_config) if isinstance(u, str) else "" for r, u in zip(received_at, urgency)]


def finalize(keys: pd.DataFrame, sla_config: SlaConfig) -> pd.DataFrame:
    """The batch-wide decisions and the deadlines that follow from them."""
    decisions = queue_decisions(keys)
    decisions["due_by"] = deadlines(keys["received_at"].tolist(), decisions["urgency"], sla_config)
    return decisions


class Scorer:
    """A loaded model, ready to score frames of inquiries."""

    def __init__(
        self,
        pipeline: Any,
        metadata: dict[str, Any],
        version: str,
        drift_columns: bool = False,
        limits: Limits = Limits(),
        scoring: ScoringConfig = ScoringConfig(),
    ):
        self.pipeline = pipeline
        self.limits = limits
        self.metadata = metadata
        self.version = version
        self.explainer = Explainer(pipeline, scoring.explanation_terms)
        # The model's tokens per record (names masked), for `classifier drift`; off by default
        # (two more MeCab passes).
        self.drift_columns = drift_columns
        self.columns = OUTPUT_COLUMNS + (DRIFT_COLUMNS if drift_columns else ())

    @classmethod
    def load(
        cls,
        source: str | Path,
        drift_columns: bool = False,
        limits: Limits = Limits(),
        scoring: ScoringConfig = ScoringConfig(),
    ) -> Scorer:
        """A model directory, or an MLflow URI such as `models:/inquiry-triage@champion`."""
        if str(source).startswith("models:/"):
            from classifier.model import (
                tracking,  # MLflow is imported only when a registry model is asked for
            )

            tracking.configure()
            pipeline, metadata = tracking.load(str(source))
            return cls(pipeline, metadata, str(source), drift_columns, limits, scoring)
        pipeline, metadata = model.load(source)
        return cls(
            pipeline,
            metadata,
            f"{source}#sha256:{metadata['model_sha256'][:12]}",
            drift_columns,
            limits,
            scoring,
        )

    def predict(self, texts: Sequence[str], deadlines: Sequence[str]) -> dict[str, Any]:
        """Predictions, explanations and routes of the `inquiry_texts` of some records and their
        deadline markers, as arrays."""
        predicted = model.predict_columns(self.pipeline, texts, deadlines, self.explainer)
        routes = routing.route(predicted, self.metadata["routing"])
        return {
            **predicted,
            "route": routes["route"].to_numpy(),
            "route_reason": routes["route_reason"].to_numpy(),
        }

    def score_chunk(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """Predictions, routes and errors of one chunk; batch-wide columns are filled by `finalize`."""
        return pd.DataFrame(self.score_columns(chunk)).reindex(columns=list(self.part_columns))

    @property
    def part_columns(self) -> tuple[str, ...]:
        """The columns of a scored chunk: the output's and what the batch-wide decisions read."""
        return (*self.columns, "in_reply_to", "references", "orders")

    def score_columns(self, chunk: pd.DataFrame) -> dict[str, Any]:
        """`score_chunk` as plain columns (lists and arrays): batch scoring spools and renders these
        without building a frame in between (pandas operations per column cost more than their work)."""
        chunk = materialize(chunk, self.limits.max_mime_depth)
        missing = [c for c in contract.REQUIRED_FOR_SCORING if c not in chunk.columns]
        if missing:
            raise contract.InquiryDataError(
                "input", [contract.Problem(None, c, "missing column") for c in missing]
            )
        first_row = first_record_number(chunk)
        chunk = chunk.reset_index(drop=True)
        if "id" not in chunk:
            chunk["id"] = [f"row{n}" for n in range(first_row, first_row + len(chunk))]
        for column in (
            "subject",
            "received_at",
            "in_reply_to",
            "references",
            "input_error",
            "topic",
            "urgency",
        ):
            if column not in chunk:
                chunk[column] = ""
        lengths = list(map(len, chunk["body"].tolist()))
        chunk = without_oversized_texts(chunk, self.limits.max_text_chars, first_row)
        bodies = chunk["body"].tolist()
        found: list[dict[str, list[str]]] = []
        texts = model.inquiry_texts(chunk, found)
        result: dict[str, Any] = {c: chunk[c].tolist() for c in ("id", "in_reply_to", "references")}
        # Not a timestamp: written out empty (the error column says why), as it may be anything.
        result["received_at"] = list(map(contract.timestamp_or_empty, chunk["received_at"].tolist()))
        result["subject"] = [redact(subject) for subject in chunk["subject"].tolist()]
        # Flagged records (no Date, no Message-ID) are still scored; records without a body are not.
        scorable = [row for row, body in enumerate(bodies) if body.strip()]
        if scorable:
            deadlines = model.deadline_markers(found)
            if len(scorable) == len(texts):
                predicted = self.predict(texts, deadlines)
            else:
                predicted = self.predict(
                    [texts[row] for row in scorable], [deadlines[row] for row in scorable]
                )
            result.update({name: _spread(values, scorable, len(texts)) for name, values in predicted.items()})
        result["model_version"] = [self.version] * len(texts)
        result["text_length"] = lengths
        result["true_topic"], result["true_urgency"] = chunk["topic"].tolist(), chunk["urgency"].tolist()
        if self.drift_columns:
            result["tokens"] = model.inquiry_tokens(texts)
        result["error"] = record_errors(chunk, first_row)
        result["orders"] = [order_numbers(masked) for masked in found]
        empty: list[Any] = [None] * len(texts)  # the predicted columns when no record has a body
        return {column: result.get(column, empty) for column in self.part_columns}

    def score(self, frame: pd.DataFrame, sla_config: SlaConfig) -> pd.DataFrame:
        """Score a whole frame in memory and return it in queue order (SLA: params.yaml's `sla`)."""
        scored = self.score_chunk(frame)
        final = finalize(compact_keys(scored), sla_config)
        scored[final.columns] = final
        return scored[list(self.columns)].sort_values("queue_position", kind="stable").reset_index(drop=True)


def request_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A request as the table readers give it: the input COLUMNS as text ('' for missing values,
    None, NaN; numbers and timestamps as their text), ids `row<n>` when the request has none."""
    raw = frame.reset_index(drop=True).reindex(columns=list(COLUMNS)).astype(object)
    # A JSON request can carry lone surrogates (\ud800), which no UTF-8 text takes: such a row is an
    # error row, its texts emptied, instead of failing the whole request.
    broken: dict[int, list[str]] = {}
    for column in COLUMNS:
        values = raw[column].tolist()
        for row, value in enumerate(values):
            if isinstance(value, str) and invalid_unicode_fields({column: value}):
                broken.setdefault(row, []).append(f"field '{column}'")
                values[row] = ""
        raw[column] = values
    text = frame_as_text(raw)
    if "id" not in frame:
        text["id"] = [f"row{n}" for n in range(1, len(frame) + 1)]
    for row, fields in broken.items():
        text.at[row, "body"] = ""
        text.at[row, "input_error"] = (
            f"row {row + 1}, {', '.join(fields)}: not valid Unicode (a lone surrogate); not scored"
        )
    return text


def error_frame(frame: pd.DataFrame, columns: tuple[str, ...], error: str) -> pd.DataFrame:
    """Every row of a request that cannot be scored at all, each with the reason as its error."""
    rows = range(1, len(frame) + 1)
    values: dict[str, Any] = {c: [None] * len(frame) for c in columns}
    values["id"] = frame["id"].tolist() if "id" in frame else [f"row{n}" for n in rows]
    values["error"] = [f"row {n}: {error}" for n in rows]
    return _typed(values)


def score_request(scorer: Scorer, frame: pd.DataFrame, sla_config: SlaConfig) -> pd.DataFrame:
    """`score_frame` of a request's rows (a pyfunc call, a POST): never raises for bad rows, and a
    request without a `body` column gets that as every row's error."""
    if "body" not in frame:
        return error_frame(frame, scorer.columns, "field 'body': missing column (the text to score)")
    return score_frame(scorer, request_frame(frame), sla_config)


OUTPUT_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet")


def check_output(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"{path}: unknown output type '{suffix}' (use .csv, .jsonl or .parquet)")
    if not path.parent.is_dir():
        raise ValueError(f"{path}: the folder {path.parent} does not exist")
    return suffix


# OWASP's CSV injection rule: a spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralized(value: str) -> str:
    """A text cell a spreadsheet will show as text: a leading single quote before a formula start."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The text columns neutralized; numbers are left alone (a negative number is no formula, and
    no numeric output column can be negative anyway), so `classifier queue` reads them back."""
    text = [str(name) for name, dtype in frame.dtypes.items() if pd.api.types.is_object_dtype(dtype)]
    return frame.assign(**{name: [neutralized(value) for value in frame[name].tolist()] for name in text})


def rendered(frame: pd.DataFrame, suffix: str, header: bool, csv_escape: bool = True) -> str | pd.DataFrame:
    """A typed part as the output file needs it: text for CSV (formula-safe unless `csv_escape` is
    False, for machine consumers) and JSONL, the frame for Parquet."""
    if suffix == ".csv":
        # CRLF rows as RFC 4180 and Excel have them: the csv writer quotes only values holding a character
        # of the line terminator, and with "\n" alone a bare CR in a value (an id) would split its row.
        return (csv_safe(frame) if csv_escape else frame).to_csv(
            index=False, header=header, lineterminator="\r\n"
        )
    if suffix == ".parquet":  # text as pandas' string columns, the Parquet schema of every part
        return frame.astype(
            {name: "str" for name, dtype in frame.dtypes.items() if pd.api.types.is_object_dtype(dtype)}
        )
    return frame.to_json(orient="records", lines=True, force_ascii=False)


class _Writer:
    """Appends rendered parts to one CSV, JSONL or Parquet file (by extension)."""

    def __init__(self, path: Path, suffix: str):
        self.path = path
        self.parquet: pq.ParquetWriter | None = None
        # newline="": rows end as rendered (CSV: CRLF), on any platform
        self.text = None if suffix == ".parquet" else path.open("w", encoding="utf-8", newline="")

    def write(self, part: str | pd.DataFrame) -> None:
        if self.text is not None:
            self.text.write(cast(str, part))  # `rendered` gives text for every suffix but Parquet
            return
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(part, preserve_index=False)
        if self.parquet is None:
            self.parquet = pq.ParquetWriter(self.path, table.schema)
        self.parquet.write_table(table.cast(self.parquet.schema))

    def close(self) -> None:
        if self.text is not None:
            self.text.close()
        if self.parquet is not None:
            self.parquet.close()


FLOAT_COLUMNS = ("topic_confidence", "urgency_confidence", "p_high")
INT_COLUMNS = ("queue_position", "contact_number", "text_length")


def _typed(columns: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame:
    """One schema for every chunk, so Parquet parts concatenate and CSV columns stay stable: floats,
    nullable integers, and text ('' where missing) as Python strings, built as one frame."""
    typed: dict[Hashable, pd.Series] = {}
    for name, values in columns.items():
        if name in FLOAT_COLUMNS:
            typed[name] = pd.Series(
                pd.to_numeric(np.asarray(values, dtype=object), errors="coerce"), dtype="float64"
            )
        elif name in INT_COLUMNS:
            typed[name] = pd.Series(
                pd.to_numeric(np.asarray(values, dtype=object), errors="coerce"), dtype="Int64"
            )
        else:
            typed[name] = pd.Series([v if isinstance(v, str) else "" for v in _as_list(values)], dtype=object)
    return pd.DataFrame(typed)


def _as_list(values: Any) -> list[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


_worker_scorer: Scorer | None = None
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Make this child process die with the parent, even when the parent is killed by SIGKILL and
    runs no cleanup (Linux: the parent-death signal); and leave Ctrl-C to the parent, which stops
    the children itself, so a terminal interrupt prints no traceback per worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


def _start_worker(scorer: Scorer, parent: int) -> None:
    global _worker_scorer
    _die_with_parent(parent)
    _worker_scorer = scorer


def score_to_part(scorer: Scorer, chunk: pd.DataFrame, part: Path) -> pd.DataFrame:
    """Score a chunk, spool its columns to `part` and return its per-record keys (all the second
    pass keeps)."""
    scored = scorer.score_columns(chunk)
    with part.open("wb") as spool:
        pickle.dump(scored, spool, protocol=pickle.HIGHEST_PROTOCOL)
    return compact_keys(scored)


def _score_in_worker(chunk: pd.DataFrame, part: Path) -> pd.DataFrame:
    assert _worker_scorer is not None
    return score_to_part(_worker_scorer, chunk, part)


def render_part(
    part: Path,
    decisions: pd.DataFrame,
    columns: tuple[str, ...],
    sla_config: SlaConfig,
    suffix: str,
    header: bool,
    top: int,
    csv_escape: bool = True,
) -> tuple[str | pd.DataFrame, pd.DataFrame]:
    """A spooled part with its batch-wide decisions and deadlines, rendered for the output file;
    and its records among the first `top` of the queue."""
    with part.open("rb") as spool:
        scored = pickle.load(spool)
    typed = decided(scored, decisions, columns, sla_config)
    return rendered(typed, suffix, header, csv_escape), typed[typed["queue_position"] <= top]


def decided(
    scored: dict[str, Any], decisions: pd.DataFrame, columns: tuple[str, ...], sla_config: SlaConfig
) -> pd.DataFrame:
    """Scored columns (`Scorer.score_columns`) with their batch-wide decisions and deadlines, as the
    typed frame every output is written from (the CLI's files, the MLflow pyfunc, Spark)."""
    scored = {**scored, **{str(name): values.tolist() for name, values in decisions.items()}}
    scored["due_by"] = deadlines(scored["received_at"], scored["urgency"], sla_config)
    return _typed({name: scored[name] for name in columns})


def score_frame(scorer: Scorer, frame: pd.DataFrame, sla_config: SlaConfig) -> pd.DataFrame:
    """A whole frame scored as one batch (follow-ups linked, queue numbered), in input order and
    typed exactly as `classifier score` writes it: one row per input row."""
    scored = scorer.score_columns(frame)
    return decided(scored, queue_decisions(compact_keys(scored)), scorer.columns, sla_config)


def default_start_method() -> str:
    """Fork where the platform has it: workers forked after the model is loaded share it copy-on-write
    instead of loading it again. Elsewhere (Windows, macOS's default) spawn, which pickles the
    scorer to each worker once; both give the same output (tests/test_scoring.py)."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


class _Pool:
    """Worker processes with the scorer (each its own MeCab tagger). A pool broken by the death of a
    worker (a crash in native code, the OOM killer) is replaced by `restart`."""

    def __init__(self, scorer: Scorer, jobs: int, start_method: str):
        self.scorer, self.jobs, self.start_method = scorer, jobs, start_method
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context(self.start_method)
        return ProcessPoolExecutor(
            self.jobs, mp_context=context, initializer=_start_worker, initargs=(self.scorer, os.getpid())
        )

    def submit(self, function: Callable[..., Any], *args: Any) -> Future:
        """The call's future. A pool that a worker's death broke before the call was sent (the
        executor notices before the result awaited fails) gives a future failed as the others are,
        so the call is sent again to the pool that replaces it (`_next_result`)."""
        try:
            return self.executor.submit(function, *args)
        except BrokenProcessPool as broken:
            failed: Future = Future()
            failed.set_exception(broken)
            return failed

    def restart(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = self._start()

    def close(self) -> None:
        # Calls not started are dropped: on an interrupt only the running ones are waited for.
        self.executor.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _workers(scorer: Scorer, jobs: int, start_method: str) -> Iterator[_Pool | None]:
    """A pool of `jobs` workers; None for one process."""
    if jobs <= 1:
        yield None
        return
    pool = _Pool(scorer, jobs, start_method)
    try:
        yield pool
    finally:
        pool.close()


def _in_order(
    pool: _Pool | None,
    function: Callable[..., Any],
    calls: Iterable[tuple],
    jobs: int,
    recover: Callable[..., Any],
) -> Iterator[Any]:
    """function(*call) for each call, in order; in the pool with at most 2 x jobs calls in flight,
    so memory stays bounded however long the input is. When a worker dies, the pool is replaced,
    the call whose result was awaited is done by `recover(*call)` and the other unfinished ones
    are sent to the new pool (a call that killed a worker kills one there too, and is recovered
    when its turn comes)."""
    if pool is None:
        yield from (function(*call) for call in calls)
        return
    pending: deque[tuple[tuple, Future]] = deque()
    for call in calls:
        pending.append((call, pool.submit(function, *call)))
        if len(pending) >= 2 * jobs:
            yield _next_result(pool, pending, function, recover)
    while pending:
        yield _next_result(pool, pending, function, recover)


def _next_result(
    pool: _Pool,
    pending: deque[tuple[tuple, Future]],
    function: Callable[..., Any],
    recover: Callable[..., Any],
) -> Any:
    call, future = pending.popleft()
    try:
        return future.result()
    except BrokenProcessPool:
        pool.restart()
        waiting = [(c, f) for c, f in pending]
        pending.clear()
        for other, done in waiting:  # finished calls keep their result; the others run again
            finished = done.done() and not done.cancelled() and done.exception() is None
            pending.append((other, done if finished else pool.submit(function, *other)))
        return recover(*call)


def _score_in_child(scorer: Scorer, record: pd.DataFrame, part: Path, parent: int) -> None:
    _die_with_parent(parent)
    try:
        score_to_part(scorer, record, part)
    except Exception:
        os._exit(1)


def died_record(record: pd.DataFrame, exitcode: int) -> pd.DataFrame:
    """A record whose scoring killed its process, as an input row carrying that as its error, with
    no text (so nothing is parsed or tagged again) and its position in the input kept."""
    row = first_record_number(record)
    if "raw_mail" in record:
        record_id = record["raw_mail"].iloc[0].source
    else:
        record_id = str(record["id"].iloc[0]) if "id" in record else f"row{row}"
    how = f"signal {signal.Signals(-exitcode).name}" if exitcode < 0 else f"exit code {exitcode}"
    error = f"row {row}: the scoring process died on this record ({how}); not scored"
    return pd.DataFrame(
        {"id": [record_id], "body": [""], "input_error": [error]}, index=pd.RangeIndex(row - 1, row)
    )


def score_record_by_record(
    scorer: Scorer, chunk: pd.DataFrame, part: Path, start_method: str
) -> pd.DataFrame:
    """`score_to_part` for a chunk whose worker died: each record in a process of its own, so the
    record that kills its process again gets that as its `error` and the others are scored as
    usual. Slow (a process per record), and only for the chunks a worker died on."""
    context = multiprocessing.get_context(start_method)
    columns = []
    for position in range(len(chunk)):
        record = chunk.iloc[position : position + 1]  # a slice keeps the record number as index
        single = part.with_name(f"{part.stem}-{position}.pkl")
        # typeshed types get_context(str) as BaseContext; every concrete context has Process.
        process = context.Process(  # type: ignore[attr-defined]
            target=_score_in_child, args=(scorer, record, single, os.getpid())
        )
        process.start()
        process.join()
        if process.exitcode != 0:
            score_to_part(scorer, died_record(record, process.exitcode), single)
        with single.open("rb") as spool:
            columns.append(pickle.load(spool))
        single.unlink()
    merged = {
        name: [value for part_columns in columns for value in _as_list(part_columns[name])]
        for name in scorer.part_columns
    }
    with part.open("wb") as spool:
        pickle.dump(merged, spool, protocol=pickle.HIGHEST_PROTOCOL)
    return compact_keys(merged)


def run_batch(
    scorer: Scorer,
    chunks: Iterable[pd.DataFrame],
    output: str | Path,
    sla_config: SlaConfig,
    progress: bool | None = None,
    top: int = 0,
    jobs: int = 1,
    csv_escape: bool = True,
    start_method: str | None = None,
) -> dict[str, Any]:
    """Score a stream of chunks into `output` (written atomically); returns the run's summary, with
    the first `top` records of the queue under "top". `progress=None` shows a bar only on a terminal.

    First pass: workers score chunks and spool them to part files, sending back only the keys.
    Then the batch-wide decisions are taken on the keys; second pass: workers render each part with
    its decisions and deadlines, and the main process appends them to the output in order.
    """
    output = Path(output)
    suffix = check_output(output)  # fail on a bad output path before any work
    started = time.perf_counter()
    start_method = start_method or default_start_method()
    with _scratch_directory(output) as scratch, _workers(scorer, jobs, start_method) as pool:
        score = _score_in_worker if pool is not None else functools.partial(score_to_part, scorer)
        calls = ((chunk, Path(scratch) / f"part-{number:06d}.pkl") for number, chunk in enumerate(chunks))
        keys = []
        with tqdm(unit="mail", desc="scoring", disable=None if progress is None else not progress) as bar:
            for part_keys in _in_order(
                pool,
                score,
                calls,
                jobs,
                functools.partial(score_record_by_record, scorer, start_method=start_method),
            ):
                keys.append(part_keys)
                bar.update(len(part_keys))
        parts = [Path(scratch) / f"part-{number:06d}.pkl" for number in range(len(keys))]
        all_keys = pd.concat(keys, ignore_index=True) if keys else pd.DataFrame(columns=list(KEY_COLUMNS))
        decisions = queue_decisions(all_keys)
        offsets = np.cumsum([0, *map(len, keys)])
        render_calls = (
            (
                part,
                decisions.iloc[start:end].reset_index(drop=True),
                scorer.columns,
                sla_config,
                suffix,
                number == 0,
                top,
                csv_escape,
            )
            for number, (part, start, end) in enumerate(zip(parts, offsets[:-1], offsets[1:]))
        )
        temporary = Path(scratch) / f"output{suffix}"
        writer = _Writer(temporary, suffix)
        heads = []
        for text, head in _in_order(
            pool, render_part, render_calls, jobs, render_part
        ):  # rendering runs no native code: the parent can redo it
            writer.write(text)
            heads.append(head)
        if not parts:
            writer.write(
                rendered(_typed(pd.DataFrame(columns=list(scorer.columns))), suffix, True, csv_escape)
            )
        writer.close()
        os.replace(temporary, output)
    summary = summarize(decisions, all_keys, time.perf_counter() - started)
    summary["top"] = (
        pd.concat(heads).sort_values("queue_position")
        if heads
        else pd.DataFrame(columns=list(scorer.columns))
    )
    return summary


_SCRATCH = re.compile(r"\.scoring-(\d+)@(.+)-[^-]+")


def _scratch_directory(output: Path) -> tempfile.TemporaryDirectory:
    """Where parts and the output are written before the output is renamed into place: in the
    output's own folder, as a rename is atomic only within one file system. Removed on any exit
    the process lives through (errors, Ctrl-C, SIGTERM); one that kill -9 left is removed by the
    next run into that folder on the same machine. Its name holds the run's process id and host."""
    _remove_stale_scratch(output.parent)
    try:
        return tempfile.TemporaryDirectory(
            prefix=f".scoring-{os.getpid()}@{socket.gethostname()}-", dir=output.parent
        )
    except OSError as error:
        raise OSError(error.errno, f"cannot write to the folder {output.parent} ({error.strerror})") from None


def _remove_stale_scratch(folder: Path) -> None:
    """Remove the temporary folders of runs on this host whose process is gone (killed by SIGKILL,
    which runs no cleanup). A live run's folder is never touched, nor one of another host (a shared
    folder: its process ids mean nothing here)."""
    for candidate in folder.glob(".scoring-*"):
        match = _SCRATCH.fullmatch(candidate.name)
        if match and match.group(2) == socket.gethostname() and not _process_alive(int(match.group(1))):
            shutil.rmtree(candidate, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def compact_keys(scored: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame:
    """The per-record keys the second pass needs, as Arrow-backed strings: they are all that grows
    with the number of records, so they are kept small (order numbers space-joined)."""
    keys = {c: _as_list(scored[c]) for c in KEY_COLUMNS if c != "orders"}
    keys["orders"] = list(map(" ".join, _as_list(scored["orders"])))
    return pd.DataFrame({c: _arrow_text(values) for c, values in keys.items()})


def _arrow_text(values: list[Any]) -> pd.arrays.ArrowStringArray:
    """Strings as an Arrow-backed array, missing values (None, NaN) as <NA>."""
    return pd.arrays.ArrowStringArray(
        pa.array([v if isinstance(v, str) else None for v in values], type=pa.large_string())
    )


def _spread(values: Any, rows: list[int], size: int) -> Any:
    """Values of some rows of a chunk as a column of the whole chunk, missing (NaN) elsewhere."""
    if len(rows) == size:
        return values
    column = np.full(size, np.nan, dtype=np.float64 if np.asarray(values).dtype.kind == "f" else object)
    column[rows] = values
    return column


def summarize(final: pd.DataFrame, keys: pd.DataFrame, seconds: float) -> dict[str, Any]:
    return {
        "records": len(final),
        "colours": {c: int(final["colour"].eq(c).sum()) for c in ("red", "orange", "green")},
        "review": int(final["route"].eq("review").sum()),
        "follow_ups": int(final["follow_up_of"].ne("").sum()),
        "unscored": int(keys["topic"].isna().sum()),
        "seconds": round(seconds, 2),
    }
