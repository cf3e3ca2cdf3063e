"""Shared fixtures: the project's params and corpus, and one small tracked training run per session.

The small run is the real pipeline (cross-validation, refit, MLflow on a SQLite store in a temporary
directory, evaluation, registration) on a stratified sample of the corpus with a one-candidate grid.
"""

from pathlib import Path

import pytest

from classifier.config import Config, load_config
from classifier.io import contract
from classifier.stages import evaluate, register, train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def params():
    return load_config(ROOT / "params.yaml")


def as_yaml(config: Config) -> dict:
    """A configuration as the params.yaml mapping that gives it back."""
    return config.model_dump(mode="json", exclude={"root"})


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
    data = {
        "train": folder / "train.csv",
        "test": folder / "test.csv",
        "robustness": folder / "robustness.csv",
    }
    selection = {"folds": 3, "group_by": "source", "grid": {"estimator": ["logreg"], "C": [10.0]}}
    return params.model_copy(
        update={
            "data": params.data.model_copy(update=data),
            "selection": params.selection.model_validate(selection),
        }
    )


@pytest.fixture(scope="session")
def small_data(small_params, corpus, test_split, robustness):
    sample(corpus, 1200).to_csv(small_params.data.train, index=False)
    sample(test_split, 150).to_csv(small_params.data.test, index=False)
    sample(robustness, 120).to_csv(small_params.data.robustness, index=False)
    return small_params.data


@pytest.fixture(scope="session")
def tracked_run(tmp_path_factory, small_params, small_data):
    """Train → evaluate → register into a temporary MLflow store; yields what each step returned."""
    folder = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        metadata = train.main(small_params, small_data.train, folder / "models")
        metrics = evaluate.main(folder / "models", small_data.test, folder / "reports", small_data.robustness)
        outcome = register.main(small_params, folder / "models", folder / "reports")
        yield {
            "folder": folder,
            "model_dir": folder / "models",
            "metadata": metadata,
            "metrics": metrics,
            "registration": outcome,
        }


@pytest.fixture(scope="session")
def model_dir(tracked_run):
    return tracked_run["model_dir"]


# Made With ML's split, one group per file: `pytest -m code` runs without training anything,
# `-m data` checks the corpus, `-m model` trains or scores; `-m "not slow"` skips the end-to-end runs.
GROUPS = {
    "code": {
        "test_architecture",
        "test_config",
        "test_dates",
        "test_estimator_contract",
        "test_features",
        "test_inputs",
        "test_mail",
        "test_masking_properties",
        "test_names",
        "test_properties_inputs",
        "test_rules",
        "test_text",
    },
    "data": {"test_corpus", "test_data_contract"},
    "model": {
        "test_adapt",
        "test_benchmarks",
        "test_cli",
        "test_drift",
        "test_estimate",
        "test_experiments",
        "test_explain",
        "test_faults",
        "test_labels",
        "test_model",
        "test_model_trust",
        "test_pipeline",
        "test_pyfunc",
        "test_rest",
        "test_scoring",
        "test_spark",
        "test_suggest",
        "test_surrogates",
        "test_training",
    },
}
SLOW = {
    "test_benchmarks",
    "test_faults",
    "test_pipeline",
    "test_rest",
    "test_spark",
}  # whole runs: DVC, subprocess fleets, the bench


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.stem
        groups = [group for group, files in GROUPS.items() if name in files]
        if len(groups) != 1:
            raise pytest.UsageError(
                f"{item.path.name}: put it in exactly one of code / data / model (tests/conftest.py)"
            )
        item.add_marker(getattr(pytest.mark, groups[0]))
        if name in SLOW or "notebook" in item.name:
            item.add_marker(pytest.mark.slow)
