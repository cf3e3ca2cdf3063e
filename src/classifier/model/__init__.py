"""The model: feature extractors, the two classification heads, the rule layer of the labeling spec,
explanations, and persistence (model files and the MLflow registry).

The pipeline's public functions live in `classifier.model.pipeline` and are re-exported here, so
callers write `model.predict(pipeline, frame)`.
"""

from classifier.model.pipeline import (
    METADATA_FILE,
    MODEL_FILE,
    InquiryText,
    ModelFileError,
    TriageHeads,
    build_features,
    build_heads,
    build_pipeline,
    calibrates_itself,
    deadline_markers,
    fit,
    fit_temperature,
    inquiry_texts,
    inquiry_tokens,
    labels_of,
    library_versions,
    load,
    predict,
    predict_columns,
    probabilities_frame,
    read_metadata,
    save,
    temper,
    texts_and_deadlines,
    write_metadata,
)

__all__ = [
    "METADATA_FILE", "MODEL_FILE", "InquiryText", "ModelFileError", "TriageHeads", "build_features", "build_heads",
    "build_pipeline", "calibrates_itself", "deadline_markers", "fit", "fit_temperature", "inquiry_texts",
    "inquiry_tokens", "labels_of", "library_versions", "load", "predict",
    "predict_columns", "probabilities_frame", "read_metadata", "save", "temper", "texts_and_deadlines", "write_metadata",
]
