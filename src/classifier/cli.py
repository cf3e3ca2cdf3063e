"""Command line: `classifier train`, `score`, `drift`, `queue`, `suggest` and `import-labels`, thin layers
over the modules.

Conventions: a bad path, file or parameter prints one line naming it and exits 2 (no traceback);
`-v`/`-q` set the log level (logs go to stderr, results to stdout); the library modules are imported
inside the commands, so `classifier queue` and `--help` start without loading pandas or
scikit-learn. Parameters come from `--params` or the params.yaml of the project the working directory
is in, the model from `--model` or that project's models/.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from classifier.io.formats import InputFormat, timestamp_or_empty

if TYPE_CHECKING:
    from classifier.config import Config

DISTRIBUTION = "inquiry-triage"
log = logging.getLogger("classifier")
app = typer.Typer(help="Triage Japanese shop inquiries by topic and urgency.", no_args_is_help=True)
# Piped output (CI logs, `make run | tee`) would otherwise be cut at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
STYLE = {"red": "bold red", "orange": "dark_orange", "green": "green"}

PARAMS_HELP = "Parameters file (default: params.yaml of the project the working directory is in)."


def _version(value: bool) -> None:
    if value:
        try:
            console.print(f"{DISTRIBUTION} {version(DISTRIBUTION)}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            console.print(f"{DISTRIBUTION} (not installed)")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More log output (-vv: debug)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only errors."),
    _: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Triage Japanese shop inquiries by topic and urgency."""
    level = (
        logging.ERROR
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True
    )
    console.quiet = quiet


def _config(params: Path | None) -> Config:
    from classifier.config import (  # pydantic loads only for a command that reads params
        ConfigError,
        load_config,
    )

    try:
        return load_config(params)
    except ConfigError as error:
        _fail(error)


def _model_folder(model: str | None) -> str:
    """`--model`, else the models/ folder of the project the working directory is in."""
    if model:
        return model
    from classifier.config import ConfigError, find_params

    try:
        return str(find_params().parent / "models")
    except ConfigError:
        _fail("no --model given and no project (params.yaml) in this folder or above it")


@app.command()
def train(
    data_path: Path = typer.Option(
        None, "--data", help="Labeled inquiries (CSV, JSONL, Parquet); default: params.yaml data.train."
    ),
    out: Path = typer.Option(None, "--out", help="Model directory to write; default: the project's models/."),
    params: Path = typer.Option(None, "--params", help=PARAMS_HELP),
) -> None:
    """Select by cross-validation, train on labeled inquiries, save the model and track the run in MLflow."""
    from classifier.io import contract
    from classifier.stages import (
        train as train_stage,  # MLflow and the report stack load only here
    )

    config = _config(params)
    data = data_path or config.path(config.data.train)
    if not data.is_file():
        _fail(f"{data}: no such file")
    try:
        metadata = train_stage.main(config, data, out or config.root / "models")
    except (contract.InquiryDataError, OSError) as error:
        _fail(error)
    console.print(
        f"model written to {out or config.root / 'models'}; cross-validated metrics: {metadata['cv_metrics']}"
    )


