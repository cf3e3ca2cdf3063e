"""MLflow: where runs go, how the model is logged and registered, and the champion gate.

With MLFLOW_TRACKING_URI unset, runs go to `sqlite:///mlflow.db` (artifacts in `./mlruns`) in the
working directory, both git-ignored; set the variable to use a server.
"""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from classifier.model import ModelFileError

EXPERIMENT = "inquiry-triage"
DEFAULT_URI = "sqlite:///mlflow.db"
CANDIDATE, CHAMPION = "candidate", "champion"
TRUSTED_TYPES = [
    "classifier.model.InquiryText",
    "classifier.model.TriageHeads",
    "classifier.features.CharNgramTfidf",
    "classifier.features.WordNgramTfidf",
    # scikit-learn's own private helpers that skops does not trust by default
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
]
# What serving the model needs; listed by hand because inference from the environment is slow and wrong.
REQUIREMENTS = ["scikit-learn", "scipy", "numpy", "pandas", "fugashi", "unidic-lite", "joblib"]
# An input example must carry no customer text: this one is written for the purpose, already masked.
INPUT_EXAMPLE = pd.DataFrame(
    {"subject": ["ご注文<ORDER>について"], "body": ["<DATE>に注文した商品がまだ届いていません。いつ頃届きますか。"]}
)


def configure() -> str:
    """Point MLflow at the configured store; a SQLite store keeps its artifacts beside the database."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    # MLflow's own loaders unpickle (or trust the artifact's skops list) unless told not to; `load`
    # below is this project's way in. An explicit setting by the user is kept.
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    mlflow.set_tracking_uri(uri)
    if uri.startswith("sqlite:///") and mlflow.get_experiment_by_name(EXPERIMENT) is None:
        artifacts = Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlruns"
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts.as_uri())
    mlflow.set_experiment(EXPERIMENT)
    return uri


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def log_model(pipeline: Any, package_dir: str, metadata: Mapping[str, Any]) -> str:
    """Log the fitted pipeline (skops) with its routing thresholds and labels; returns the model URI."""
    info = mlflow.sklearn.log_model(
        pipeline,
        name="model",
        input_example=INPUT_EXAMPLE,
        skops_trusted_types=TRUSTED_TYPES,
        pip_requirements=REQUIREMENTS,
        code_paths=[package_dir],
        metadata=dict(metadata),
    )
    return info.model_uri


class UntrustedModelError(ModelFileError):
    """A logged model that is not a skops file or that holds types outside `TRUSTED_TYPES`."""


def load(uri: str) -> tuple[Any, dict[str, Any]]:
    """A registered model (`models:/NAME@ALIAS` or `models:/NAME/VERSION`) and its metadata.

    Read with skops against `TRUSTED_TYPES` of this code, never the list the model's own MLmodel file
    carries (whoever can write the model could widen that one), and never unpickled: a model in
    another format, or one holding any other type, is refused before a byte of it is deserialized.
    """
    import skops.io

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    flavor = mlflow.models.Model.load(local / "MLmodel").flavors.get("sklearn", {})
    if flavor.get("serialization_format") != "skops":
        raise UntrustedModelError(f"{uri}: not a skops model ({flavor.get('serialization_format')!r}); refusing to unpickle it")
    path = local / flavor["pickled_model"]
    untrusted = sorted(set(skops.io.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if untrusted:
        raise UntrustedModelError(f"{uri}: the model holds types this code does not trust: {', '.join(untrusted)}")
    pipeline = skops.io.load(path, trusted=TRUSTED_TYPES)
    metadata = mlflow.models.get_model_info(uri).metadata or {}
    return pipeline, dict(metadata)


def version_metrics(client: MlflowClient, name: str, alias: str) -> dict[str, float] | None:
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    return client.get_run(version.run_id).data.metrics


def gate(candidate: Mapping[str, float], champion: Mapping[str, float] | None, metrics: Sequence[str], tolerance: float) -> tuple[bool, str]:
    """The candidate may replace the champion only if no gate metric is lower (beyond the tolerance)."""
    if champion is None:
        return True, "no champion yet"
    worse = [m for m in metrics if candidate[m] < champion.get(m, float("-inf")) - tolerance]
    if worse:
        details = ", ".join(f"{m} {candidate[m]:.4f} < {champion[m]:.4f}" for m in worse)
        return False, f"worse than the champion: {details}"
    return True, "at least as good as the champion on " + ", ".join(metrics)


def register(run_id: str, model_uri: str, name: str, gate_metrics: Sequence[str], tolerance: float, prefix: str = "test_") -> dict[str, Any]:
    """Register the run's model as a new version, alias it `candidate`, promote it if it passes the gate."""
    client = MlflowClient()
    version = mlflow.register_model(model_uri, name)
    client.set_registered_model_alias(name, CANDIDATE, version.version)
    candidate = client.get_run(run_id).data.metrics
    champion = version_metrics(client, name, CHAMPION)
    promoted, reason = gate(
        {m: candidate[prefix + m] for m in gate_metrics},
        None if champion is None else {m: champion[prefix + m] for m in gate_metrics if prefix + m in champion},
        gate_metrics,
        tolerance,
    )
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    client.set_model_version_tag(name, version.version, "gate", reason)
    return {"model_name": name, "version": int(version.version), "promoted": promoted, "reason": reason}
