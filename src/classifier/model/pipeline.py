"""The triage model: one scikit-learn Pipeline that reads an inquiry once and predicts topic and urgency.

Text is preprocessed once (`InquiryText`), turned into word and/or character TF-IDF features once
(`FeatureUnion`), and both heads are fitted on the same features (`TriageHeads`, scikit-learn's
`MultiOutputClassifier` with the triage's urgency threshold). This module also owns the model directory
format:
`model.skops` (read against an explicit list of trusted types) plus `model.json` metadata with the
SHA-256 of the model file, checked on every load.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import version
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.multioutput import MultiOutputClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC
from sklearn.utils import Tags
from sklearn.utils._param_validation import HasMethods, Interval, InvalidParameterError
from sklearn.utils.validation import _num_samples, check_is_fitted
from skops.io.exceptions import UntrustedTypesFoundException

from classifier.io.contract import COLOURS, LABEL_COLUMNS
from classifier.io.mail import strip_quoted
from classifier.model import rules
from classifier.model.explain import Explainer
from classifier.model.features import CharNgramTfidf, WordNgramTfidf
from classifier.text import TaggedText, mask, normalize, tag
from classifier.text.dates import deadline_marker

MODEL_FILE = "model.skops"
# The types a model file may hold beyond what skops trusts by default: this code's estimators and
# scikit-learn's private calibration helpers. A file holding any other type is refused unread.
TRUSTED_TYPES = [
    "classifier.model.pipeline.InquiryText",
    "classifier.model.pipeline.TriageHeads",
    "classifier.model.features.CharNgramTfidf",
    "classifier.model.features.WordNgramTfidf",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._TemperatureScaling",
]
METADATA_FILE = "model.json"


class ModelFileError(RuntimeError):
    """The model directory is missing, incomplete or does not match its recorded checksum."""


class InquiryText(TransformerMixin, BaseEstimator):
    """Subject and body of each inquiry → one normalized, masked string of what the customer wrote
    now, names included (quoted earlier messages and signatures removed, as for mail, so a CSV row and
    the same inquiry as an .eml read the same).

    Stateless, like `FunctionTransformer`: it learns nothing, so it needs no fit (tag
    `requires_fit=False`) and transforms before `fit` too.

    Examples
    --------
    >>> import pandas as pd
    >>> from classifier.model.pipeline import InquiryText
    >>> frame = pd.DataFrame({"subject": ["至急"], "body": ["注文番号 ABC-123456 が届きません"]})
    >>> [str(text) for text in InquiryText().transform(frame)]
    ['至急 注文番号 <ORDER> が届きません']
    """

    _parameter_constraints: dict[str, list[Any]] = {}

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.string = True  # a DataFrame with a `body` column (and `subject`, `received_at`)
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> InquiryText:
        """Nothing to learn; returns self."""
        return self

    def transform(self, X: pd.DataFrame) -> list[TaggedText]:
        """The `inquiry_texts` of the rows of `X` (a DataFrame with at least a `body` column)."""
        if not isinstance(X, pd.DataFrame) or "body" not in X:
            found = list(X.columns) if isinstance(X, pd.DataFrame) else type(X).__name__
            raise ValueError(
                f"InquiryText reads a DataFrame with a 'body' column (and optional 'subject', "
                f"'received_at'); got {found}"
            )
        return inquiry_texts(X)


def inquiry_texts(frame: pd.DataFrame, found: list[dict[str, list[str]]] | None = None) -> list[TaggedText]:
    """What the model reads of each inquiry: normalized, masked, person names as <NAME> (`text.tag`,
    which also tokenizes). With `found`, what preprocessing found in each is collected there too: the
    masked strings per placeholder (the scoring path reads order numbers this way
    instead of normalizing twice) and, under `DEADLINE`, the marker of a need-by date named in the text
    and counted from `received_at` (`dates.deadline_marker`; read before masking hides the dates)."""
    # Plain lists: element-wise iteration of pandas' Arrow-backed strings costs about 1 µs per value.
    subjects = frame["subject"].tolist() if "subject" in frame else [""] * len(frame)
    arrivals = frame["received_at"].tolist() if "received_at" in frame else [""] * len(frame)
    texts = []
    for subject, body, received_at in zip(subjects, frame["body"].tolist(), arrivals):
        masked: dict[str, list[str]] = {}
        normalized = normalize(f"{subject} {strip_quoted(body)}")
        texts.append(mask(normalized, masked))
        if found is not None:
            if marker := deadline_marker(normalized, received_at):
                masked[DEADLINE] = [marker]
            found.append(masked)
    return tag(texts)


DEADLINE = "DEADLINE"


def texts_and_deadlines(frame: pd.DataFrame) -> tuple[list[TaggedText], list[str]]:
    """`inquiry_texts` and the deadline marker of each ('' for none), what the urgency rules read."""
    found: list[dict[str, list[str]]] = []
    texts = inquiry_texts(frame, found)
    return texts, deadline_markers(found)


def deadline_markers(found: list[dict[str, list[str]]]) -> list[str]:
    return [masked.get(DEADLINE, [""])[0] for masked in found]


class TriageHeads(MultiOutputClassifier):
    """Two classifiers on one feature matrix: ``y[:, 0]`` is the topic, ``y[:, 1]`` the urgency.

    scikit-learn's `MultiOutputClassifier` with exactly two outputs, plus the triage's own decision
    rule for urgency and an optional temperature per head. `score` is inherited: the subset accuracy,
    the share of rows whose topic *and* urgency are both right (what `routing.target_accuracy` asks of
    the auto-triaged share); `predict`, and so `score`, applies `high_threshold` but not the hard
    urgency rules of `classifier.model.rules`, which read the text (`predict` of this module does).

    Parameters
    ----------
    estimator : estimator object
        A classifier with `predict_proba`, cloned for each head (`make_estimator`).
    high_threshold : float in [0, 1] or None, default=None
        Urgency is ``high`` whenever P(high) reaches it, even if another class is more probable:
        missing a red mail costs more than reading an orange one early. None: the most probable class.
    temperatures : pair of float or None, default=None
        One temperature per head (fitted on out-of-fold probabilities by the train stage for families
        that do not calibrate themselves); the heads' probabilities are temperature-scaled with them
        (`temper`). None: as the heads give them.
    n_jobs : int or None, default=None
        Fit the two heads in that many processes (-1: as many as there are cores); the result does
        not depend on it. Processes, not threads: liblinear draws from one global random generator.

    Attributes
    ----------
    estimators_ : list of two estimators
        The fitted topic and urgency heads (also `topic_` and `urgency_`).
    classes_ : list of two ndarrays
        The classes of each head, sorted.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from classifier.model.pipeline import TriageHeads
    >>> X = np.array([[0.0], [0.1], [0.9], [1.0]] * 2)
    >>> y = np.array([["usage", "low"], ["usage", "low"], ["return", "high"], ["return", "high"]] * 2)
    >>> heads = TriageHeads(LogisticRegression()).fit(X, y)
    >>> heads.predict([[0.05], [0.95]]).tolist()
    [['usage', 'low'], ['return', 'high']]
    >>> float(heads.score(X, y))
    1.0
    """

    _parameter_constraints: dict[str, list[Any]] = {
        **MultiOutputClassifier._parameter_constraints,
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "high_threshold": [Interval(Real, 0, 1, closed="both"), None],
        "temperatures": ["array-like", None],
    }

    def __init__(
        self,
        estimator: Any,
        *,
        high_threshold: float | None = None,
        temperatures: tuple[float, float] | None = None,
        n_jobs: int | None = None,
    ):
        super().__init__(estimator, n_jobs=n_jobs)
        self.high_threshold = high_threshold
        self.temperatures = temperatures

    @_fit_context(prefer_skip_nested_validation=False)  # the heads' estimator is validated by its own fit
    def fit(self, X: Any, y: Any, sample_weight: Any = None, **fit_params: Any) -> TriageHeads:
        """Fit the topic head on ``y[:, 0]`` and the urgency head on ``y[:, 1]`` of the same `X`."""
        shape = np.shape(y)
        if len(shape) != 2 or shape[1] != 2:
            raise ValueError(f"TriageHeads: y must have two columns (topic, urgency); got shape {shape}")
        if self.temperatures is not None and (len(self.temperatures) != 2 or min(self.temperatures) <= 0):
            raise InvalidParameterError(
                f"The 'temperatures' parameter of TriageHeads must be two positive numbers or None; "
                f"got {self.temperatures!r}"
            )
        super().fit(X, y, sample_weight=sample_weight, **fit_params)
        return self

    @property
    def topic_(self) -> Any:
        """The fitted topic head."""
        check_is_fitted(self)
        return self.estimators_[0]

    @property
    def urgency_(self) -> Any:
        """The fitted urgency head."""
        check_is_fitted(self)
        return self.estimators_[1]

    def predict_proba(self, X: Any) -> list[np.ndarray]:
        """Each head's class probabilities, temperature-scaled when `temperatures` are set."""
        probabilities = super().predict_proba(X)
        if self.temperatures is None:
            return probabilities
        return [temper(p, t) for p, t in zip(probabilities, self.temperatures)]

    def predict(self, X: Any) -> np.ndarray:
        """Topic and urgency of each row, an (n, 2) array of labels, urgency raised by `high_threshold`."""
        check_is_fitted(self)
        predicted = probabilities_frame(
            self.classes_, self.predict_proba(X), pd.RangeIndex(_num_samples(X)), self.high_threshold
        )
        return predicted[list(LABEL_COLUMNS)].to_numpy()


