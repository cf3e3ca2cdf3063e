"""Model tests: train → save → load → score round trip, checksum refusal, behaviour on clear cases."""

import numpy as np
import pandas as pd
import pytest

from classifier import model
from classifier.serving.score import Scorer


def inquiries(*bodies):
    return pd.DataFrame(
        {
            "id": [f"n{i}" for i in range(len(bodies))],
            "received_at": [f"2026-03-0{i + 1}T10:00:00+09:00" for i in range(len(bodies))],
            "subject": [""] * len(bodies),
            "body": list(bodies),
        }
    )


def test_a_saved_model_loads_and_predicts_as_the_fitted_one(corpus, params, tmp_path):
    # The fitted pipeline in memory against what save → load (skops, another object) gives back.
    train, held_out = corpus.iloc[:400], corpus.iloc[400:460]
    fitted = model.fit(
        model.build_pipeline({**params.model.model_dump(), "estimator": "logreg", "n_jobs": 1}), train
    )
    model.save(fitted, tmp_path, {"routing": {}})
    loaded, metadata = model.load(tmp_path)
    assert loaded is not fitted
    pd.testing.assert_frame_equal(model.predict(fitted, held_out), model.predict(loaded, held_out))
    assert metadata["model_sha256"] == model.pipeline.sha256_file(tmp_path / model.MODEL_FILE)


def test_the_trained_model_records_its_labels_and_metrics(model_dir):
    _, metadata = model.load(model_dir)
    assert metadata["labels"]["urgency"] == ["high", "low", "medium"]
    assert set(metadata["cv_metrics"]) >= {
        "topic_macro_f1",
        "urgency_macro_f1",
        "high_urgency_recall",
        "topic_ece",
    }
    assert len(metadata["model_sha256"]) == 64


def test_metadata_records_data_hash_params_and_versions(model_dir, small_params):
    _, metadata = model.load(model_dir)
    chosen = {**small_params.model.model_dump(), "estimator": "logreg", "C": 10.0}
    assert {k: metadata["params"][k] for k in chosen} == chosen
    assert "high_threshold" in metadata["params"]
    assert len(metadata["training_data_sha256"]) == 64
    assert set(metadata["library_versions"]) >= {"scikit-learn", "fugashi", "unidic-lite"}


def test_tampered_model_file_is_refused(model_dir, tmp_path):
    copy = tmp_path / "tampered"
    copy.mkdir()
    for name in (model.MODEL_FILE, model.METADATA_FILE):
        (copy / name).write_bytes((model_dir / name).read_bytes())
    with (copy / model.MODEL_FILE).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(model.ModelFileError, match="does not match"):
        model.load(copy)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(model.ModelFileError, match="train a model first"):
        model.load(tmp_path)


def test_scores_one_row_per_input_with_queue_order(model_dir, params):
    frame = inquiries(
        "いつも丁寧な対応ありがとうございます。",
        "注文した商品と違うものが届きました。黒のMサイズを注文したのに白のLサイズが入っていました。",
        "",
        "10日に注文しましたがまだ荷物が来ません。いつ頃になりますか。",
    )
    scored = Scorer.load(model_dir).score(frame, params.sla)
    assert sorted(scored["id"]) == sorted(frame["id"])
    assert list(scored["queue_position"]) == [1, 2, 3, 4]
    by_id = scored.set_index("id")
    assert by_id.loc["n1", "colour"] == "red"
    assert by_id.loc["n2", "error"] == "row 3, field 'body': empty body"  # the third row of the frame
    assert pd.isna(by_id.loc["n2", "topic"])
    assert by_id.loc["n2", "queue_position"] == 4  # failed records go last
    assert scored["topic_confidence"].dropna().between(0, 1).all()


def test_queue_is_urgency_tier_first_then_oldest_first(model_dir, params):
    wrong = "注文したシャツと別の商品が入っていました。すぐ交換してください。"
    frame = inquiries(wrong, "ポイント5倍キャンペーンの対象商品はどれですか。", wrong)
    frame.loc[0, "received_at"] = "2026-03-09T10:00:00+09:00"  # newer than the third
    scored = Scorer.load(model_dir).score(frame, params.sla)
    assert list(scored["id"]) == ["n2", "n0", "n1"]


@pytest.mark.parametrize("estimator", ["linear_svc", "logreg"])
def test_fitting_the_heads_in_two_processes_gives_the_same_model(corpus, params, estimator):
    sample = corpus.sample(500, random_state=1)
    probabilities = []
    for n_jobs in (1, 2):
        config = {**params.model.model_dump(), "estimator": estimator, "n_jobs": n_jobs}
        pipeline = model.fit(model.build_pipeline(config), sample)
        probabilities.append(pipeline.predict_proba(corpus.head(50)))
    for serial, threaded in zip(*probabilities):
        assert abs(serial - threaded).max() < 1e-12


def test_svm_heads_are_scikit_learns_temperature_calibration_untempered_again(corpus, params):
    from sklearn.calibration import CalibratedClassifierCV

    sample = corpus.sample(400, random_state=2)
    X = model.build_features(params.model.model_dump()).fit_transform(model.inquiry_texts(sample))
    heads = model.build_heads({**params.model.model_dump(), "estimator": "linear_svc", "n_jobs": 1})
    assert model.calibrates_itself(heads.estimator)
    heads.fit(X, model.labels_of(sample))
    for head in heads.estimators_:
        assert isinstance(head, CalibratedClassifierCV) and head.method == "temperature"
        assert len(head.calibrated_classifiers_) == 1  # ensemble=False: one SVM, one temperature
    probabilities = heads.predict_proba(X[:100])
    assert all(np.array_equal(p, h.predict_proba(X[:100])) for p, h in zip(probabilities, heads.estimators_))
    assert all(np.allclose(p.sum(axis=1), 1.0) for p in probabilities)
