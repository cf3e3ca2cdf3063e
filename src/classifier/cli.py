"""Command line: `classifier train` and `classifier score`, thin layers over the modules."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from classifier.config import DEFAULT_PARAMS, load_params
from classifier.io import contract
from classifier.io.inputs import FORMATS, InputError, check_not_input, read_chunks
from classifier.io.limits import Limits
from classifier.model import ModelFileError
from classifier.monitoring import drift
from classifier.serving.score import Scorer, check_output, run_batch

app = typer.Typer(help="Triage Japanese shop inquiries by topic and urgency.", no_args_is_help=True)
# Piped output (CI logs, `make run | tee`) would otherwise be cut at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
STYLE = {"red": "bold red", "orange": "dark_orange", "green": "green"}


@app.command()
def train(
    data_path: Path = typer.Option(Path("data/inquiries.csv"), "--data", help="Labeled inquiries (CSV, JSONL, Parquet)."),
    out: Path = typer.Option(Path("models"), "--out", help="Model directory to write."),
    params: Path = typer.Option(DEFAULT_PARAMS, "--params", help="Parameters file."),
) -> None:
    """Select by cross-validation, train on labeled inquiries, save the model and track the run in MLflow."""
    from classifier.stages import (
        train as train_stage,  # MLflow and the report stack load only for training
    )

    try:
        metadata = train_stage.main(load_params(params), data_path, out)
    except (contract.InquiryDataError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    console.print(f"model written to {out}/; cross-validated metrics: {metadata['cv_metrics']}")


@app.command()
def score(
    input_path: Path = typer.Argument(..., help="New mail: a folder of .eml, an mbox, a Maildir, or CSV/JSONL/Parquet."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the scored queue (.csv, .jsonl, .parquet)."),
    model_source: str = typer.Option("models", "--model", help="Model directory or MLflow URI (models:/inquiry-triage@champion)."),
    fmt: str = typer.Option(None, "--format", help="Input format, when the path does not tell: " + ", ".join(FORMATS)),
    chunk_size: int = typer.Option(1000, min=1, help="Records per chunk: memory stays bounded by it, workers share the chunks."),
    encoding: str = typer.Option("auto", "--encoding", help="Text encoding of CSV/JSONL input; auto: UTF-8 (BOM or not), else CP932 (Shift_JIS)."),
    recursive: bool = typer.Option(False, "--recursive", help="Also read .eml files in subfolders of a mail folder."),
    params: Path = typer.Option(DEFAULT_PARAMS, "--params", help="Parameters file (SLA hours)."),
    show: int = typer.Option(20, help="How many queue rows to print."),
    drift_columns: bool = typer.Option(False, "--drift-columns", help="Also write the model's tokens, for `classifier drift`."),
    jobs: int = typer.Option(0, "--jobs", help="Worker processes (0: one per core)."),
    csv_escape: bool = typer.Option(
        True, "--csv-escape/--no-csv-escape",
        help="In CSV output, prefix ' to text cells starting with = + - @ tab or CR, so a spreadsheet shows them as text "
        "(OWASP CSV injection); --no-csv-escape for programs that read the file.",
    ),
) -> None:
    """Score new mail into the triage queue: one output record per input record, errors included."""
    signal.signal(signal.SIGTERM, _interrupt)  # cleaned up like Ctrl-C: no partial output, no temporary files
    try:
        # The input is checked before the model loads: a wrong path fails in a second, not after it.
        check_not_input(input_path, output)
        check_output(output)
        run_params = load_params(params)
        limits = Limits.from_params(run_params)
        chunks = read_chunks(input_path, fmt, chunk_size, encoding, recursive, limits)
        scorer = Scorer.load(model_source, drift_columns, limits)
        summary = run_batch(scorer, chunks, output, run_params["sla"], top=show, jobs=jobs or os.cpu_count() or 1, csv_escape=csv_escape)
    except (ModelFileError, InputError, contract.InquiryDataError, OSError, ValueError) as error:
        raise _failure(error) from error
    except KeyboardInterrupt:
        console.print(f"[red]interrupted:[/red] {escape(str(output))} not written (left as it was)", soft_wrap=True)
        raise typer.Exit(128 + _interrupted[-1] if _interrupted else 130) from None
    if show:
        print_queue(summary["top"], show)
    colours = summary["colours"]
    console.print(
        f"{summary['records']} records → {output}: {colours['red']} red, {colours['orange']} orange, "
        f"{colours['green']} green; {summary['review']} to review; {summary['follow_ups']} follow-ups; "
        f"{summary['unscored']} not scored (see the error column); {summary['seconds']:.1f}s"
    )


@app.command("spark-score")
def spark_score(
    input_path: str = typer.Argument(..., help="Parquet file or folder (a data lake path Spark can read)."),
    output: str = typer.Option(..., "-o", "--output", help="Parquet folder to write (part files, input order)."),
    master: str = typer.Option(None, "--master", help="Spark master, e.g. local[2]; default: spark-submit's or local[*]."),
    model_source: str = typer.Option("models", "--model", help="Model directory or MLflow URI (models:/inquiry-triage@champion)."),
    params: Path = typer.Option(DEFAULT_PARAMS, "--params", help="Parameters file (SLA hours, limits)."),
    partitions: int = typer.Option(0, "--partitions", min=0, help="Scoring tasks (0: cores, or one per 50,000 rows)."),
) -> None:
    """Score Parquet on Spark with the same answers as `classifier score` (needs the `spark` extra and Java)."""
    try:
        from classifier.serving import spark
    except ImportError as error:
        raise _failure(ValueError(f"pyspark is not installed ({error}); pip install 'classifier[spark]'")) from error
    if "://" not in output and not input_path.startswith(("hdfs:", "s3a:", "gs:", "abfss:")):
        try:
            check_not_input(Path(input_path), Path(output))
        except InputError as error:
            raise _failure(error) from error
    try:
        run_params = load_params(params)
        # Under spark-submit (it sets SPARK_ENV_LOADED) the cluster's master applies; alone, all local cores.
        session = spark.session(master or (None if os.environ.get("SPARK_ENV_LOADED") else "local[*]"))
        summary = spark.score_parquet(
            session, input_path, output, model_source, run_params["sla"], Limits.from_params(run_params), partitions or None
        )
    except (ModelFileError, InputError, contract.InquiryDataError, OSError, ValueError) as error:
        raise _failure(error) from error
    colours = summary["colours"]
    console.print(
        f"{summary['records']} records → {output} ({summary['partitions']} partitions): {colours['red']} red, "
        f"{colours['orange']} orange, {colours['green']} green; {summary['review']} to review; "
        f"{summary['follow_ups']} follow-ups; {summary['unscored']} not scored; {summary['seconds']:.1f}s "
        f"(scoring {summary['score_seconds']:.1f}s, batch decisions {summary['decisions_seconds']:.1f}s)"
    )


@app.command()
def serve(
    model_source: str = typer.Option("models", "--model", help="Model directory or MLflow URI (models:/inquiry-triage@champion)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", help="Port to listen on (0: any free port)."),
    params: Path = typer.Option(DEFAULT_PARAMS, "--params", help="Parameters file (SLA hours, limits)."),
) -> None:
    """Answer POST /score (MLflow's dataframe_split JSON) with the triage of each row; GET /health."""
    from classifier.serving.server import serve as run_server

    try:
        run_params = load_params(params)
        scorer = Scorer.load(model_source, limits=Limits.from_params(run_params))
    except (ModelFileError, OSError, ValueError) as error:
        raise _failure(error) from error
    try:
        run_server(scorer, run_params["sla"], host, port)
    except KeyboardInterrupt:
        console.print("stopped")


@app.command("drift")
def drift_command(
    current: Path = typer.Option(..., "--current", help="A batch scored by `classifier score --drift-columns`."),
    reference: Path = typer.Option(Path("models"), "--reference", help="Model directory with the reference profile."),
    params: Path = typer.Option(DEFAULT_PARAMS, "--params", help="Parameters file (drift thresholds)."),
    json_out: Path = typer.Option(None, "--json", help="Where to write the report (default: next to --current)."),
) -> None:
    """Compare a scored batch with the training data; exit 1 when drift is found."""
    try:
        profile, sample = drift.load_reference(reference)
        limits = load_params(params)["drift"]
        report = drift.compare(profile, sample, contract.read_table(current), limits)
    except (OSError, contract.InquiryDataError, KeyError, ValueError) as error:
        raise _failure(error) from error
    table = Table(title=f"Drift of {current} against {reference}")
    for column in ("check", "statistic", "value", "threshold", "verdict", "detail"):
        table.add_column(column)
    for check in report.checks:
        verdict = "[bold red]DRIFT[/]" if check.drift else "[green]ok[/]"
        table.add_row(check.name, check.statistic, f"{check.value:.4f}", f"{check.threshold:.4f}", verdict, check.detail)
    console.print(table)
    if report.new_terms:
        console.print("new frequent terms: " + ", ".join(f"{t} ({n})" for t, n in report.new_terms))
    out = json_out or current.with_suffix(".drift.json")
    out.write_text(report.to_json() + "\n", encoding="utf-8")
    console.print(f"{'DRIFT FOUND' if report.drift else 'no drift'}: report written to {out}")
    if report.drift:
        raise typer.Exit(1)


@app.command()
def queue(
    scored_path: Path = typer.Argument(..., help="A scored queue written by `classifier score`."),
    show: int = typer.Option(20, help="How many queue rows to print."),
) -> None:
    """Print a scored queue again, with its counts."""
    try:
        scored = contract.read_table(scored_path)
        missing = [c for c in ("queue_position", "colour", "route", "error") if c not in scored]
        if missing:
            raise contract.InquiryDataError(scored_path, [contract.Problem(None, c, "missing column (not a scored queue?)") for c in missing])
    except (OSError, contract.InquiryDataError, ValueError) as error:
        raise _failure(error) from error
    print_queue(scored, show)
    counts = scored["colour"].value_counts().to_dict()
    console.print(
        f"{len(scored)} records: " + ", ".join(f"{counts.get(c, 0)} {c}" for c in ("red", "orange", "green"))
        + f"; {int(scored['route'].eq('review').sum())} to review; {int(scored['error'].ne('').sum())} with errors"
    )


_interrupted: list[int] = []


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl-C: unwinds the run, so the temporary output is removed and workers stopped."""
    _interrupted.append(signum)
    raise KeyboardInterrupt


def _failure(error: Exception) -> typer.Exit:
    """Print an error as one unwrapped line (no traceback) and give the exit for it (2).

    OSError's own text leads with its errno; paths and messages may hold [brackets] rich would
    take for markup."""
    if isinstance(error, OSError) and error.strerror:
        text = f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    else:
        text = " ".join(str(error).split())
    console.print(f"[red]error:[/red] {escape(text)}", soft_wrap=True)
    return typer.Exit(2)


def print_queue(scored: pd.DataFrame, show: int) -> None:
    """The first `show` rows in queue order; `received_at` only when it is a timestamp, as a
    scored file written by an older version may echo whatever the input had there."""
    scored = scored.sort_values("queue_position", key=lambda s: pd.to_numeric(s, errors="coerce"), kind="stable")
    table = Table(title="Triage queue")
    for column in ("#", "id", "received_at", "urgency", "topic", "conf.", "route", "due_by", "error"):
        table.add_column(column)
    for row in scored.head(show).itertuples():
        colour = row.colour if isinstance(row.colour, str) and row.colour else ""
        # Text cells, not markup: ids and errors may hold [brackets], and unscored rows have no style.
        cells = (
            str(row.queue_position), str(row.id), contract.timestamp_or_empty(str(row.received_at)),
            str(row.urgency) if colour else "-",
            str(row.topic) if colour else "-",
            f"{float(row.topic_confidence):.2f}/{float(row.urgency_confidence):.2f}" if colour else "-",
            str(row.route) if colour else "-",
            str(row.due_by)[:16],
            str(row.error),
        )
        table.add_row(*(Text(cell, style=STYLE.get(colour, "") if column == 3 else "") for column, cell in enumerate(cells)))
    console.print(table)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":  # spark-submit runs this file as the application
    main()
