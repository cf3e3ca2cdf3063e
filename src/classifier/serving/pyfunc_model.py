"""The code MLflow logs as the model (models-from-code): loading it runs this file, which names the
pyfunc class; nothing is unpickled. See `classifier.serving.pyfunc`."""

from mlflow.models import set_model

from classifier.serving.pyfunc import TriageModel

set_model(TriageModel())
