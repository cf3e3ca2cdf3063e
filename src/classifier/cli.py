"""Command line: `classifier train` and `classifier score`, thin layers over the modules."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from classifier import data, drift
from classifier.model import ModelFileError
from classifier.params import DEFAULT_PARAMS, load_params
from classifier.inputs import FORMATS, InputError, read_chunks
from classifier.score import Scorer, run_batch

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
    from classifier import train as train_stage  # MLflow and the report stack load only for training

    try:
        metadata = train_stage.main(load_params(params), data_path, out)
    except (data.InquiryDataError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    console.print(f"model written to {out}/; cross-validated metrics: {metadata['cv_metrics']}")


@app.command()
def score(
    input_path: Path = typer.Argument(..., help="New mail: a folder of .eml, an mbox, a Maildir, or CSV/JSONL/Parquet."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the scored queue (.csv, .jsonl, .parquet)."),
    model_source: str = typer.Option("models", "--model", help="Model directory or MLflow URI (models:/inquiry-triage@champion)."),
    fmt: str = typer.Option(None, "--format", help="Input format, when the path does not tell: " + ", ".join(FORMATS)),
    chunk_size: int = typer.Option(1000, help="Records per chunk: memory stays bounded by it, workers share the chunks."),
    params: Path = typer.Option(DEFAULT_PARAMS, "--params", help="Parameters file (SLA hours)."),
    show: int = typer.Option(20, help="How many queue rows to print."),
    drift_columns: bool = typer.Option(False, "--drift-columns", help="Also write the model's tokens, for `classifier drift`."),
    jobs: int = typer.Option(0, "--jobs", help="Worker processes (0: one per core)."),
) -> None:
    """Score new mail into the triage queue: one output record per input record, errors included."""
    try:
        scorer = Scorer.load(model_source, drift_columns)
        sla_params = load_params(params)["sla"]
        chunks = read_chunks(input_path, fmt, chunk_size)
        summary = run_batch(scorer, chunks, output, sla_params, top=show, jobs=jobs or os.cpu_count() or 1)
    except (ModelFileError, InputError, data.InquiryDataError, FileNotFoundError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    if show:
        print_queue(summary["top"], show)
    colours = summary["colours"]
    console.print(
        f"{summary['records']} records → {output}: {colours['red']} red, {colours['orange']} orange, "
        f"{colours['green']} green; {summary['review']} to review; {summary['follow_ups']} follow-ups; "
        f"{summary['unscored']} not scored (see the error column); {summary['seconds']:.1f}s"
    )


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
        report = drift.compare(profile, sample, data.read_table(current), limits)
    except (FileNotFoundError, data.InquiryDataError, KeyError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
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
    scored = data.read_table(scored_path)
    print_queue(scored, show)
    counts = scored["colour"].value_counts().to_dict()
    console.print(
        f"{len(scored)} records: " + ", ".join(f"{counts.get(c, 0)} {c}" for c in ("red", "orange", "green"))
        + f"; {int(scored['route'].eq('review').sum())} to review; {int(scored['error'].ne('').sum())} with errors"
    )


def print_queue(scored: pd.DataFrame, show: int) -> None:
    scored = scored.sort_values("queue_position", key=lambda s: pd.to_numeric(s), kind="stable")
    table = Table(title="Triage queue")
    for column in ("#", "id", "received_at", "urgency", "topic", "conf.", "route", "due_by", "error"):
        table.add_column(column)
    for row in scored.head(show).itertuples():
        colour = row.colour if isinstance(row.colour, str) and row.colour else ""
        table.add_row(
            str(row.queue_position), str(row.id), str(row.received_at),
            f"[{STYLE.get(colour, '')}]{row.urgency if colour else '-'}[/]",
            str(row.topic) if colour else "-",
            f"{float(row.topic_confidence):.2f}/{float(row.urgency_confidence):.2f}" if colour else "-",
            str(row.route) if colour else "-",
            str(row.due_by)[:16],
            str(row.error),
        )
    console.print(table)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app()
