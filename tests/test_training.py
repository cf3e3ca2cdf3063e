"""Model tests of tracked training: MLflow run and registry, pyfunc parity, the champion gate, routing."""

import shutil
import sqlite3
from contextlib import closing

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from classifier import model
from classifier.model import tracking
from classifier.serving import routing
from classifier.serving.score import Scorer
from classifier.stages import register, train


def test_run_logs_params_metrics_and_artifacts(tracked_run):
    run = tracking.training_run(tracked_run["metadata"]["model_sha256"])
    metrics = run.data.metrics
    for name in (
        "cv_topic_macro_f1",
        "cv_urgency_macro_f1",
        "cv_high_urgency_recall",
        "cv_topic_ece",
        "test_topic_macro_f1",
        "test_urgency_macro_f1",
        "test_high_urgency_recall",
        "test_topic_ece",
        "test_urgency_log_loss",
        "test_auto_coverage",
        "baseline_test_topic_macro_f1",
    ):
        assert name in metrics, name
    assert run.data.params["selected.estimator"] == "logreg"
    assert run.data.params["selection.folds"] == "3"
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "evaluation")}
    assert {
        "evaluation/figures",
        "evaluation/plots",
        "evaluation/evaluation.md",
        "evaluation/model_card.md",
    } <= artifacts
    figures = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "evaluation/figures")}
    assert "evaluation/figures/confusion_topic.png" in figures
    children = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert len(children) == 1 and "metrics.cv_topic_macro_f1" in children


def test_no_personal_data_in_artifacts(tracked_run, small_data):
    # Reports may quote inquiries only redacted (the evaluation lists its most confident errors that
    # way); no planted phone, mail address, postal code or order number may reach an artifact.
    frames = [
        pd.read_csv(path, dtype=str, keep_default_na=False) for path in (small_data.train, small_data.test)
    ]
    planted = {p for frame in frames for p in "|".join(frame["pii"]).split("|") if p}
    artifacts = [
        a for a in (tracked_run["folder"] / "mlruns").rglob("*") if a.is_file() and a.suffix != ".png"
    ]
    blob = "\n".join(a.read_text(errors="ignore") for a in artifacts if a.stat().st_size < 5_000_000)
    assert len(planted) > 50 and "evaluation" in blob
    assert sorted(p for p in planted if p in blob) == []
    example = next(a for a in artifacts if a.name == "input_example.json").read_text()
    assert "<ORDER>" in example


def test_registered_version_predicts_exactly_as_the_joblib_file(tracked_run, test_split, params, monkeypatch):
    # The registered pyfunc is logged as code: MLflow loads it with its pickle fallback off.
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    name = tracked_run["registration"]["model_name"]
    version = tracked_run["registration"]["version"]
    pipeline, _ = model.load(tracked_run["model_dir"])
    frame = test_split.head(60)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    answered = pyfunc.predict(frame[["id", "received_at", "channel", "subject", "body"]])
    assert answered["topic"].tolist() == [str(topic) for topic in pipeline.predict(frame)[:, 0]]
    from_file = Scorer.load(tracked_run["model_dir"]).score(frame, params.sla)
    from_registry = Scorer.load(f"models:/{name}@champion").score(frame, params.sla)
    columns = [
        "id",
        "topic",
        "topic_confidence",
        "urgency",
        "urgency_confidence",
        "route",
        "explanation",
        "queue_position",
    ]
    pd.testing.assert_frame_equal(from_file[columns], from_registry[columns])


def test_first_version_becomes_champion(tracked_run):
    outcome = tracked_run["registration"]
    assert outcome["promoted"] and outcome["reason"] == "no champion yet"
    client = MlflowClient()
    champion = client.get_model_version_by_alias(outcome["model_name"], "champion")
    assert int(champion.version) == outcome["version"]


def test_champion_gate_refuses_a_worse_model(tracked_run, small_params, small_data, tmp_path):
    grid = {"estimator": ["complement_nb"], "C": [0.01]}
    worse = small_params.model_copy(
        update={"selection": small_params.selection.model_copy(update={"grid": grid})}
    )
    train.main(worse, small_data.train, tmp_path / "models")
    from classifier.stages import evaluate

    metrics = evaluate.main(tmp_path / "models", small_data.test, tmp_path / "reports")
    assert metrics["model"]["topic_macro_f1"] < tracked_run["metrics"]["model"]["topic_macro_f1"]
    outcome = register.main(worse, tmp_path / "models", tmp_path / "reports")
    assert not outcome["promoted"]
    assert outcome["reason"].startswith("worse than the champion: topic_macro_f1")
    client = MlflowClient()
    assert (
        int(client.get_model_version_by_alias(outcome["model_name"], "candidate").version)
        == outcome["version"]
    )
    assert (
        int(client.get_model_version_by_alias(outcome["model_name"], "champion").version)
        == tracked_run["registration"]["version"]
    )


@pytest.mark.parametrize(
    ("candidate", "champion", "promoted"),
    [
        ({"f1": 0.9, "recall": 0.95}, None, True),
        ({"f1": 0.9, "recall": 0.95}, {"f1": 0.9, "recall": 0.95}, True),
        ({"f1": 0.91, "recall": 0.94}, {"f1": 0.9, "recall": 0.95}, False),
        ({"f1": 0.89, "recall": 0.99}, {"f1": 0.9, "recall": 0.95}, False),
    ],
)
def test_gate_rule(candidate, champion, promoted):
    assert tracking.gate(candidate, champion, ["f1", "recall"], tolerance=0.0)[0] is promoted


