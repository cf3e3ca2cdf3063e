"""Spark batch scoring on a real local Spark session (`local[2]`): the same answers as `classifier
score` on the same rows (the sample inbox and 10k volume records in one Parquet file, so follow-ups
and the queue span partitions), in input order; skipped only when Java is absent."""

import os
import shutil

import mlflow
import pandas as pd
import pytest
from conftest import ROOT
from serving_support import assert_same_answers, cli_score, inbox_rows, volume_corpus
from typer.testing import CliRunner

from classifier.cli import app
from classifier.model import tracking

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None, reason="Spark needs Java (apt-get install default-jre-headless)"
)
pyspark = (
    pytest.importorskip("pyspark", reason="the spark extra: pip install -e '.[spark]'")
    if shutil.which("java")
    else None
)
CHAMPION = "models:/inquiry-triage@champion"


@pytest.fixture(scope="module")
def spark(tracked_run):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tracked_run['folder'] / 'mlflow.db'}")
        previous = mlflow.get_tracking_uri()
        tracking.configure()
        from classifier.serving.spark import session

        spark = session("local[2]")
        yield spark
        spark.stop()
        mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """The sample inbox and 10k volume records, one Parquet file, no id column on purpose: ids are made
    from the file name and record number, as the CLI makes them."""
    folder = tmp_path_factory.mktemp("spark_rows")
    inbox = inbox_rows(ROOT / "data" / "new")
    volume = volume_corpus(10_000, seed=7)[["id", "received_at", "channel", "subject", "body"]]
    both = pd.concat([inbox, volume], ignore_index=True).fillna("")
    both.loc[[3, 40], "body"] = ""  # unscored rows keep their place and get their error
    both.loc[70, "received_at"] = "先週"
    both.drop(columns="id").to_parquet(folder / "inquiries.parquet", index=False, row_group_size=500)
    both.to_parquet(folder / "with_ids.parquet", index=False)
    return folder


def test_spark_answers_as_the_cli_on_the_same_rows(spark, rows, tmp_path, params):
    from classifier.serving.spark import score_parquet

    source = rows / "inquiries.parquet"
    expected = cli_score(source, tmp_path / "cli.parquet", CHAMPION)
    summary = score_parquet(
        spark, str(source), str(tmp_path / "spark.parquet"), params.sla, CHAMPION, partitions=4
    )
    written = sorted(p.name for p in (tmp_path / "spark.parquet").glob("part-*.parquet"))
    assert len(written) >= 2, "partitioned output"
    answered = pd.read_parquet(tmp_path / "spark.parquet")
    assert summary["records"] == len(expected) == len(answered) == 10_056
    assert_same_answers(expected, answered)
    assert answered["id"].iloc[0] == "inquiries.parquet:row1"
    assert answered["error"].iloc[3].startswith("row 4") and answered["follow_up_of"].ne("").sum() > 0
    assert answered["model_version"].eq(CHAMPION).all()
    assert not list(tmp_path.glob(".spark-scoring-*")), "scratch removed"


def test_spark_score_command_with_a_model_directory(spark, rows, model_dir, tmp_path):
    source = rows / "with_ids.parquet"
    expected = cli_score(source, tmp_path / "cli.parquet", str(model_dir))
    output = tmp_path / "out.parquet"
    output.mkdir()
    (output / "stale.parquet").write_bytes(b"old")  # a previous result is replaced as a whole
    done = CliRunner().invoke(
        app,
        ["spark-score", str(source), "-o", str(output), "--master", "local[2]", "--model", str(model_dir)],
    )
    assert done.exit_code == 0, done.output
    assert "10056 records" in done.output and not (output / "stale.parquet").exists()
    answered = pd.read_parquet(output)
    assert_same_answers(expected, answered)
    assert (answered["model_version"] == expected["model_version"]).all()


def test_spark_refuses_input_without_body_and_a_changed_model(spark, model_dir, tmp_path):
    pd.DataFrame({"id": ["a"], "text": ["x"]}).to_parquet(tmp_path / "nobody.parquet")
    done = CliRunner().invoke(
        app,
        [
            "spark-score",
            str(tmp_path / "nobody.parquet"),
            "-o",
            str(tmp_path / "o.parquet"),
            "--model",
            str(model_dir),
        ],
    )
    assert done.exit_code == 2 and "no 'body' column" in done.output
    changed = tmp_path / "model"
    shutil.copytree(model_dir, changed)
    (changed / "model.skops").write_bytes((changed / "model.skops").read_bytes() + b"\0")
    pd.DataFrame({"body": ["届きません"]}).to_parquet(tmp_path / "one.parquet")
    done = CliRunner().invoke(
        app,
        [
            "spark-score",
            str(tmp_path / "one.parquet"),
            "-o",
            str(tmp_path / "o.parquet"),
            "--model",
            str(changed),
        ],
    )
    assert done.exit_code == 2 and "SHA-256" in done.output
    assert not (tmp_path / "o.parquet").exists() and not list(tmp_path.glob(".spark-scoring-*"))
    assert os.environ.get("SPARK_LOCAL_IP") == "127.0.0.1"
