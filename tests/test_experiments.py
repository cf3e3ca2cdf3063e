"""The experiment scripts under scripts/ that choose and explain model settings: their variant
syntax reaches the parameters it names, and the grouped-CV behaviour run trains, pools and scores."""

import importlib.util
from types import ModuleType

import pandas as pd
from conftest import ROOT

from classifier.config import load_config


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_variant_reaches_the_nested_estimator_parameters_it_names():
    behaviour_cv = script("behaviour_cv")
    name, overrides = behaviour_cv.parse_variant(
        "averaged:model.estimator=linear_svc,model.C=1.0,set.ensemble=true,augment.tone=1.0,train.fraction=0.5"
    )
    assert name == "averaged"
    assert overrides == {
        "model": {"estimator": "linear_svc", "C": 1.0},
        "augment": {"tone": 1.0},
        "set": {"ensemble": True},
        "train": {"fraction": 0.5},
    }
    params = {**load_config(ROOT / "params.yaml").model.model_dump(), **overrides["model"]}
    built = behaviour_cv.build(params, overrides["set"], seed=0).get_params()
    assert built["heads__estimator__ensemble"] is True
    assert built["heads__estimator__estimator__C"] == 1.0
    assert behaviour_cv.build(params, {}, seed=0).get_params()["heads__estimator__ensemble"] is False


def test_a_training_fraction_keeps_each_label_pair_in_proportion(corpus):
    subsample = script("behaviour_cv").subsample
    half = subsample(corpus, 0.5, seed=0)
    assert abs(len(half) - len(corpus) / 2) <= 1
    assert half.index.is_unique and half.index.isin(corpus.index).all()
    pairs, halves = corpus.groupby(["topic", "urgency"]).size(), half.groupby(["topic", "urgency"]).size()
    assert ((halves - pairs / 2).abs() <= 1).all()
    assert subsample(corpus, 0.5, seed=0).index.equals(half.index)
    assert not subsample(corpus, 0.5, seed=1).index.equals(half.index)
    assert subsample(corpus, 1.0, seed=0) is corpus


def test_added_writers_train_every_fold_and_are_never_held_out(corpus):
    behaviour_cv = script("behaviour_cv")
    is_added = corpus["source"].isin(["hand:w01", "hand:w09"])
    frame, added = corpus[~is_added], corpus[is_added]
    parts = list(behaviour_cv.fold_parts(frame, 3, seed=0, fraction=0.5, added=added))
    held_out = pd.concat([valid for _, valid in parts])
    assert sorted(held_out.index) == sorted(frame.index)  # each row of the frame validated once
    for training, valid in parts:
        assert set(added["id"]) <= set(training["id"])
        assert not set(training["source"]) & set(valid["source"])
        assert abs((~training["id"].isin(added["id"])).sum() - (len(frame) - len(valid)) / 2) <= 1


def test_behaviour_under_grouped_cv_runs_the_suite_on_every_held_out_writer(corpus):
    behaviour_cv = script("behaviour_cv")
    config = load_config(ROOT / "params.yaml")
    frame = corpus.groupby("source").head(40)  # every writer, a few of each
    params = {**config.model.model_dump(), "estimator": "linear_svc"}
    result = behaviour_cv.run_variant(frame, params, {}, config.augment.model_dump(), folds=3, seed=0)
    rates = result["behaviour"]
    # Each fold's validation part is its own base of at most 150 cases per test: more than two
    # folds' worth of tone cases means all three folds were pooled.
    assert rates["tone_invariance"]["cases"] == 3 * 150
    assert set(rates) >= {"tone_invariance", "repeated_contact", "deadline_step", "invariance"}
    assert all(0.0 <= r["pass_rate"] <= 1.0 for r in rates.values())
    # Out-of-fold predictions of held-out writers: far above the 1/6 of guessing.
    assert result["cv"]["topic_macro_f1"] > 0.7
    # The invariance cases split by whether the model answered the base mail right: the two parts
    # are the pooled invariance cases, nothing lost or counted twice.
    bases = result["invariance_by_base"]
    assert set(bases) <= {"right", "wrong"} and "right" in bases
    assert sum(part["cases"] for part in bases.values()) == rates["invariance"]["cases"]
    pooled = sum(part["pass_rate"] * part["cases"] for part in bases.values()) / rates["invariance"]["cases"]
    assert abs(pooled - rates["invariance"]["pass_rate"]) < 1e-3