def test_thresholds_are_stored_with_the_model(tracked_run):
    routing_params = tracked_run["metadata"]["routing"]
    assert 0 <= routing_params["auto_confidence"] <= 1.01
    assert (
        routing_params["validation_accuracy"] >= routing_params["target_accuracy"]
        or routing_params["validation_coverage"] == 0
    )
    _, registry_metadata = tracking.load(f"models:/{tracked_run['registration']['model_name']}@champion")
    assert registry_metadata["routing"] == routing_params


def test_routing_never_sends_a_possible_high_to_auto():
    predicted = pd.DataFrame(
        {
            "topic": ["usage", "usage", "wrong_item"],
            "topic_confidence": [0.99, 0.99, 0.99],
            "urgency": ["low", "low", "high"],
            "urgency_confidence": [0.75, 0.99, 0.99],
            "p_high": [0.24, 0.01, 0.99],
        }
    )
    routed = routing.route(predicted, {"auto_confidence": 0.5, "high_guard": 0.2})
    assert list(routed["route"]) == ["review", "auto", "auto"]
    assert routed.loc[0, "route_reason"] == "possible high urgency: P(high)=0.24"


def test_threshold_choice_reaches_the_target_on_validation():
    truth = pd.DataFrame({"topic": ["a"] * 10, "urgency": ["low"] * 10})
    predicted = pd.DataFrame(
        {
            "topic": ["a"] * 8 + ["b"] * 2,
            "urgency": ["low"] * 10,
            "p_high": [0.0] * 10,
            "topic_confidence": [0.9] * 8 + [0.5, 0.6],
            "urgency_confidence": [1.0] * 10,
        }
    )
    chosen = routing.choose_thresholds(truth, predicted, target_accuracy=0.95, high_guard=0.2)
    assert chosen["auto_confidence"] == 0.61
    assert chosen["validation_coverage"] == 0.8 and chosen["validation_accuracy"] == 1.0


def test_explanations_name_terms_from_the_text(model_dir, params):
    scorer = Scorer.load(model_dir)
    frame = pd.DataFrame(
        {
            "id": ["x"],
            "received_at": ["2026-03-01T10:00:00+09:00"],
            "subject": [""],
            "body": ["クレジットカードで二重に請求されています。確認してください。"],
        }
    )
    explanation = scorer.score(frame, params.sla).loc[0, "explanation"]
    assert explanation.startswith("topic: ") and "| urgency: " in explanation
    assert any(term in explanation for term in ("請求", "二重", "カード", "「二重」", "「請求」"))


def test_evaluation_shows_three_views_and_the_behaviour_suite(tracked_run):
    metrics = tracked_run["metrics"]
    for view in ("model", "writer_grouped_cv", "robustness"):
        assert 0.0 < metrics[view]["topic_macro_f1"] <= 1.0, view
    assert metrics["robustness"]["rows"] >= 100
    suite = metrics["behaviour"]
    assert set(suite) >= {
        "tone_invariance",
        "politeness_invariance",
        "identity_invariance",
        "repeated_contact",
        "deadline_step",
        "invariance",
    }
    # The rules on top of the head make these two hold even for a model trained on 1,200 mails.
    assert suite["repeated_contact"]["pass_rate"] >= 0.97
    assert suite["deadline_step"]["pass_rate"] >= 0.90
    report = (tracked_run["folder"] / "reports" / "evaluation.md").read_text()
    assert "writer-grouped CV" in report and "Behaviour suite" in report
    run = tracking.training_run(tracked_run["metadata"]["model_sha256"])
    assert {"robustness_topic_macro_f1", "behaviour_repeated_contact", "behaviour_invariance"} <= set(
        run.data.metrics
    )


def test_a_moved_store_finds_its_artifacts_beside_it(tracked_run, test_split, params, tmp_path, monkeypatch):
    """The store is moved (database and mlruns/ together): the registered model still loads, from the
    new place, and nothing in the database points at the old one."""
    original = tracked_run["folder"]
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for name in ("mlflow.db", "mlruns"):
        (shutil.copytree if (original / name).is_dir() else shutil.copy)(original / name, moved / name)
    hidden = original.with_name(original.name + ".away")
    original.rename(hidden)  # the old location is gone while the moved store is used
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{moved / 'mlflow.db'}")
        tracking.configure()
        scored = Scorer.load(f"models:/{tracked_run['registration']['model_name']}@champion").score(
            test_split.head(5), params.sla
        )
        assert scored["error"].eq("").all()
        with closing(sqlite3.connect(moved / "mlflow.db")) as db:
            dump = "\n".join(db.iterdump())
        assert str(original) not in dump and str(moved) in dump
        assert tracking.relocate(moved / "mlflow.db") == 0  # in place now: nothing more to rewrite
    finally:
        hidden.rename(original)
        mlflow.set_tracking_uri(f"sqlite:///{original / 'mlflow.db'}")
