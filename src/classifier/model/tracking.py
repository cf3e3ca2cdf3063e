"""MLflow: where runs go, how the model is logged and registered, and the champion gate.

With MLFLOW_TRACKING_URI unset, runs go to `sqlite:///mlflow.db` (artifacts in `./mlruns`) in the
working directory, both git-ignored; set the variable to use a server.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema

from classifier.config import SlaConfig
from classifier.io.contract import OUTPUT_COLUMNS
from classifier.model.pipeline import METADATA_FILE, UntrustedModelError, load_trusted
from classifier.model.pipeline import load as load_directory

log = logging.getLogger(__name__)
EXPERIMENT = "inquiry-triage"
DEFAULT_URI = "sqlite:///mlflow.db"
ARTIFACTS = "mlruns"  # beside the SQLite database
CANDIDATE, CHAMPION = "candidate", "champion"
MODEL_TAG, MODEL_URI_TAG = "model_sha256", "model_uri"
# What the evaluation stage writes under reports/ that belongs on the run.
EVALUATION_FILES = ("metrics.json", "evaluation.md", "model_card.md", "figures", "plots")
# What serving the model needs (the imports of classifier.serving.pyfunc, transitively); listed by
# hand because inference from the environment is slow and wrong, pinned to the versions installed here.
REQUIREMENTS = [
    "mlflow",
    "scikit-learn",
    "scipy",
    "numpy",
    "pandas",
    "pyarrow",
    "fugashi",
    "unidic-lite",
    "joblib",
    "skops",
    "holidays",
    "tqdm",
    "pyyaml",
    "pydantic",
]
# An input example must carry no customer text: this one is written for the purpose, already masked.
INPUT_EXAMPLE = pd.DataFrame(
    {
        "id": ["example-1"],
        "received_at": ["2026-11-17T10:00:00+09:00"],
        "channel": ["form"],
        "subject": ["ご注文<ORDER>について"],
        "body": ["<DATE>に注文した商品がまだ届いていません。いつ頃届きますか。"],
    }
)
# The pyfunc's code, logged as the model (models-from-code: loading it unpickles nothing). Named by
# path, not imported: serving sits above this layer.
PYFUNC_CODE = Path(__file__).parents[1] / "serving" / "pyfunc_model.py"
MODEL_DIR_ARTIFACT = "model_dir"
TEXT_INPUTS = ("id", "received_at", "channel", "subject", "body", "in_reply_to", "references")
FLOAT_OUTPUTS = ("topic_confidence", "urgency_confidence", "p_high")
INT_OUTPUTS = ("queue_position", "contact_number", "text_length")


def configure() -> str:
    """Point MLflow at the configured store; a SQLite store keeps its artifacts beside the database
    (`mlruns/`), and follows them when the two were moved or copied together (`relocate`)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    # MLflow's own loaders unpickle (or trust the artifact's skops list) unless told not to; `load`
    # below is this project's way in. An explicit setting by the user is kept.
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    database = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    if database is not None and database.is_file():
        relocate(database)
    mlflow.set_tracking_uri(uri)
    if database is not None and mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifact_root(database))
    mlflow.set_experiment(EXPERIMENT)
    return uri


def artifact_root(database: Path) -> str:
    return (database.resolve().parent / ARTIFACTS).as_uri()


def relocate(database: Path) -> int:
    """Point a SQLite store that was moved or copied with its `mlruns/` at the artifacts beside it;
    returns how many stored values were rewritten.

    MLflow stores absolute artifact locations (the experiment's, each run's, each logged model's), so
    a store moved with its project would look for its artifacts where it was made. Every text value
    that starts with the old root is rewritten to start with the new one, whichever table holds it,
    so the rewrite does not depend on the schema of one MLflow version.
    """
    new_root = artifact_root(database)
    with closing(sqlite3.connect(database)) as db, db:
        if not db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'experiments'"
        ).fetchone():
            return 0
        row = db.execute("SELECT artifact_location FROM experiments WHERE name = ?", (EXPERIMENT,)).fetchone()
        if (
            row is None
            or row[0] == new_root
            or not row[0].startswith("file://")
            or not row[0].endswith("/" + ARTIFACTS)
        ):
            return 0  # a store this project did not lay out, or already in place
        old_root = row[0]
        prefixes = [(old_root, new_root), (urlparse(old_root).path, urlparse(new_root).path)]
        changed = 0
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [
                c[1]
                for c in db.execute(f'PRAGMA table_info("{table}")')
                if "CHAR" in c[2].upper() or "TEXT" in c[2].upper()
            ]
            for column in columns:
                for old, new in prefixes:
                    # The root itself or a path under it, not a sibling that shares its first letters.
                    cursor = db.execute(
                        f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) '
                        f"WHERE substr(\"{column}\", 1, ?) = ? AND substr(\"{column}\", ?, 1) IN ('', '/')",
                        (new, len(old) + 1, len(old), old, len(old) + 1),
                    )
                    changed += cursor.rowcount
    log.info("MLflow store %s moved: %d artifact locations now under %s", database, changed, new_root)
    return changed


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def pinned_requirements() -> list[str]:
    """`REQUIREMENTS` at the versions installed here: the model file needs the scikit-learn that wrote it."""
    return [f"{name}=={installed_version(name)}" for name in REQUIREMENTS]


