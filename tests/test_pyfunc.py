"""The registered model as an MLflow pyfunc: loaded the way MLflow loads it, it answers exactly as
`classifier score` on the sample inbox and on 10k volume records; bad rows get errors, never raise;
a changed model file is refused on load; `classifier score --model models:/...` reads it."""

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from conftest import ROOT
from serving_support import TEXT_INPUTS, assert_same_answers, cli_score, inbox_rows, volume_corpus

from classifier.model import ModelFileError, tracking
from classifier.serving.score import OUTPUT_COLUMNS

CHAMPION = "models:/inquiry-triage@champion"


@pytest.fixture(scope="module")
def registry(tracked_run):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tracked_run['folder'] / 'mlflow.db'}")
        previous = mlflow.get_tracking_uri()
        tracking.configure()
        yield tracked_run
        mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def pyfunc(registry):
    return mlflow.pyfunc.load_model(CHAMPION)


def test_the_champion_is_a_pyfunc_logged_as_code_with_pinned_requirements(registry, tmp_path):
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=CHAMPION, dst_path=str(tmp_path)))
    mlmodel = mlflow.models.Model.load(local / "MLmodel")
    assert set(mlmodel.flavors) == {"python_function"}
    assert mlmodel.flavors["python_function"].get("model_code_path"), (
        "logged as code, so nothing is unpickled"
    )
    assert not list(local.rglob("*.pkl"))
    requirements = (local / "requirements.txt").read_text().split()
    assert requirements and all("==" in line for line in requirements)
    assert {line.split("==")[0] for line in requirements} >= {
        "scikit-learn",
        "fugashi",
        "unidic-lite",
        "skops",
        "mlflow",
    }
    assert [c["name"] for c in json.loads(mlmodel.signature.to_dict()["outputs"])] == list(OUTPUT_COLUMNS)
    example = json.loads((local / "serving_input_example.json").read_text())
    # The example is the written-for-the-purpose, masked one: no text of the corpus.
    assert example["dataframe_split"]["data"][0][-1] == tracking.INPUT_EXAMPLE["body"][0]
    assert tracking.OUTPUT_COLUMNS is OUTPUT_COLUMNS  # one definition (io.contract)


def test_pyfunc_answers_as_the_cli_on_the_sample_inbox(pyfunc, registry, tmp_path):
    expected = cli_score(ROOT / "data" / "new", tmp_path / "cli.parquet", CHAMPION)
    answered = pyfunc.predict(inbox_rows(ROOT / "data" / "new"))
    assert_same_answers(expected, answered)
    assert (
        answered["follow_up_of"].ne("").sum() > 0
    )  # the sample inbox has follow-ups, linked within the call
    assert answered["model_version"].str.fullmatch(r"pyfunc#sha256:[0-9a-f]{12}").all()
    sha = registry["metadata"]["model_sha256"][:12]
    assert answered["model_version"].iloc[0].endswith(sha)


def test_pyfunc_answers_as_the_cli_on_10k_volume_records(pyfunc, registry, tmp_path):
    volume = volume_corpus(10_000, seed=14)[["id", "received_at", "channel", "subject", "body"]]
    volume.to_parquet(tmp_path / "volume.parquet", index=False)
    expected = cli_score(tmp_path / "volume.parquet", tmp_path / "cli.parquet", CHAMPION)
    assert_same_answers(expected, pyfunc.predict(volume))


def test_bad_rows_get_errors_and_the_call_never_raises(pyfunc):
    rows = pd.DataFrame(
        {
            "id": ["ok", "empty", "nobody", "badtime"],
            "received_at": ["2026-11-17T10:00:00+09:00", "", "", "昨日"],
            "channel": ["form", "form", "fax", "form"],
            "subject": ["", "", "", ""],
            "body": ["注文した商品が届きません。至急確認してください。", "   ", None, "返品したいです。"],
        }
    )
    answered = pyfunc.predict(rows)
    assert answered["id"].tolist() == ["ok", "empty", "nobody", "badtime"]
    assert answered.loc[0, "error"] == "" and answered.loc[0, "topic"]
    assert "body" in answered.loc[1, "error"] and answered.loc[1, "topic"] == ""
    assert "row 3" in answered.loc[2, "error"] and "channel" in answered.loc[2, "error"]
    assert (
        "received_at" in answered.loc[3, "error"]
        and answered.loc[3, "received_at"] == ""
        and answered.loc[3, "topic"]
    )


def test_a_request_without_a_body_column_is_an_error_on_every_row(pyfunc):
    from classifier.serving.pyfunc import TriageModel

    model = TriageModel()
    loaded = pyfunc.unwrap_python_model()
    # MLflow itself would refuse the call by its signature
    model.scorer, model.sla = loaded.scorer, loaded.sla
    answered = model.predict(None, pd.DataFrame({"id": ["a", "b"], "subject": ["x", "y"]}))
    assert answered["error"].str.contains("field 'body': missing column").all()
    assert answered["id"].tolist() == ["a", "b"] and list(answered.columns) == list(OUTPUT_COLUMNS)


def test_a_changed_model_file_is_refused_when_the_pyfunc_loads(registry, tmp_path):
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=CHAMPION, dst_path=str(tmp_path / "m")))
    relative = tracking.model_dir_path(CHAMPION, mlflow.models.Model.load(local / "MLmodel").flavors)
    model_file = local / relative / "model.skops"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(ModelFileError, match="SHA-256"):
        mlflow.pyfunc.load_model(str(local))


def test_tracking_load_reads_the_pyfunc_and_the_cli_scores_with_it(registry, tmp_path):
    _pipeline, metadata = tracking.load(CHAMPION)
    assert metadata["model_sha256"] == registry["metadata"]["model_sha256"]
    assert metadata["routing"] == registry["metadata"]["routing"]
    copy = tmp_path / "inbox"
    shutil.copytree(ROOT / "data" / "new", copy)
    scored = cli_score(copy, tmp_path / "q.parquet", CHAMPION, jobs=1)
    assert scored["error"].eq("").all() and scored["model_version"].eq(CHAMPION).all()
    assert set(TEXT_INPUTS) - set(scored.columns) == {"channel", "body", "in_reply_to", "references"}