@app.command()
def score(
    input_path: Path = typer.Argument(
        ..., help="New mail: a folder of .eml, an mbox, a Maildir, or CSV/JSONL/Parquet."
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Where to write the scored queue (.csv, .jsonl, .parquet)."
    ),
    model_source: str = typer.Option(
        None,
        "--model",
        help="Model directory or MLflow URI (models:/inquiry-triage@champion); "
        "default: the project's models/.",
    ),
    fmt: InputFormat = typer.Option(None, "--format", help="Input format, when the path does not tell."),
    chunk_size: int = typer.Option(
        None, min=1, help="Records per chunk (default: params.yaml scoring.chunk_size)."
    ),
    encoding: str = typer.Option(
        "auto",
        "--encoding",
        help="Text encoding of CSV/JSONL input; auto: UTF-8 (BOM or not), else CP932 (Shift_JIS).",
    ),
    recursive: bool = typer.Option(
        False, "--recursive", help="Also read .eml files in subfolders of a mail folder."
    ),
    params: Path = typer.Option(None, "--params", help=PARAMS_HELP),
    show: int = typer.Option(20, help="How many queue rows to print."),
    drift_columns: bool = typer.Option(
        False, "--drift-columns", help="Also write the model's tokens, for `classifier drift`."
    ),
    jobs: int = typer.Option(0, "--jobs", min=0, help="Worker processes (0: one per core)."),
    csv_escape: bool = typer.Option(
        True,
        "--csv-escape/--no-csv-escape",
        help="In CSV output, prefix ' to text cells starting with = + - @ tab or CR, "
        "so a spreadsheet shows them as text "
        "(OWASP CSV injection); --no-csv-escape for programs that read the file.",
    ),
) -> None:
    """Score new mail into the triage queue: one output record per input record, errors included."""
    from classifier.io import contract
    from classifier.io.inputs import InputError, check_not_input, read_chunks
    from classifier.model import ModelFileError
    from classifier.serving.score import Scorer, check_output, run_batch

    signal.signal(signal.SIGTERM, _interrupt)  # cleaned up like Ctrl-C: no partial output, no temporary files
    try:
        # The input is checked before the model loads: a wrong path fails in a second, not after it.
        check_not_input(input_path, output)
        check_output(output)
        config = _config(params)
        size = chunk_size or config.scoring.chunk_size
        chunks = read_chunks(input_path, fmt.value if fmt else None, size, encoding, recursive, config.limits)
        scorer = Scorer.load(_model_folder(model_source), drift_columns, config.limits, config.scoring)
        summary = run_batch(
            scorer,
            chunks,
            output,
            config.sla,
            top=show,
            jobs=jobs or os.cpu_count() or 1,
            csv_escape=csv_escape,
        )
    except (ModelFileError, InputError, contract.InquiryDataError, OSError, ValueError) as error:
        _fail(error)
    except KeyboardInterrupt:
        errors.print(
            f"[red]interrupted:[/red] {escape(str(output))} not written (left as it was)", soft_wrap=True
        )
        raise typer.Exit(128 + _interrupted[-1] if _interrupted else 130) from None
    if show:
        print_queue(summary["top"].to_dict("records"), show)
    colours = summary["colours"]
    console.print(
        f"{summary['records']} records → {output}: {colours['red']} red, {colours['orange']} orange, "
        f"{colours['green']} green; {summary['review']} to review; {summary['follow_ups']} follow-ups; "
        f"{summary['unscored']} not scored (see the error column); {summary['seconds']:.1f}s"
    )


@app.command("spark-score")
def spark_score(
    input_path: str = typer.Argument(..., help="Parquet file or folder (a data lake path Spark can read)."),
    output: str = typer.Option(
        ..., "-o", "--output", help="Parquet folder to write (part files, input order)."
    ),
    master: str = typer.Option(
        None, "--master", help="Spark master, e.g. local[2]; default: spark-submit's or local[*]."
    ),
    model_source: str = typer.Option(
        None,
        "--model",
        help="Model directory or MLflow URI (models:/inquiry-triage@champion); "
        "default: the project's models/.",
    ),
    params: Path = typer.Option(None, "--params", help=PARAMS_HELP),
    partitions: int = typer.Option(
        0, "--partitions", min=0, help="Scoring tasks (0: cores, or one per 50,000 rows)."
    ),
) -> None:
    """Score Parquet on Spark with the same answers as `classifier score` (needs the `spark` extra
    and Java)."""
    from classifier.io import contract
    from classifier.io.inputs import InputError, check_not_input
    from classifier.model import ModelFileError

    try:
        from classifier.serving import spark
    except ImportError as error:
        _fail(f"pyspark is not installed ({error}); pip install 'inquiry-triage[spark]'")
    config = _config(params)
    try:
        if "://" not in output and not input_path.startswith(("hdfs:", "s3a:", "gs:", "abfss:")):
            check_not_input(Path(input_path), Path(output))
        # Under spark-submit (it sets SPARK_ENV_LOADED) the cluster's master applies; alone, all local cores.
        session = spark.session(master or (None if os.environ.get("SPARK_ENV_LOADED") else "local[*]"))
        summary = spark.score_parquet(
            session,
            input_path,
            output,
            config.sla,
            _model_folder(model_source),
            config.limits,
            partitions or None,
        )
    except (ModelFileError, InputError, contract.InquiryDataError, OSError, ValueError) as error:
        _fail(error)
    colours = summary["colours"]
    console.print(
        f"{summary['records']} records → {output} ({summary['partitions']} partitions): "
        f"{colours['red']} red, "
        f"{colours['orange']} orange, {colours['green']} green; {summary['review']} to review; "
        f"{summary['follow_ups']} follow-ups; {summary['unscored']} not scored; {summary['seconds']:.1f}s "
        f"(scoring {summary['score_seconds']:.1f}s, batch decisions {summary['decisions_seconds']:.1f}s)"
    )


