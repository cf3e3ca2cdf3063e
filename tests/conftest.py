"""Shared fixtures: the project's own params and corpus, and one model trained on them per session."""

from pathlib import Path

import pytest

from classifier import data, train
from classifier.params import load_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def params():
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def corpus():
    return data.load_inquiries(ROOT / "data" / "inquiries.csv")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, params):
    out = tmp_path_factory.mktemp("model")
    train.main(ROOT / "data" / "inquiries.csv", params, out)
    return out
