"""Shared fixtures: the project's params and corpus, and one small tracked training run per session.

The small run is the real pipeline (cross-validation, refit, MLflow on a SQLite store in a temporary
directory, evaluation, registration) on a stratified sample of the corpus with a one-candidate grid.
"""

import copy
from pathlib import Path

import pytest

from classifier.config import load_params
from classifier.io import contract
from classifier.stages import evaluate, register, train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def params():
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def corpus():
    return contract.load_inquiries(ROOT / "data" / "inquiries.csv")


@pytest.fixture(scope="session")
def test_split():
    return contract.load_inquiries(ROOT / "data" / "test.csv")


@pytest.fixture(scope="session")
def robustness():
    return contract.load_inquiries(ROOT / "data" / "robustness.csv")


def sample(frame, n, seed=0):
    """A stratified sample of about n rows (every topic × urgency stratum kept)."""
    share = min(1.0, n / len(frame))
    return frame.groupby(contract.stratum(frame), group_keys=False).sample(frac=share, random_state=seed)


@pytest.fixture(scope="session")
def small_params(params, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fixture_data")
    small = copy.deepcopy(params)
    small["data"]["train"] = str(folder / "train.csv")
    small["data"]["test"] = str(folder / "test.csv")
    small["data"]["robustness"] = str(folder / "robustness.csv")
    small["selection"] = {"folds": 3, "group_by": "source", "grid": {"estimator": ["logreg"], "C": [10.0]}}
    return small


@pytest.fixture(scope="session")
def small_data(small_params, corpus, test_split, robustness):
    sample(corpus, 1200).to_csv(small_params["data"]["train"], index=False)
    sample(test_split, 150).to_csv(small_params["data"]["test"], index=False)
    sample(robustness, 120).to_csv(small_params["data"]["robustness"], index=False)
    return small_params["data"]


@pytest.fixture(scope="session")
def tracked_run(tmp_path_factory, small_params, small_data):
    """Train → evaluate → register into a temporary MLflow store; yields what each step returned."""
    folder = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        metadata = train.main(small_params, small_data["train"], folder / "models")
        metrics = evaluate.main(folder / "models", small_data["test"], folder / "reports", small_data["robustness"])
        outcome = register.main(small_params, folder / "models", folder / "reports")
        yield {"folder": folder, "model_dir": folder / "models", "metadata": metadata, "metrics": metrics,
               "registration": outcome}


@pytest.fixture(scope="session")
def model_dir(tracked_run):
    return tracked_run["model_dir"]
