"""The registered model as an MLflow pyfunc: what `mlflow models serve`, `mlflow.pyfunc.spark_udf` and
`mlflow.pyfunc.load_model` run.

`TriageModel.predict` takes a DataFrame of `id, received_at, channel, subject, body` (optionally
`in_reply_to`, `references`) and returns, one row per input row in input order, exactly the columns
`classifier score` writes (`serving.score.score_frame`: the same code, so the same answers). The rows
of one call are one batch: follow-ups are linked and the queue numbered within it. A bad row gets an
`error` and never raises; neither does a request without a `body` column (every row says so).

The model is logged as code (`pyfunc_model.py` beside this file, MLflow's models-from-code), so
loading it unpickles nothing: `load_context` reads the model directory logged as the `model_dir`
artifact (`model.skops`, `model.json`, the drift reference) with `model.load`, which checks the
SHA-256 in `model.json` and reads the skops file against this code's trusted types.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from classifier import model
from classifier.config import SlaConfig
from classifier.serving.score import Scorer, score_request

MODEL_DIR_ARTIFACT = "model_dir"


class TriageModel(PythonModel):
    """The triage model behind MLflow's pyfunc interface (see the module docstring)."""

    def __init__(self) -> None:
        self.scorer: Scorer | None = None
        self.sla: SlaConfig | None = None

    def load_context(self, context: PythonModelContext) -> None:
        pipeline, metadata = model.load(context.artifacts[MODEL_DIR_ARTIFACT])  # checksum + trusted types
        self.scorer = Scorer(pipeline, metadata, version_of(metadata))
        # The SLA hours of the params.yaml the model was logged with: a served model answers with them.
        self.sla = SlaConfig.model_validate((context.model_config or {})["sla"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        assert self.scorer is not None and self.sla is not None, "load_context was not called"
        return score_request(self.scorer, pd.DataFrame(model_input), self.sla)


def version_of(metadata: dict[str, Any]) -> str:
    """The `model_version` a pyfunc writes: which model file answered, by its checksum."""
    return f"pyfunc#sha256:{metadata['model_sha256'][:12]}"