@app.command()
def serve(
    model_source: str = typer.Option(
        None,
        "--model",
        help="Model directory or MLflow URI (models:/inquiry-triage@champion); "
        "default: the project's models/.",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."),
    params: Path = typer.Option(None, "--params", help=PARAMS_HELP),
) -> None:
    """Answer POST /score (MLflow's dataframe_split JSON) with the triage of each row; GET /health."""
    from classifier.model import ModelFileError
    from classifier.serving.score import Scorer
    from classifier.serving.server import serve as run_server

    config = _config(params)
    try:
        scorer = Scorer.load(_model_folder(model_source), limits=config.limits, scoring=config.scoring)
    except (ModelFileError, OSError, ValueError) as error:
        _fail(error)
    try:
        run_server(scorer, config.sla, host, port)
    except OSError as error:  # the port is taken or not ours to bind
        _fail(error)
    except KeyboardInterrupt:
        log.info("stopped")


@app.command("drift")
def drift_command(
    current: Path = typer.Option(
        ...,
        "--current",
        exists=True,
        dir_okay=False,
        help="A batch scored by `classifier score --drift-columns`.",
    ),
    reference: str = typer.Option(
        None,
        "--reference",
        help="Model directory with the reference profile; default: the project's models/.",
    ),
    params: Path = typer.Option(None, "--params", help=PARAMS_HELP),
    json_out: Path = typer.Option(
        None, "--json", help="Where to write the report (default: next to --current)."
    ),
) -> None:
    """Compare a scored batch with the training data; exit 1 when drift is found."""
    from classifier.io import contract
    from classifier.monitoring import drift

    config = _config(params)
    folder = _model_folder(reference)
    try:
        profile, sample = drift.load_reference(folder)
        report = drift.compare(profile, sample, contract.read_table(current), config.drift, config.seed)
    except (OSError, contract.InquiryDataError, KeyError, ValueError) as error:
        _fail(error)
    table = Table(title=f"Drift of {current} against {folder}")
    for column in ("check", "statistic", "value", "threshold", "verdict", "detail"):
        table.add_column(column)
    for check in report.checks:
        verdict = "[bold red]DRIFT[/]" if check.drift else "[green]ok[/]"
        table.add_row(
            check.name, check.statistic, f"{check.value:.4f}", f"{check.threshold:.4f}", verdict, check.detail
        )
    console.print(table)
    for head, entry in report.performance.items():
        console.print(drift.performance_line(head, entry))
    if report.new_terms:
        console.print("new frequent terms: " + ", ".join(f"{t} ({n})" for t, n in report.new_terms))
    out = json_out or current.with_suffix(".drift.json")
    try:
        out.write_text(report.to_json() + "\n", encoding="utf-8")
    except OSError as error:
        _fail(error)
    console.print(f"{'DRIFT FOUND' if report.drift else 'no drift'}: report written to {out}")
    if report.drift:
        raise typer.Exit(1)


@app.command()
def queue(
    scored_path: Path = typer.Argument(..., help="A scored queue written by `classifier score`."),
    show: int = typer.Option(20, help="How many queue rows to print."),
) -> None:
    """Print a scored queue again, with its counts."""
    from classifier.serving.queue_view import NotAQueueError, read_scored

    try:
        scored = read_scored(scored_path)
    except (OSError, NotAQueueError, ValueError) as error:
        _fail(error)
    print_queue(scored, show)
    colours = [row["colour"] for row in scored]
    console.print(
        f"{len(scored)} records: "
        + ", ".join(f"{colours.count(c)} {c}" for c in ("red", "orange", "green"))
        + f"; {sum(row['route'] == 'review' for row in scored)} to review; "
        + f"{sum(row['error'] != '' for row in scored)} with errors"
    )


@app.command()
def suggest(
    scored_path: Path = typer.Argument(..., help="A batch scored by `classifier score`."),
    input_path: Path = typer.Option(
        ..., "--input", help="The mail that batch was scored from (joined by id)."
    ),
    output: Path = typer.Option(
        ...,
        "-o",
        "--output",
        help="The file to label: .csv, .xlsx (drop-down lists) or .json (Label Studio).",
    ),
    n: int = typer.Option(None, "-n", min=1, help="How many mails to pick (default: params.yaml suggest.n)."),
    model_source: str = typer.Option(
        None,
        "--model",
        help="The model that scored the batch (directory or MLflow URI); default: the project's models/.",
    ),
    reference: str = typer.Option(
        None,
        "--reference",
        help="Model directory with the drift reference (default: --model's, else models/).",
    ),
    store: Path = typer.Option(
        None,
        "--store",
        help="The shop's labeled mail, not suggested again (default: the project's data/shop/labels.csv).",
    ),
    redact: bool = typer.Option(
        False,
        "--redact/--no-redact",
        help="Mask personal data in subject and body as the reports do (dates too).",
    ),
    fmt: InputFormat = typer.Option(None, "--format", help="Input format, when the path does not tell."),
    encoding: str = typer.Option(
        "auto", "--encoding", help="Text encoding of CSV/JSONL input (auto: UTF-8, else CP932)."
    ),
    recursive: bool = typer.Option(
        False, "--recursive", help="Also read .eml files in subfolders of a mail folder."
    ),
    params: Path = typer.Option(None, "--params", help=PARAMS_HELP),
) -> None:
    """Pick the mails of a scored batch whose labels teach the model most, as a file staff label."""
    from classifier.io import contract, labels
    from classifier.io.inputs import InputError, check_not_input
    from classifier.model import ModelFileError
    from classifier.monitoring import drift
    from classifier.monitoring import suggest as active
    from classifier.serving.score import Scorer
    from classifier.text import redact as redactor

    config = _config(params)
    try:
        check_not_input(input_path, output)
        if output.suffix.lower() not in labels.LABEL_FORMATS:
            raise ValueError(
                f"{output}: unknown labeling file type '{output.suffix}' (use .csv, .xlsx or .json)"
            )
        settings = config.suggest
        scored = contract.read_table(scored_path)
        batch = labels.read_batch(input_path, fmt.value if fmt else None, encoding, recursive)
        default_store = config.path(config.data.shop or "data/shop/labels.csv")
        skip = set(labels.read_store(store or default_store)["id"].tolist())
        pool = active.candidates(scored, batch, skip)
        folder = _model_folder(model_source)
        scorer = Scorer.load(folder, limits=config.limits, scoring=config.scoring)
        _check_same_model(scored, scorer.version)
        try:
            vocabulary = drift.load_reference(reference or folder)[0]["vocabulary"]
        except FileNotFoundError as error:
            errors.print(
                f"[yellow]note:[/yellow] {escape(str(error))}: new terms are not counted", soft_wrap=True
            )
            vocabulary = None
        picks, terms = active.suggest(
            scorer.pipeline, pool, vocabulary, settings, n or settings.n, config.seed
        )
        written = labels.write_labeling_file(
            labels.labeling_sheet(picks, redactor if redact else None), output
        )
    except (ModelFileError, InputError, contract.InquiryDataError, OSError, ValueError, ImportError) as error:
        _fail(error)
    console.print(
        f"{len(pool)} scored mails not labeled yet; {len(picks)} picked "
        f"from {picks['cluster'].nunique()} clusters"
    )
    if terms:
        console.print("new frequent terms: " + escape(", ".join(f"{t} ({k})" for t, k in terms)))
    unredacted = "" if redact else " (unredacted: personal data inside)"
    console.print("written: " + ", ".join(escape(str(p)) for p in written) + unredacted)


def _check_same_model(scored: Any, version: str) -> None:
    """The uncertainty is the model's that scored the batch: a scored file of another model is refused."""
    versions = set(scored["model_version"].tolist()) - {""} if "model_version" in scored else set()
    own = version.split("#sha256:")[-1]
    if versions and not any(v.split("#sha256:")[-1] == own for v in versions):
        raise ValueError(
            f"the batch was scored by {', '.join(sorted(versions))}, not by {version}: "
            "pass that --model or score again"
        )


@app.command("import-labels")
def import_labels(
    label_file: Path = typer.Argument(
        ..., help="The labeled file: .csv, .xlsx, or a Label Studio .json export."
    ),
    batch: Path = typer.Option(
        ..., "--batch", help="The mail the file was suggested from (what `suggest --input` read)."
    ),
    by: str = typer.Option(..., "--by", help="Who labeled it (provenance)."),
    store: Path = typer.Option(
        None,
        "--store",
        help="The shop's labeled mail to append to (default: the project's data/shop/labels.csv).",
    ),
    source: str = typer.Option(
        None, "--source", help="Group name for grouped CV (default: shop:<batch name>)."
    ),
    partial: bool = typer.Option(
        False, "--partial", help="Leave out rows with no label at all (counted) instead of refusing them."
    ),
    fmt: InputFormat = typer.Option(None, "--format", help="Batch format, when the path does not tell."),
    encoding: str = typer.Option(
        "auto", "--encoding", help="Text encoding of CSV/JSONL files (auto: UTF-8, else CP932)."
    ),
    recursive: bool = typer.Option(
        False, "--recursive", help="Also read .eml files in subfolders of a mail folder."
    ),
    track: bool = typer.Option(
        True, "--dvc/--no-dvc", help="`dvc add` the store when it lies in a DVC repository."
    ),
    params: Path = typer.Option(None, "--params", help=PARAMS_HELP),
) -> None:
    """Validate a labeled file and append it to the shop's labeled mail; exit 2 listing every problem."""
    from classifier.io import contract, labels
    from classifier.io.inputs import InputError

    if store is None:  # the project's store: params.yaml says where it is
        config = _config(params)
        store = config.path(config.data.shop or "data/shop/labels.csv")
    try:
        result = labels.import_labels(
            label_file,
            batch,
            by,
            store,
            source,
            partial,
            fmt.value if fmt else None,
            encoding,
            recursive,
            track,
        )
    except contract.InquiryDataError as error:
        errors.print(
            f"[red]error:[/red] {escape(error.path)}: {len(error.problems)} problem(s), nothing imported",
            soft_wrap=True,
        )
        for problem in error.problems:  # every one: the person fixing the sheet needs the whole list
            errors.print(f"  {escape(str(problem))}", soft_wrap=True)
        raise typer.Exit(2) from error
    except (InputError, OSError, ValueError, ImportError) as error:
        _fail(error)
    skipped = f"; {result.skipped_unlabeled} unlabeled rows left out" if result.skipped_unlabeled else ""
    console.print(
        f"{result.added} labeled mails added to {escape(str(store))} ({result.store_rows} rows){skipped}"
    )
    if result.dvc_file:
        console.print(f"dvc add done: commit {escape(result.dvc_file)} (and its .gitignore) with git")


_interrupted: list[int] = []


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl-C: unwinds the run, so the temporary output is removed and workers stopped."""
    _interrupted.append(signum)
    raise KeyboardInterrupt


def _fail(error: Exception | str) -> NoReturn:
    """Print an error as one unwrapped line on stderr (no traceback) and exit 2.

    OSError's own text leads with its errno; paths and messages may hold [brackets] rich would
    take for markup."""
    if isinstance(error, OSError) and error.strerror:
        text = f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    else:
        text = " ".join(str(error).split())
    errors.print(f"[red]error:[/red] {escape(text)}", soft_wrap=True)
    raise typer.Exit(2)


def print_queue(scored: list[dict[str, Any]], show: int) -> None:
    """The first `show` records in queue order; `received_at` only when it is a timestamp, as a
    scored file written by an older version may echo whatever the input had there."""
    table = Table(title="Triage queue")
    for column in ("#", "id", "received_at", "urgency", "topic", "conf.", "route", "due_by", "error"):
        table.add_column(column)
    for row in scored[:show]:
        colour = row["colour"] if isinstance(row["colour"], str) else ""
        # Text cells, not markup: ids and errors may hold [brackets], and unscored rows have no style.
        cells = (
            str(row["queue_position"]),
            str(row["id"]),
            timestamp_or_empty(str(row["received_at"])),
            str(row["urgency"]) if colour else "-",
            str(row["topic"]) if colour else "-",
            f"{float(row['topic_confidence']):.2f}/{float(row['urgency_confidence']):.2f}" if colour else "-",
            str(row["route"]) if colour else "-",
            str(row["due_by"])[:16],
            str(row["error"]),
        )
        table.add_row(
            *(
                Text(cell, style=STYLE.get(colour, "") if column == 3 else "")
                for column, cell in enumerate(cells)
            )
        )
    console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":  # spark-submit runs this file as the application
    main()
