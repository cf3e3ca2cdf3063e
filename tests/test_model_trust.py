"""Code tests of loading a registered model: the trusted types are this code's, never the artifact's,
and nothing is unpickled. The models here are crafted the way an attacker with write access to the
registry would craft them, on a real local MLflow store."""

from pathlib import Path

import mlflow
import mlflow.sklearn
import pytest
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from classifier.model import tracking

MARKER = Path("crafted_model_ran")


def touch_marker(x):
    MARKER.write_text("ran")  # what a crafted model would do instead: run anything
    return x


class Payload:
    """An object whose restoring runs code: skops calls __setstate__ once it trusts the type."""

    def __setstate__(self, state):
        MARKER.write_text("ran")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", raising=False)
    previous = mlflow.get_tracking_uri()  # MLflow's global: the session's tracked run lives there
    tracking.configure()
    yield tmp_path
    mlflow.set_tracking_uri(previous)


def logged(obj, name, **kwargs):
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(obj, name="model", **kwargs)
    version = mlflow.register_model(info.model_uri, name)
    return f"models:/{name}/{version.version}"


def test_types_the_artifact_trusts_are_refused_without_running_anything(store):
    transformer = FunctionTransformer(func=touch_marker)
    transformer.payload_ = Payload()
    trusted_by_artifact = [f"{__name__}.Payload", f"{__name__}.touch_marker"]
    uri = logged(
        transformer, "crafted", serialization_format="skops", skops_trusted_types=trusted_by_artifact
    )
    with pytest.raises(tracking.UntrustedModelError, match="does not trust") as error:
        tracking.load(uri)
    assert "Payload" in str(error.value)
    assert not MARKER.exists()


def test_a_pickled_model_is_refused_and_mlflow_itself_will_not_unpickle_it(store):
    uri = logged(FunctionTransformer(func=touch_marker), "pickled", serialization_format="pickle")
    with pytest.raises(tracking.UntrustedModelError, match="not a skops model"):
        tracking.load(uri)
    with pytest.raises(mlflow.exceptions.MlflowException, match="MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
        mlflow.sklearn.load_model(uri)  # configure() turned MLflow's pickle fallback off
    assert not MARKER.exists()


def test_a_model_of_trusted_types_loads(store):
    uri = logged(StandardScaler().fit([[1.0], [3.0]]), "plain", serialization_format="skops")
    scaler, _ = tracking.load(uri)
    assert scaler.transform([[3.0]]).tolist() == [[1.0]]


class Exploit:
    """A pickle that runs code when it is loaded."""

    def __reduce__(self):
        return (MARKER.write_text, ("ran",))


def test_a_crafted_model_file_is_refused_by_its_checksum_before_it_is_unpickled(
    model_dir, tmp_path, monkeypatch
):
    import pickle
    import shutil

    from classifier import model

    monkeypatch.chdir(tmp_path)
    crafted = tmp_path / "models"
    shutil.copytree(model_dir, crafted)
    (crafted / model.MODEL_FILE).write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(model.ModelFileError, match="does not match"):
        model.load(crafted)
    assert not MARKER.exists()
    pickle.loads((crafted / model.MODEL_FILE).read_bytes())  # what loading it would have done
    assert MARKER.exists()


def test_a_model_file_carrying_code_with_a_matching_checksum_is_refused_without_running_it(
    model_dir, tmp_path, monkeypatch
):
    # An attacker who can write both files fixes the checksum too: the format itself must refuse.
    import pickle
    import shutil

    from classifier import model

    monkeypatch.chdir(tmp_path)
    crafted = tmp_path / "models"
    shutil.copytree(model_dir, crafted)
    (crafted / model.MODEL_FILE).write_bytes(pickle.dumps(Exploit()))
    metadata = model.read_metadata(crafted)
    model.write_metadata(
        crafted, {**metadata, "model_sha256": model.pipeline.sha256_file(crafted / model.MODEL_FILE)}
    )
    with pytest.raises(tracking.UntrustedModelError, match="not a skops model file"):
        model.load(crafted)
    assert not MARKER.exists()


def test_a_skops_model_file_holding_an_untrusted_type_is_refused_unread(model_dir, tmp_path, monkeypatch):
    import shutil

    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    from classifier import model

    monkeypatch.chdir(tmp_path)
    crafted = tmp_path / "models"
    shutil.copytree(model_dir, crafted)
    skops.io.dump(FunctionTransformer(func=touch_marker), crafted / model.MODEL_FILE)
    metadata = model.read_metadata(crafted)
    model.write_metadata(
        crafted, {**metadata, "model_sha256": model.pipeline.sha256_file(crafted / model.MODEL_FILE)}
    )
    with pytest.raises(tracking.UntrustedModelError, match="does not trust") as error:
        model.load(crafted)
    assert "touch_marker" in str(error.value)
    assert not MARKER.exists()