def signature() -> ModelSignature:
    """Text columns in (only `body` required: a missing field is an empty one), the score columns out."""
    inputs = Schema([ColSpec(DataType.string, name, required=name == "body") for name in TEXT_INPUTS])

    def kind(name: str) -> DataType:
        return (
            DataType.double
            if name in FLOAT_OUTPUTS
            else DataType.long
            if name in INT_OUTPUTS
            else DataType.string
        )

    outputs = Schema([ColSpec(kind(name), name, required=False) for name in OUTPUT_COLUMNS])
    return ModelSignature(inputs=inputs, outputs=outputs)


def log_model(model_dir: str | Path, metadata: Mapping[str, Any], sla: SlaConfig) -> str:
    """Log the model directory as the pyfunc of `classifier.serving.pyfunc` to the active run, with the
    SLA hours it applies and its routing thresholds, and tag the run with the model file's SHA-256 (how
    `training_run` finds it again); returns the model URI."""
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(PYFUNC_CODE),
        artifacts={MODEL_DIR_ARTIFACT: str(Path(model_dir).resolve())},
        model_config={"sla": sla.model_dump(mode="json")},
        input_example=INPUT_EXAMPLE,
        signature=signature(),
        pip_requirements=pinned_requirements(),
        code_paths=[str(Path(__file__).parents[1])],
        metadata={
            "routing": metadata["routing"],
            "training_data_sha256": metadata["training_data_sha256"],
            "model_sha256": metadata["model_sha256"],
        },
    )
    mlflow.set_tags({MODEL_TAG: metadata["model_sha256"], MODEL_URI_TAG: info.model_uri})
    return info.model_uri


def training_run(model_sha256: str) -> Run | None:
    """The latest run that logged the model file with this SHA-256, if this store has one."""
    runs = mlflow.search_runs(
        filter_string=f"tags.{MODEL_TAG} = '{model_sha256}'",
        order_by=["start_time DESC"],
        max_results=1,
        output_format="list",
    )
    return runs[0] if runs else None


def log_training_run(model_dir: str | Path, metadata: Mapping[str, Any], sla: SlaConfig) -> Run:
    """A run for a model trained elsewhere (a store that never saw its training: a new clone, a model
    pulled from the DVC remote): its parameters and cross-validation figures from the model's metadata."""
    with mlflow.start_run(run_name="train (from model metadata)") as run:
        mlflow.log_params(flatten({"selected": metadata["params"], "seed": metadata["seed"]}))
        mlflow.log_param("training_rows", metadata["training_rows"])
        mlflow.log_metrics({f"cv_{k}": v for k, v in metadata["cv_metrics"].items()})
        mlflow.log_metrics({f"routing_{k}": v for k, v in metadata["routing"].items()})
        log_model(model_dir, metadata, sla)
    return mlflow.get_run(run.info.run_id)


def log_evaluation(run_id: str, metrics: Mapping[str, Any], reports: Path) -> None:
    """The evaluation stage's figures and reports (already redacted) on the training run."""
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({f"test_{k}": v for k, v in metrics["model"].items()})
        mlflow.log_metrics({f"baseline_test_{k}": v for k, v in metrics["baseline"].items()})
        if "robustness" in metrics:
            mlflow.log_metrics({f"robustness_{k}": v for k, v in metrics["robustness"].items()})
        if "shop_holdout" in metrics:
            mlflow.log_metrics({f"shop_holdout_{k}": v for k, v in metrics["shop_holdout"].items()})
        mlflow.log_metrics(
            {f"behaviour_{k}": v["pass_rate"] for k, v in metrics.get("behaviour", {}).items()}
        )
        for name in EVALUATION_FILES:
            path = reports / name
            if path.is_dir():
                mlflow.log_artifacts(str(path), artifact_path=f"evaluation/{name}")
            elif path.is_file():
                mlflow.log_artifact(str(path), artifact_path="evaluation")


