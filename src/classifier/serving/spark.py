"""Spark batch scoring: a Parquet data lake scored by the registered model on a Spark cluster (or
`local[N]`), with the same answers as `classifier score` on the same rows.

Three steps:

1. **Score** (`mapInPandas`, in parallel over partitions): the model directory's files (model.skops,
   model.json) are broadcast once; each Python worker writes them to a temporary folder, loads them
   once with `model.load` (SHA-256 against model.json, skops against this code's trusted types) and
   keeps the `Scorer`, its MeCab tagger included, for every partition it is given (Spark reuses
   Python workers). Each Arrow batch is scored by `Scorer.score_columns`, the CLI's own code. Rows are
   numbered as the CLI numbers records (input order, from 1) before they are spread over partitions
   by range, so errors name the same rows and a table without ids gets the same `<file>:row<n>` ids.
   The scored rows are spooled to a scratch Parquet folder next to the output.
2. **Batch-wide decisions, on the driver**: follow-up linking and the queue order need the whole
   batch. Follow-ups are connected components over two kinds of edges (a reply names a thread's
   message id, two mails name one order number with one topic) and they chain transitively: a
   mail that replies to thread A and names order X joins two groups. In Spark that is an iterative
   graph job (GraphFrames' connected components, a dependency and O(diameter) shuffles); the queue
   number is a global sort. The driver instead collects only the keys (id, received_at, topic,
   urgency, route, route_reason, thread ids, order numbers: about 150 bytes a record, so 10M records
   are about 1.5 GB) and runs `serving.score.queue_decisions` and the deadlines on them, the CLI's
   own code, in seconds (benchmarks/spark.py measures it).
3. **Join and write** (in parallel): the decisions are joined back on the row number and the result
   is written as Parquet part files in input order, into a scratch folder renamed into place (a
   local output is replaced atomically; a URI such as hdfs:// or s3a:// is written by Spark directly).
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from classifier import model
from classifier.config import Limits, SlaConfig
from classifier.io.contract import frame_as_text
from classifier.io.inputs import COLUMNS, InputError
from classifier.serving.score import (
    FLOAT_COLUMNS,
    INT_COLUMNS,
    KEY_COLUMNS,
    OUTPUT_COLUMNS,
    Scorer,
    _as_list,
    _typed,
    deadlines,
    queue_decisions,
)

ROW = "_row"  # the CLI's record number (1-based, input order)
NULLABLE_KEYS = ("topic", "urgency", "route", "route_reason")
DECISION_COLUMNS = (
    "urgency",
    "colour",
    "route",
    "route_reason",
    "follow_up_of",
    "contact_number",
    "queue_position",
    "due_by",
)
# Rows per partition: enough to amortize a batch's fixed costs, small enough to spread 1M rows over
# many tasks.
ROWS_PER_PARTITION = 50_000
_MID_BITS = (
    33  # monotonically_increasing_id: partition id in the upper 31 bits, record in partition in the lower 33
)


def session(master: str | None = None, app_name: str = "inquiry-triage") -> Any:
    """A Spark session with Arrow transfers on; `master` (e.g. `local[2]`) only when given, so under
    spark-submit the cluster's master is used."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name).config(
        "spark.sql.execution.arrow.pyspark.enabled", "true"
    )
    # BLAS threads oversubscribe the cores Spark already fills with one task each.
    builder = builder.config("spark.executorEnv.OMP_NUM_THREADS", "1").config(
        "spark.sql.session.timeZone", "UTC"
    )
    if master:
        builder = builder.master(master)
    return builder.getOrCreate()


def _part_schema(columns: tuple[str, ...]) -> Any:
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    def kind(name: str) -> Any:
        return (
            DoubleType()
            if name in FLOAT_COLUMNS
            else LongType()
            if name in INT_COLUMNS or name == ROW
            else StringType()
        )

    return StructType([StructField(name, kind(name), True) for name in columns])


_worker: dict[tuple[str, str, Limits], Scorer] = {}


