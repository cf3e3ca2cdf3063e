"""The triage model: one scikit-learn Pipeline that reads an inquiry once and predicts topic and urgency.

Text is preprocessed once (`InquiryText`), turned into word and character TF-IDF features once
(`FeatureUnion`), and both heads are fitted on the same features (`MultiOutputClassifier`).
This module also owns the model directory format: `model.joblib` plus `model.json` metadata with
the SHA-256 of the joblib file, checked on every load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multioutput import MultiOutputClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from classifier.data import COLOURS, LABEL_COLUMNS
from classifier.text import JapaneseTokenizer, preprocess

MODEL_FILE = "model.joblib"
METADATA_FILE = "model.json"


class ModelFileError(RuntimeError):
    """The model directory is missing, incomplete or does not match its recorded checksum."""


class InquiryText(BaseEstimator, TransformerMixin):
    """Subject and body of each inquiry → one normalized, masked string."""

    def fit(self, X: Any, y: Any = None) -> InquiryText:
        return self

    def transform(self, X: pd.DataFrame) -> list[str]:
        subjects = X["subject"] if "subject" in X else [""] * len(X)
        return [preprocess(f"{s} {b}") for s, b in zip(subjects, X["body"])]


def build_pipeline(params: Mapping[str, Any]) -> Pipeline:
    """The untrained pipeline; `params` is the `model` section of params.yaml."""
    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    tokenizer=JapaneseTokenizer(),
                    token_pattern=None,
                    lowercase=False,
                    ngram_range=(1, params["word_ngram_max"]),
                    min_df=params["word_min_df"],
                    sublinear_tf=True,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char",
                    lowercase=False,
                    ngram_range=(params["char_ngram_min"], params["char_ngram_max"]),
                    min_df=params["char_min_df"],
                    sublinear_tf=True,
                ),
            ),
        ]
    )
    head = LogisticRegression(
        C=params["C"], class_weight=params["class_weight"], max_iter=params["max_iter"]
    )
    return Pipeline(
        [("text", InquiryText()), ("features", features), ("heads", MultiOutputClassifier(head))]
    )


def fit(pipeline: Pipeline, frame: pd.DataFrame) -> Pipeline:
    return pipeline.fit(frame, frame[list(LABEL_COLUMNS)].to_numpy())


def predict(pipeline: Pipeline, frame: pd.DataFrame) -> pd.DataFrame:
    """Topic and urgency with their confidences and the triage colour, one row per input row."""
    probabilities = pipeline.predict_proba(frame)
    heads = pipeline.named_steps["heads"].estimators_
    result = pd.DataFrame(index=frame.index)
    for name, head, proba in zip(LABEL_COLUMNS, heads, probabilities):
        best = np.argmax(proba, axis=1)
        result[name] = head.classes_[best]
        result[f"{name}_confidence"] = proba[np.arange(len(best)), best].round(4)
    result["colour"] = result["urgency"].map(COLOURS)
    return result


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
    joblib.dump(pipeline, model_path)
    heads = pipeline.named_steps["heads"].estimators_
    full = {
        **metadata,
        "labels": {name: list(map(str, head.classes_)) for name, head in zip(LABEL_COLUMNS, heads)},
        "model_file": MODEL_FILE,
        "model_sha256": sha256_file(model_path),
    }
    (directory / METADATA_FILE).write_text(json.dumps(full, ensure_ascii=False, indent=2) + "\n")
    return model_path


def load(directory: str | Path) -> tuple[Pipeline, dict[str, Any]]:
    """Load a model directory, refusing a model file whose checksum differs from its metadata."""
    directory = Path(directory)
    metadata_path = directory / METADATA_FILE
    if not metadata_path.is_file():
        raise ModelFileError(f"{directory}: no {METADATA_FILE}; train a model first (classifier train)")
    metadata = json.loads(metadata_path.read_text())
    model_path = directory / metadata.get("model_file", MODEL_FILE)
    if not model_path.is_file():
        raise ModelFileError(f"{model_path}: model file missing")
    actual = sha256_file(model_path)
    if actual != metadata.get("model_sha256"):
        raise ModelFileError(
            f"{model_path}: SHA-256 {actual} does not match {metadata_path} "
            f"({metadata.get('model_sha256')}); the file was changed after training"
        )
    return joblib.load(model_path), metadata


def library_versions(names: Iterable[str]) -> dict[str, str]:
    return {name: version(name) for name in names}
