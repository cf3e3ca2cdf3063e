"""Command line: `classifier train` and `classifier score`, thin layers over the modules."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from classifier import data, train as train_stage
from classifier.model import ModelFileError
from classifier.params import DEFAULT_PARAMS, load_params
from classifier.score import Scorer, write_table

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
    """Train on labeled inquiries and save the model with its metadata."""
    try:
        metadata = train_stage.main(data_path, load_params(params), out)
    except (data.InquiryDataError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    console.print(f"model written to {out}/; held-out metrics: {metadata['holdout_metrics']}")


@app.command()
def score(
    input_path: Path = typer.Argument(..., help="Inquiries to score (CSV, JSONL, Parquet)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the scored queue."),
    model_dir: Path = typer.Option(Path("models"), "--model", help="Model directory."),
    show: int = typer.Option(20, help="How many queue rows to print."),
) -> None:
    """Score new inquiries and write the triage queue (urgency first, then oldest first)."""
    started = time.perf_counter()
    try:
        scorer = Scorer.load(model_dir)
        scored = scorer.score(data.read_table(input_path))
    except (ModelFileError, data.InquiryDataError, FileNotFoundError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    write_table(scored, output)
    print_queue(scored.head(show))
    counts = scored["colour"].value_counts().to_dict()
    console.print(
        f"{len(scored)} inquiries → {output}: "
        + ", ".join(f"{counts.get(c, 0)} {c}" for c in ("red", "orange", "green"))
        + f", {int(scored['error'].ne('').sum())} with errors, {time.perf_counter() - started:.1f}s"
    )


def print_queue(scored) -> None:
    table = Table(title="Triage queue")
    for column in ("#", "id", "received_at", "urgency", "topic", "conf.", "error"):
        table.add_column(column)
    for row in scored.itertuples():
        colour = row.colour if isinstance(row.colour, str) else ""
        table.add_row(
            str(row.queue_position), str(row.id), str(row.received_at),
            f"[{STYLE.get(colour, '')}]{row.urgency if colour else '-'}[/]",
            str(row.topic) if colour else "-",
            f"{row.topic_confidence:.2f}/{row.urgency_confidence:.2f}" if colour else "-",
            row.error,
        )
    console.print(table)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app()
