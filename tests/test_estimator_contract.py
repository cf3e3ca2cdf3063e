"""Code tests of scikit-learn's estimator contract for this project's own estimators.

`parametrize_with_checks` cannot run them whole: the TF-IDF extractors read an iterable of strings
(tag `input_tags.string`, no 2-D array), so scikit-learn's generated checks skip them with
"Can't test estimator"; `InquiryText` reads a DataFrame with a `body` column, which none of the
generated numeric arrays has; `TriageHeads` is a `MultiOutputClassifier` of exactly two outputs, for
which scikit-learn sets `_skip_test` itself (its checks generate one-column targets). So the
checks that are about the estimator object (construction, parameters, tags, repr, cloning, unfitted
calls) run as scikit-learn wrote them, and the ones that need data (fit idempotence, batch and order
invariance, pickling, scoring) are written below on real inquiry texts.
"""

import json
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.utils import estimator_checks, get_tags
from sklearn.utils._param_validation import InvalidParameterError

from classifier import model
from classifier.io import contract
from classifier.model.features import CharNgramTfidf, WordNgramTfidf
from classifier.model.pipeline import TRUSTED_TYPES, InquiryText, TriageHeads

ROOT = Path(__file__).resolve().parents[1]

ESTIMATORS = {
    "InquiryText": lambda: InquiryText(),
    "CharNgramTfidf": lambda: CharNgramTfidf(ngram_min=2, ngram_max=3, min_df=2),
    "WordNgramTfidf": lambda: WordNgramTfidf(ngram_max=2, min_df=2),
    "TriageHeads": lambda: TriageHeads(LogisticRegression(max_iter=500), high_threshold=0.3, n_jobs=1),
}

# scikit-learn's own checks that need no data of a particular kind.
OBJECT_CHECKS = [
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_mixin_order",
    "check_estimator_repr",
    "check_estimator_cloneable",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_estimators_unfitted",
]


@pytest.fixture(scope="module")
def sample(corpus):
    return corpus.sample(360, random_state=3).reset_index(drop=True)


@pytest.fixture(scope="module")
def texts(sample):
    return [str(t) for t in model.inquiry_texts(sample)]


@pytest.fixture(scope="module")
def small_model(params):
    return {**params.model.model_dump(), "estimator": "logreg", "n_jobs": 1, "char_min_df": 2}