def load(uri: str) -> tuple[Any, dict[str, Any]]:
    """A registered model (`models:/NAME@ALIAS` or `models:/NAME/VERSION`) and its metadata.

    The pyfunc (this code's way of logging) carries the model directory: it is read with `model.load`,
    which checks the model file's SHA-256 against its `model.json`. Versions logged before as an
    sklearn flavor (a rollback may point at one) are read from their skops file. Either way the file
    is read against `TRUSTED_TYPES` of this code, never the list the model's own MLmodel file carries
    (whoever can write the model could widen that one), and never unpickled: a model in another
    format, or one holding any other type, is refused before a byte of it is deserialized.
    """
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    flavors = mlflow.models.Model.load(local / "MLmodel").flavors
    if "sklearn" not in flavors:
        directory = local / model_dir_path(uri, flavors)
        if not (directory / METADATA_FILE).is_file():
            raise UntrustedModelError(f"{uri}: no {METADATA_FILE} in its {MODEL_DIR_ARTIFACT} artifact")
        return load_directory(directory)
    flavor = flavors["sklearn"]
    if flavor.get("serialization_format") != "skops":
        raise UntrustedModelError(
            f"{uri}: not a skops model ({flavor.get('serialization_format')!r}); refusing to unpickle it"
        )
    pipeline = load_trusted(local / flavor["pickled_model"])
    metadata = mlflow.models.get_model_info(uri).metadata or {}
    return pipeline, dict(metadata)


def model_dir_path(uri: str, flavors: Mapping[str, Any]) -> str:
    """Where a pyfunc logged by `log_model` keeps the model directory, relative to the model's root."""
    artifact = flavors.get("python_function", {}).get("artifacts", {}).get(MODEL_DIR_ARTIFACT)
    if not artifact:
        raise UntrustedModelError(
            f"{uri}: neither this project's pyfunc (no {MODEL_DIR_ARTIFACT} artifact) nor a skops model"
        )
    return str(artifact["path"])


def download_model_dir(uri: str, destination: str | Path | None = None) -> Path:
    """The model directory (model.skops, model.json, drift reference) of a registered pyfunc, local."""
    mlmodel = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"{uri.rstrip('/')}/MLmodel"))
    relative = model_dir_path(uri, mlflow.models.Model.load(mlmodel).flavors)
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"{uri.rstrip('/')}/{relative}",
            dst_path=None if destination is None else str(destination),
        )
    )
    if not (local / METADATA_FILE).is_file():
        raise UntrustedModelError(f"{uri}: no {METADATA_FILE} in its {MODEL_DIR_ARTIFACT} artifact")
    return local


def version_metrics(client: MlflowClient, name: str, alias: str) -> dict[str, float] | None:
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    # Versions here are always registered from a run (`log_model`), so `run_id` is set.
    return client.get_run(cast(str, version.run_id)).data.metrics


def gate(
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    metrics: Sequence[str],
    tolerance: float,
) -> tuple[bool, str]:
    """The candidate may replace the champion only if no gate metric is lower (beyond the tolerance)."""
    if champion is None:
        return True, "no champion yet"
    worse = [m for m in metrics if candidate[m] < champion.get(m, float("-inf")) - tolerance]
    if worse:
        details = ", ".join(f"{m} {candidate[m]:.4f} < {champion[m]:.4f}" for m in worse)
        return False, f"worse than the champion: {details}"
    return True, "at least as good as the champion on " + ", ".join(metrics)


def registered_version(client: MlflowClient, name: str, run_id: str) -> ModelVersion | None:
    """The version of `name` already registered from this run, if any."""
    try:
        versions = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    except MlflowException:
        return None
    return max(versions, key=lambda v: int(v.version)) if versions else None


def register(
    run_id: str,
    model_uri: str,
    name: str,
    gate_metrics: Sequence[str],
    tolerance: float,
    prefix: str = "test_",
    shop_metrics: Callable[[str], Mapping[str, float]] | None = None,
) -> dict[str, Any]:
    """Register the run's model as a version (once: a run registered before keeps its version), alias it
    `candidate`, promote it if it passes the gate.

    With `shop_metrics` (a model URI → its metrics on the shop's frozen held-out mail) the gate compares
    the candidate's `shop_holdout_` figures with the champion scored now on the same mail: the frozen
    corpus split alone cannot show that a model got better for this shop, and the champion's own
    logged figures may come from a smaller held-out slice."""
    client = MlflowClient()
    version = registered_version(client, name, run_id) or mlflow.register_model(model_uri, name)
    client.set_registered_model_alias(name, CANDIDATE, version.version)
    candidate = client.get_run(run_id).data.metrics
    champion = version_metrics(client, name, CHAMPION)
    if shop_metrics is not None:
        on_shop = None if champion is None else shop_metrics(f"models:/{name}@{CHAMPION}")
        promoted, reason = gate(
            {m: candidate["shop_holdout_" + m] for m in gate_metrics},
            None if on_shop is None else {m: on_shop[m] for m in gate_metrics},
            gate_metrics,
            tolerance,
        )
        reason = f"shop held-out: {reason}"
    else:
        promoted, reason = gate(
            {m: candidate[prefix + m] for m in gate_metrics},
            None
            if champion is None
            else {m: champion[prefix + m] for m in gate_metrics if prefix + m in champion},
            gate_metrics,
            tolerance,
        )
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    client.set_model_version_tag(name, version.version, "gate", reason)
    return {"model_name": name, "version": int(version.version), "promoted": promoted, "reason": reason}