def calibrates_itself(estimator: Any) -> bool:
    """Whether a head's probabilities are calibrated by the estimator itself (the train stage then
    fits no temperature on top of them)."""
    return isinstance(estimator, CalibratedClassifierCV)


def temper(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling: softmax(log p / T); T > 1 softens, T < 1 sharpens."""
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, truth: np.ndarray, classes: np.ndarray) -> float:
    """The temperature that minimizes the log loss of held-out probabilities."""
    rows = np.arange(len(truth))
    columns = np.searchsorted(classes, truth)

    def loss(temperature: float) -> float:
        return float(-np.log(temper(probabilities, temperature)[rows, columns] + 1e-12).mean())

    return float(round(minimize_scalar(loss, bounds=(0.05, 20.0), method="bounded").x, 4))


def make_estimator(
    name: str, C: float, class_weight: str | None, max_iter: int, seed: int = 0, calibration_folds: int = 3
) -> Any:
    """The linear model families of the selection grid, each with probabilities."""
    if name == "logreg":
        # newton-cg converges in a handful of steps here; lbfgs spends 5x longer inside L-BFGS-B on
        # 6 classes x ~150k features.
        return LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter, solver="newton-cg")
    if name == "linear_svc":
        # One SVM on all the data and one temperature fitted on its out-of-fold decision values:
        # better log loss than 3 sigmoid-calibrated folds under a temperature, a third of the weights
        # (docs/performance.md, "Calibrated heads").
        svc = LinearSVC(C=C, class_weight=class_weight, random_state=seed)
        return CalibratedClassifierCV(svc, method="temperature", cv=calibration_folds, ensemble=False)
    if name == "complement_nb":
        # C plays the role of the smoothing strength's inverse, so one grid axis serves all families.
        return ComplementNB(alpha=1.0 / C)
    raise ValueError(f"unknown estimator {name!r} (use logreg, linear_svc or complement_nb)")


def inquiry_tokens(texts: Sequence[str]) -> list[str]:
    """The word tokens the model reads of `inquiry_texts`, space-joined: what drift statistics compare,
    and what a scored batch with drift columns may show of an inquiry."""
    return [" ".join(text.tokens) for text in tag(texts)]


def build_features(params: Mapping[str, Any]) -> FeatureUnion:
    """Word and/or character TF-IDF over the preprocessed text, as `params['features']` lists."""
    extractors = {
        "words": lambda: WordNgramTfidf(
            ngram_max=params["word_ngram_max"], min_df=params["word_min_df"], sublinear_tf=True
        ),
        "chars": lambda: CharNgramTfidf(
            ngram_min=params["char_ngram_min"],
            ngram_max=params["char_ngram_max"],
            min_df=params["char_min_df"],
            sublinear_tf=True,
        ),
    }
    return FeatureUnion([(name, extractors[name]()) for name in params["features"]])


def build_heads(params: Mapping[str, Any], seed: int = 0) -> TriageHeads:
    estimator = make_estimator(
        params["estimator"],
        params["C"],
        params["class_weight"],
        params["max_iter"],
        seed,
        params["calibration_folds"],
    )
    temperatures = params.get("temperatures")
    return TriageHeads(
        estimator,
        high_threshold=params.get("high_threshold"),
        temperatures=tuple(temperatures) if temperatures else None,
        n_jobs=params.get("n_jobs"),
    )


def build_pipeline(params: Mapping[str, Any], seed: int = 0) -> Pipeline:
    """The untrained pipeline; `params` is the `model` section of params.yaml."""
    return Pipeline(
        [("text", InquiryText()), ("features", build_features(params)), ("heads", build_heads(params, seed))]
    )


def labels_of(frame: pd.DataFrame) -> np.ndarray:
    return frame[list(LABEL_COLUMNS)].to_numpy()


def fit(pipeline: Pipeline, frame: pd.DataFrame, sample_weight: np.ndarray | None = None) -> Pipeline:
    """Fit on `frame`'s labels; `sample_weight` (one per row) reaches the heads only when given."""
    if sample_weight is None:
        return pipeline.fit(frame, labels_of(frame))
    return pipeline.fit(frame, labels_of(frame), heads__sample_weight=sample_weight)


def probabilities_frame(
    classes_per_head: list[np.ndarray],
    probabilities: list[np.ndarray],
    index: pd.Index,
    high_threshold: float | None = None,
    texts: Sequence[str] | None = None,
    deadlines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Predicted labels, their confidences, P(high) and the triage colour."""
    return pd.DataFrame(
        prediction_columns(classes_per_head, probabilities, high_threshold, texts, deadlines), index=index
    )


def prediction_columns(
    classes_per_head: list[np.ndarray],
    probabilities: list[np.ndarray],
    high_threshold: float | None = None,
    texts: Sequence[str] | None = None,
    deadlines: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """The columns of `probabilities_frame` as arrays (the scoring path builds its frame once).

    With the `inquiry_texts` of the rows and their deadline markers (`texts_and_deadlines`), the
    spec's hard urgency rules (`classifier.rules`) are applied last, and `rule` names the rule that
    raised a row's urgency ('' for none); the
    confidence of a raised urgency is the model's own probability of it.
    """
    columns = {}
    for name, classes, proba in zip(LABEL_COLUMNS, classes_per_head, probabilities):
        best = np.argmax(proba, axis=1)
        columns[name] = np.asarray(classes, dtype=object)[best]
        columns[f"{name}_confidence"] = proba[np.arange(len(best)), best].round(4)
    columns["p_high"] = probabilities[1][:, list(classes_per_head[1]).index("high")].round(4)
    columns.update(raised_high(columns, high_threshold))
    if texts is not None and deadlines is not None:
        columns["urgency"], columns["rule"] = rules.apply(
            texts, deadlines, columns["topic"], columns["urgency"]
        )
        fired = np.flatnonzero(columns["rule"] != "")
        if len(fired):
            urgency_columns = np.searchsorted(
                np.asarray(classes_per_head[1], dtype=str), columns["urgency"][fired].astype(str)
            )
            columns["urgency_confidence"] = columns["urgency_confidence"].copy()
            columns["urgency_confidence"][fired] = probabilities[1][fired, urgency_columns].round(4)
    columns["colour"] = np.array([COLOURS[u] for u in columns["urgency"]], dtype=object)
    return columns


def raised_high(predicted: Mapping[str, Any], threshold: float | None) -> dict[str, np.ndarray]:
    """`urgency` and `urgency_confidence`, urgency `high` wherever P(high) reaches the threshold
    (None: the most probable class decides)."""
    urgency, confidence = (
        np.asarray(predicted["urgency"], dtype=object),
        np.asarray(predicted["urgency_confidence"]),
    )
    if threshold is None:
        return {"urgency": urgency, "urgency_confidence": confidence}
    p_high = np.asarray(predicted["p_high"])
    raised = (p_high >= threshold) & (urgency != "high")
    return {
        "urgency": np.where(raised, "high", urgency),
        "urgency_confidence": np.where(raised, p_high, confidence),
    }


def predict(pipeline: Pipeline, frame: pd.DataFrame, explainer: Explainer | None = None) -> pd.DataFrame:
    """Topic and urgency with their confidences and the triage colour, one row per input row, the
    spec's hard urgency rules applied (`rule` names the one that fired).

    With an `Explainer` of the pipeline, an `explanation` column names the terms that pushed each
    decision. Features are computed once for both heads and the explanation.
    """
    texts, deadlines = texts_and_deadlines(frame)
    return pd.DataFrame(predict_columns(pipeline, texts, deadlines, explainer), index=frame.index)


def predict_columns(
    pipeline: Pipeline, texts: Sequence[str], deadlines: Sequence[str], explainer: Explainer | None = None
) -> dict[str, Any]:
    """`predict`'s columns for the `inquiry_texts` of the records and their deadline markers, as arrays."""
    X = pipeline.named_steps["features"].transform(texts)
    heads = pipeline.named_steps["heads"]
    probabilities = heads.predict_proba(X)
    columns: dict[str, Any] = prediction_columns(
        heads.classes_, probabilities, heads.high_threshold, texts, deadlines
    )
    if explainer is not None:
        explanations = explainer(heads, X, probabilities)
        columns["explanation"] = [
            f"{e} | rule: {r}" if r else e for e, r in zip(explanations, columns["rule"])
        ]
    return columns


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(pipeline: Pipeline, directory: str | Path, metadata: Mapping[str, Any]) -> Path:
    """Write the model and its metadata; the metadata records the model file's SHA-256."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    model_path.write_bytes(reproducible_skops(pipeline))
    heads = pipeline.named_steps["heads"]
    full = {
        **metadata,
        "labels": {name: list(map(str, classes)) for name, classes in zip(LABEL_COLUMNS, heads.classes_)},
        "model_file": MODEL_FILE,
        "model_sha256": sha256_file(model_path),
    }
    write_metadata(directory, full)
    return model_path


_ARRAY_FILE = re.compile(r"(\d+)(\.\w+)")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def reproducible_skops(pipeline: Pipeline) -> bytes:
    """The skops archive of `pipeline`, the same bytes for the same model in any process.

    skops names each node and array file by the object's `id()` (a memory address) and stamps zip
    members with the clock; numbering the ids in order of appearance and fixing the stamps makes the
    model file, its checksum and DVC's lock a function of the model alone.
    """
    archive = zipfile.ZipFile(io.BytesIO(skops.io.dumps(pipeline)))
    numbers: dict[str, str] = {}

    def number(old: str) -> str:
        return numbers.setdefault(old, str(len(numbers)))

    def renumbered(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "__id__":
                    value = int(number(str(value)))
                elif key == "file" and isinstance(value, str) and (match := _ARRAY_FILE.fullmatch(value)):
                    value = number(match[1]) + match[2]
                else:
                    value = renumbered(value)
                out[key] = value
            return out
        return [renumbered(item) for item in node] if isinstance(node, list) else node

    schema = renumbered(json.loads(archive.read("schema.json")))
    members = {"schema.json": json.dumps(schema).encode()}
    for name in archive.namelist():
        if (match := _ARRAY_FILE.fullmatch(name)) and match[1] in numbers:
            members[numbers[match[1]] + match[2]] = archive.read(name)
    if len(members) != len(archive.namelist()):
        raise ModelFileError(
            "skops archive has members its schema does not name; cannot write it reproducibly"
        )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for name in sorted(members):
            target.writestr(zipfile.ZipInfo(name, date_time=_ZIP_EPOCH), members[name])
    return out.getvalue()


def write_metadata(directory: str | Path, metadata: Mapping[str, Any]) -> None:
    (Path(directory) / METADATA_FILE).write_text(json.dumps(metadata, ensure_ascii=False, indent=2) + "\n")


def read_metadata(directory: str | Path) -> dict[str, Any]:
    metadata_path = Path(directory) / METADATA_FILE
    if not metadata_path.is_file():
        raise ModelFileError(f"{directory}: no {METADATA_FILE}; train a model first (make run or dvc repro)")
    return json.loads(metadata_path.read_text())


def load(directory: str | Path) -> tuple[Pipeline, dict[str, Any]]:
    """Load a model directory, refusing a model file whose checksum differs from its metadata."""
    directory = Path(directory)
    metadata = read_metadata(directory)
    model_path = directory / metadata.get("model_file", MODEL_FILE)
    if not model_path.is_file():
        raise ModelFileError(f"{model_path}: model file missing")
    actual = sha256_file(model_path)
    if actual != metadata.get("model_sha256"):
        raise ModelFileError(
            f"{model_path}: SHA-256 {actual} does not match {directory / METADATA_FILE} "
            f"({metadata.get('model_sha256')}); the file was changed after training"
        )
    return load_trusted(model_path), metadata


class UntrustedModelError(ModelFileError):
    """A model file that is not a skops file or that holds types outside `TRUSTED_TYPES`."""


def load_trusted(path: Path) -> Pipeline:
    """A skops model file read against this code's `TRUSTED_TYPES`, never the file's own say.

    A pickle (or anything else that is not a skops archive) is refused before a byte of it is
    deserialized, and so is a skops file holding any other type: skops builds objects only from
    the types it is told to trust, so nothing in the file runs.
    """
    if not zipfile.is_zipfile(path):
        raise UntrustedModelError(
            f"{path}: not a skops model file (a pickle?); refusing to load it, retrain instead"
        )
    # skops audits the whole tree against `trusted` before it constructs anything, so one `load`
    # both checks and reads (a separate `get_untrusted_types` pass cost 0.2 s of every cold start).
    try:
        return skops.io.load(path, trusted=TRUSTED_TYPES)
    except UntrustedTypesFoundException as error:
        raise UntrustedModelError(
            f"{path}: the model holds types this code does not trust: {error}"
        ) from error
    except (KeyError, ValueError, zipfile.BadZipFile) as error:
        raise UntrustedModelError(f"{path}: not a readable skops model file ({error})") from error


def library_versions(names: Iterable[str]) -> dict[str, str]:
    return {name: version(name) for name in names}