@pytest.mark.parametrize("check", OBJECT_CHECKS)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_scikit_learns_object_checks(name, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", estimator_checks.SkipTestWarning)
        getattr(estimator_checks, check)(name, ESTIMATORS[name]())


def test_the_heads_and_the_pipeline_are_classifiers(params):
    pipeline = model.build_pipeline(params.model.model_dump())
    assert is_classifier(pipeline.named_steps["heads"])
    assert is_classifier(pipeline)
    assert not is_classifier(pipeline.named_steps["text"])


def test_tags_say_what_the_estimators_read_and_predict():
    for extractor in (CharNgramTfidf(), WordNgramTfidf()):
        tags = get_tags(extractor)
        assert tags.input_tags.string and not tags.input_tags.two_d_array and tags.requires_fit
    assert get_tags(InquiryText()).requires_fit is False  # stateless: it learns nothing
    heads = get_tags(ESTIMATORS["TriageHeads"]())
    assert heads.target_tags.multi_output and not heads.target_tags.single_output
    assert heads.estimator_type == "classifier"


@pytest.mark.parametrize("name", ["CharNgramTfidf", "WordNgramTfidf"])
def test_unfitted_extractors_raise_not_fitted(name, texts):
    extractor = ESTIMATORS[name]()
    with pytest.raises(NotFittedError, match=name):
        extractor.transform(texts[:3])
    with pytest.raises(NotFittedError, match=name):
        extractor.get_feature_names_out()


def test_unfitted_heads_and_pipeline_raise_not_fitted(params, sample):
    heads = ESTIMATORS["TriageHeads"]()
    X = np.zeros((2, 3))
    for method in (heads.predict, heads.predict_proba):
        with pytest.raises(NotFittedError, match="TriageHeads"):
            method(X)
    with pytest.raises(NotFittedError):
        _ = heads.topic_
    pipeline = model.build_pipeline(params.model.model_dump())
    with pytest.raises(NotFittedError):
        pipeline.predict(sample.head(2))


def test_inquiry_text_needs_no_fit_and_names_a_missing_body(sample):
    assert InquiryText().transform(sample.head(2)) == InquiryText().fit(sample).transform(sample.head(2))
    with pytest.raises(ValueError, match="'body' column.*'subject'"):
        InquiryText().transform(sample[["subject"]])


@pytest.mark.parametrize(
    "name, parameter, value",
    [
        ("CharNgramTfidf", "ngram_min", 0),
        ("CharNgramTfidf", "ngram_max", 4),
        ("CharNgramTfidf", "min_df", 0),
        ("CharNgramTfidf", "sublinear_tf", "yes"),
        ("WordNgramTfidf", "ngram_max", 3),
        ("WordNgramTfidf", "min_df", 1.5),
        ("WordNgramTfidf", "sublinear_tf", None),
        ("TriageHeads", "estimator", "logreg"),
        ("TriageHeads", "high_threshold", 1.5),
        ("TriageHeads", "n_jobs", "all"),
        ("TriageHeads", "temperatures", 2.0),
    ],
)
def test_invalid_parameters_are_refused_naming_the_parameter(name, parameter, value, texts):
    estimator = ESTIMATORS[name]().set_params(**{parameter: value})
    X, y = (texts, None)
    if name == "TriageHeads":
        X, y = np.zeros((4, 2)), np.array([["a", "x"], ["b", "y"]] * 2)
    with pytest.raises(InvalidParameterError, match=f"'{parameter}' parameter of {name}"):
        estimator.fit(X, y)


def test_temperatures_must_be_two_positive_numbers():
    X, y = np.zeros((4, 2)), np.array([["a", "x"], ["b", "y"]] * 2)
    for bad in ((1.0,), (1.0, 0.0)):
        with pytest.raises(InvalidParameterError, match="'temperatures' parameter of TriageHeads"):
            TriageHeads(LogisticRegression(), temperatures=bad).fit(X, y)


def test_heads_need_exactly_two_label_columns():
    with pytest.raises(ValueError, match=r"two columns \(topic, urgency\); got shape \(4, 3\)"):
        y = np.array([["a", "x", "p"], ["b", "y", "q"]] * 2)
        TriageHeads(LogisticRegression()).fit(np.zeros((4, 2)), y)


def test_character_ngram_bounds_are_checked_together(texts):
    with pytest.raises(ValueError, match=r"ngram_min \(3\) must not exceed ngram_max \(2\)"):
        CharNgramTfidf(ngram_min=3, ngram_max=2).fit(texts)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_clone_and_get_params_round_trip(name):
    estimator = ESTIMATORS[name]()
    params = estimator.get_params(deep=False)
    copy = clone(estimator)
    assert copy is not estimator and type(copy) is type(estimator)
    assert repr(copy.get_params(deep=False)) == repr(params)
    assert repr(type(estimator)(**params).get_params(deep=False)) == repr(params)


def test_set_params_reaches_the_heads_through_the_pipeline(params):
    pipeline = model.build_pipeline(params.model.model_dump())
    pipeline.set_params(heads__high_threshold=0.25, heads__estimator__C=3.0, features__chars__min_df=5)
    assert pipeline.get_params()["heads__high_threshold"] == 0.25
    assert pipeline.named_steps["heads"].estimator.C == 3.0
    assert clone(pipeline).get_params()["features__chars__min_df"] == 5


def test_pipeline_score_is_the_share_of_rows_with_both_labels_right(small_model, sample):
    train, test = sample.iloc[:300], sample.iloc[300:]
    pipeline = model.fit(model.build_pipeline(small_model), train)
    y = model.labels_of(test)
    predicted = pipeline.predict(test)
    expected = float(np.mean((predicted == y).all(axis=1)))
    assert pipeline.score(test, y) == pytest.approx(expected)
    assert 0.0 < expected < float(np.mean(predicted[:, 0] == y[:, 0]))  # stricter than either head
    heads = pipeline.named_steps["heads"]
    assert heads.score(pipeline[:-1].transform(test), y) == pytest.approx(expected)


@pytest.mark.parametrize("name", ["CharNgramTfidf", "WordNgramTfidf"])
def test_extractors_fit_idempotent_and_invariant_to_batch_and_order(name, texts):
    first = ESTIMATORS[name]().fit(texts)
    again = clone(first).fit(texts)
    assert (first.transform(texts) != again.transform(texts)).nnz == 0
    whole = first.transform(texts[:40])
    rows = [first.transform([t]) for t in texts[:40]]
    assert all((whole[i] != row).nnz == 0 for i, row in enumerate(rows))
    order = np.random.default_rng(0).permutation(40)
    assert (first.transform([texts[i] for i in order]) != whole[order]).nnz == 0


def test_heads_fit_idempotent_and_survive_pickling(small_model, sample):
    X = model.build_features(small_model).fit_transform(model.inquiry_texts(sample))
    y = model.labels_of(sample)
    heads = model.build_heads(small_model).fit(X, y)
    again = clone(heads).fit(X, y)
    for a, b in zip(heads.predict_proba(X), again.predict_proba(X)):
        assert np.array_equal(a, b)
    restored = pickle.loads(pickle.dumps(heads))
    assert np.array_equal(restored.predict(X), heads.predict(X))
    assert [list(c) for c in heads.classes_] == [sorted(set(y[:, 0])), sorted(set(y[:, 1]))]


def fitted_skops(config: dict, rows: int) -> bytes:
    """The model file's bytes of a pipeline of `config` fitted on the first `rows` of the corpus."""
    from classifier.model.pipeline import reproducible_skops

    corpus = contract.load_inquiries(ROOT / "data" / "inquiries.csv").head(rows)
    return reproducible_skops(model.fit(model.build_pipeline(config), corpus))


@pytest.fixture(scope="module")
def model_files(small_model):
    """One small model file per estimator family of the selection grid."""
    families = ("logreg", "linear_svc", "complement_nb")
    return {name: fitted_skops({**small_model, "estimator": name}, 240) for name in families}


def test_trusted_types_are_exactly_what_the_model_files_hold(model_files):
    held = set().union(*(skops.io.get_untrusted_types(data=data) for data in model_files.values()))
    assert held == set(TRUSTED_TYPES)
    restored = skops.io.loads(model_files["linear_svc"], trusted=TRUSTED_TYPES)
    assert is_classifier(restored.named_steps["heads"])


def test_model_files_are_byte_identical_across_processes(model_files, small_model):
    config = {**small_model, "estimator": "linear_svc"}
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); "
        "from test_estimator_contract import fitted_skops; "
        "sys.stdout.buffer.write(fitted_skops(json.loads(sys.argv[2]), 240))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "tests"), json.dumps(config)], capture_output=True, check=True
    ).stdout
    assert other == model_files["linear_svc"]


def test_docstring_examples_run():
    import doctest

    from classifier.model import features, pipeline

    for module in (features, pipeline):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted >= 4 and result.failed == 0