def _scorer(files: dict[str, bytes], version: str, limits: Limits) -> Scorer:
    """The Python worker's Scorer, loaded from the broadcast model files the first time it is asked for."""
    key = (hashlib.sha256(files[model.MODEL_FILE]).hexdigest(), version, limits)
    if key not in _worker:
        folder = Path(tempfile.mkdtemp(prefix="inquiry-triage-model-"))
        for name, content in files.items():
            (folder / name).write_bytes(content)
        pipeline, metadata = model.load(folder)  # checksum against model.json, trusted types only
        shutil.rmtree(folder, ignore_errors=True)
        _worker[key] = Scorer(pipeline, metadata, version, limits=limits)
    return _worker[key]


def _score_partition(
    batches: Iterator[pd.DataFrame], files: Any, version: str, limits: Limits
) -> Iterator[pd.DataFrame]:
    scorer = _scorer(files.value, version, limits)
    part_columns = (*scorer.part_columns, ROW)
    for batch in batches:
        rows = batch[ROW].tolist()
        chunk = frame_as_text(batch.reindex(columns=list(COLUMNS)))
        # Rows arrive sorted and dense within a partition: the chunk index is the record number, as in
        # the CLI.
        chunk.index = pd.RangeIndex(rows[0] - 1, rows[0] - 1 + len(rows))
        if rows != list(range(rows[0], rows[0] + len(rows))):
            raise AssertionError("rows of a partition are not consecutive")
        scored = scorer.score_columns(chunk)
        scored["orders"] = [" ".join(numbers) for numbers in scored["orders"]]
        scored[ROW] = rows
        typed = _typed({name: scored[name] for name in scorer.part_columns})
        for (
            name
        ) in NULLABLE_KEYS:  # unscored stays null (not ''): the batch-wide decisions tell them apart by it
            typed[name] = pd.Series(
                [v if isinstance(v, str) else None for v in _as_list(scored[name])], dtype=object
            )
        typed[ROW] = pd.Series(rows, dtype="int64")
        yield typed[list(part_columns)]


def _resolve_model(source: str, scratch: Path) -> tuple[Path, str]:
    """The local model directory and the `model_version` the output carries (as `classifier score`)."""
    if source.startswith("models:/"):
        from classifier.model import tracking

        tracking.configure()
        return tracking.download_model_dir(source, scratch / "model"), source
    metadata = model.read_metadata(source)
    return Path(source), f"{source}#sha256:{metadata['model_sha256'][:12]}"


def _numbered(frame: Any, name: str) -> tuple[Any, int]:
    """The input with the CLI's record number in ROW (input order, from 1) and ids where it has none;
    and the number of records."""
    from pyspark.sql import functions as F

    with_id = frame.withColumn("_mid", F.monotonically_increasing_id())
    part = F.shiftright(F.col("_mid"), _MID_BITS)
    counts = with_id.groupBy(part.alias("_part")).count().orderBy("_part").collect()
    offsets, total = [], 0
    for row in counts:
        offsets.append((int(row["_part"]), total))
        total += int(row["count"])
    spark = frame.sparkSession
    starts = spark.createDataFrame(offsets or [(0, 0)], "_part long, _offset long")
    local = F.col("_mid").bitwiseAND(F.lit((1 << _MID_BITS) - 1))
    numbered = (
        with_id.withColumn("_part", part)
        .join(F.broadcast(starts), "_part")
        .withColumn(ROW, F.col("_offset") + local + F.lit(1))
        .drop("_mid", "_part", "_offset")
    )
    if "id" not in frame.columns:
        numbered = numbered.withColumn("id", F.concat(F.lit(f"{name}:row"), F.col(ROW).cast("string")))
    return numbered, total


