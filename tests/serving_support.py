"""Helpers of the serving tests: the rows the three ways score, and comparing their answers."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner
from volume import volume_corpus  # noqa: F401 - re-exported for the serving tests

from classifier.cli import app
from classifier.io.inputs import materialize, read_chunks

TEXT_INPUTS = ["id", "received_at", "channel", "subject", "body", "in_reply_to", "references"]


def inbox_rows(folder: Path) -> pd.DataFrame:
    """The sample inbox's mails as the table rows a service receives (parsed as the CLI parses them)."""
    return pd.concat([materialize(chunk) for chunk in read_chunks(folder)], ignore_index=True)[TEXT_INPUTS]


def cli_score(source: Path, output: Path, model: str, jobs: int = 2) -> pd.DataFrame:
    done = CliRunner().invoke(
        app, ["score", str(source), "-o", str(output), "--model", model, "--show", "0", "--jobs", str(jobs)]
    )
    assert done.exit_code == 0, done.output
    return pd.read_parquet(output)


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain values (missing as None, numbers as float), without `model_version`: the only
    column that differs by design (it names the source the answer came from)."""

    def plain(value):
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return None
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    columns = [c for c in frame.columns if c != "model_version"]
    return [dict(zip(columns, map(plain, row))) for row in zip(*(frame[c].tolist() for c in columns))]


def assert_same_answers(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    assert list(actual.columns) == list(expected.columns)
    want, got = records(expected.reset_index(drop=True)), records(actual.reset_index(drop=True))
    assert len(got) == len(want)
    differing = [(w, g) for w, g in zip(want, got) if w != g]
    assert not differing, f"{len(differing)} rows differ, first: {differing[0]}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