def score_parquet(
    spark: Any,
    input_path: str,
    output_path: str,
    sla: SlaConfig,
    model_source: str = "models",
    limits: Limits = Limits(),
    partitions: int | None = None,
) -> dict[str, Any]:
    """Score a Parquet file or folder into a Parquet folder (see the module docstring); returns a
    summary: records, partitions and the seconds of each step."""
    import time

    from pyspark.sql import functions as F

    started = time.perf_counter()
    local_output = "://" not in output_path
    parent = Path(output_path).resolve().parent if local_output else Path(tempfile.gettempdir())
    scratch = parent / f".spark-scoring-{uuid.uuid4().hex[:12]}"
    scratch.mkdir(parents=True)
    try:
        model_dir, version = _resolve_model(model_source, scratch)
        metadata = model.read_metadata(model_dir)
        model.load(model_dir)  # refused here, before any task starts, when the checksum or types are wrong
        files = {
            name: (model_dir / name).read_bytes()
            for name in (model.METADATA_FILE, metadata.get("model_file", model.MODEL_FILE))
        }
        frame = spark.read.parquet(input_path)
        if "body" not in frame.columns:
            raise InputError(
                f"{input_path}: no 'body' column (the text to score must be in a column named body)"
            )
        frame = frame.select(*[c for c in COLUMNS if c in frame.columns])
        numbered, total = _numbered(frame, Path(input_path.rstrip("/")).name)
        partitions = partitions or max(
            spark.sparkContext.defaultParallelism, math.ceil(total / ROWS_PER_PARTITION)
        )
        broadcast = spark.sparkContext.broadcast(files)
        columns = OUTPUT_COLUMNS
        part_columns = (*columns, "in_reply_to", "references", "orders", ROW)
        scored_dir = str(scratch / "scored")
        (
            numbered.repartitionByRange(partitions, ROW)
            .sortWithinPartitions(ROW)
            .mapInPandas(
                lambda batches: _score_partition(batches, broadcast, version, limits),
                _part_schema(part_columns),
            )
            .write.parquet(scored_dir)
        )
        scored_at = time.perf_counter()
        scored = spark.read.parquet(scored_dir)
        keys = (
            scored.select(ROW, *KEY_COLUMNS).toPandas().sort_values(ROW, kind="stable").reset_index(drop=True)
        )
        decisions = queue_decisions(keys)
        decisions["due_by"] = deadlines(keys["received_at"].tolist(), decisions["urgency"], sla)
        decisions[ROW] = keys[ROW].to_numpy()
        decided = _typed({name: decisions[name] for name in DECISION_COLUMNS})
        decided[ROW] = decisions[ROW].astype("int64")
        decided_at = time.perf_counter()
        joined = (
            scored.drop(*DECISION_COLUMNS)
            .join(spark.createDataFrame(decided, schema=_part_schema((*DECISION_COLUMNS, ROW))), ROW)
            .repartitionByRange(partitions, ROW)
            .sortWithinPartitions(ROW)
            .select(
                *[
                    F.coalesce(F.col(c), F.lit("")).alias(c) if c in NULLABLE_KEYS else F.col(c)
                    for c in columns
                ]
            )
        )
        target = str(scratch / "output") if local_output else output_path
        joined.write.mode("overwrite").parquet(target)
        if local_output:
            _replace(scratch / "output", Path(output_path), scratch)
        summary = {
            "records": total,
            "partitions": partitions,
            "seconds": round(time.perf_counter() - started, 2),
            "score_seconds": round(scored_at - started, 2),
            "decisions_seconds": round(decided_at - scored_at, 2),
            "colours": {c: int(decisions["colour"].eq(c).sum()) for c in ("red", "orange", "green")},
            "review": int(decisions["route"].eq("review").sum()),
            "follow_ups": int(decisions["follow_up_of"].ne("").sum()),
            "unscored": int(keys["topic"].isna().sum()),
        }
        return summary
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _replace(new: Path, output: Path, scratch: Path) -> None:
    """Put the written folder at `output`: an existing output is moved aside first and removed after,
    so a reader sees the old or the new result, never a half-written one."""
    old = scratch / "previous"
    if output.is_dir():
        os.replace(output, old)
    elif output.exists():
        output.unlink()
    os.replace(new, output)
