"""Drift between the training data (the reference profile written next to the model) and a scored
batch of new mail: prediction, confidence, length, vocabulary and text drift, and performance
(measured when labels are present, estimated when not: by the estimator fitted at training,
`classifier.monitoring.estimate`, else from the mean calibrated confidence).

The reference profile holds statistics only: label and confidence distributions, lengths, the
vocabulary with document frequencies, and hashed token counts of a sample of documents for the
domain classifier. No raw text.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from scipy import stats
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from classifier.config import DriftConfig
from classifier.io.contract import LABEL_COLUMNS, TOPICS, URGENCIES
from classifier.monitoring.estimate import AccuracyEstimator
from classifier.text import redact

REFERENCE_FILE = "reference.json"
SAMPLE_FILE = "reference_sample.npz"
LABELS = {"topic": TOPICS, "urgency": URGENCIES}
CONFIDENCE_BINS = np.linspace(0.0, 1.0, 11)
LENGTH_BINS = np.array([0, 20, 40, 60, 80, 120, 160, 240, 320, 480, 640, 1e9])
_HASHER = HashingVectorizer(analyzer=str.split, n_features=2**18, alternate_sign=False, norm=None)


# --- the reference profile -------------------------------------------------------------------


def hashed(tokens: Sequence[str]) -> sp.csr_matrix:
    """Token lists (space-joined strings) as hashed count vectors; the same hashing both sides."""
    return _HASHER.transform(tokens)


def build_reference(
    frame: pd.DataFrame,
    predicted: pd.DataFrame,
    tokens: list[str],
    sample_size: int,
    seed: int,
    min_df: int = 2,
) -> tuple[dict[str, Any], sp.csr_matrix]:
    """Profile of the training data from out-of-fold predictions (what new data will look like)."""
    document_frequency = Counter(t for doc in tokens for t in set(doc.split()))
    vocabulary = {t: n for t, n in document_frequency.items() if n >= min_df}
    # Leave-one-out: a token of this document that the other documents hold fewer than min_df times
    # would be out of vocabulary for it, as unseen tokens are for new mail.
    singles = [
        sum(document_frequency[t] <= min_df for t in doc.split()) / max(1, len(doc.split())) for doc in tokens
    ]
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(tokens), size=min(sample_size, len(tokens)), replace=False))
    profile = {
        "rows": len(frame),
        "true": {name: shares(frame[name], LABELS[name]) for name in LABEL_COLUMNS},
        "predicted": {name: shares(predicted[name], LABELS[name]) for name in LABEL_COLUMNS},
        "confidence": {name: sample_values(predicted[f"{name}_confidence"], rng) for name in LABEL_COLUMNS},
        "length": sample_values(frame["body"].str.len(), rng),
        "accuracy": {name: float((frame[name] == predicted[name]).mean()) for name in LABEL_COLUMNS},
        "oov_rate": float(np.mean(singles)),
        # Ties by term: the counts come from sets, whose order changes with the process's hash seed.
        "vocabulary": dict(sorted(vocabulary.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
    return profile, hashed([tokens[i] for i in pick])


def shares(values: pd.Series, labels: Sequence[str]) -> dict[str, float]:
    counts = values.value_counts()
    return {label: round(float(counts.get(label, 0)) / max(1, len(values)), 5) for label in labels}


def sample_values(values: pd.Series, rng: np.random.Generator, size: int = 3000) -> list[float]:
    array = values.dropna().to_numpy(dtype=float)
    if len(array) > size:
        array = rng.choice(array, size=size, replace=False)
    return [round(float(v), 4) for v in np.sort(array)]


def save_reference(directory: str | Path, profile: Mapping[str, Any], sample: sp.csr_matrix) -> None:
    directory = Path(directory)
    (directory / REFERENCE_FILE).write_text(json.dumps(profile, ensure_ascii=False) + "\n", encoding="utf-8")
    sp.save_npz(directory / SAMPLE_FILE, sample)


def load_reference(directory: str | Path) -> tuple[dict[str, Any], sp.csr_matrix]:
    directory = Path(directory)
    if not (directory / REFERENCE_FILE).is_file():
        raise FileNotFoundError(
            f"{directory}: no {REFERENCE_FILE}; the training stage writes it next to the model"
        )
    return json.loads((directory / REFERENCE_FILE).read_text(encoding="utf-8")), sp.load_npz(
        directory / SAMPLE_FILE
    )


# --- statistics ------------------------------------------------------------------------------


def psi(expected: npt.ArrayLike, actual: npt.ArrayLike, floor: float = 1e-4) -> float:
    """Population stability index of two distributions over the same bins."""
    e = np.clip(np.asarray(expected, dtype=float), floor, None)
    a = np.clip(np.asarray(actual, dtype=float), floor, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def binned(values: npt.ArrayLike, bins: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(np.asarray(values, dtype=float), bins=bins)
    return counts / max(1, counts.sum())


def auc_threshold(n_reference: int, n_current: int, minimum: float) -> float:
    """The AUC a random domain classifier stays under with 99% probability (Mann-Whitney null),
    never below `minimum`: small samples need a clearer separation before we call it drift."""
    sigma = math.sqrt((n_reference + n_current + 1) / (12 * n_reference * n_current))
    return max(minimum, 0.5 + 2.326 * sigma)


def domain_auc(reference: sp.csr_matrix, current: sp.csr_matrix, seed: int) -> float:
    """Cross-validated ROC-AUC of telling current documents from reference ones."""
    X = sp.vstack([reference, current]).tocsr()
    X.data = np.log1p(X.data)
    y = np.r_[np.zeros(reference.shape[0]), np.ones(current.shape[0])]
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    scores = cross_val_predict(
        LogisticRegression(C=1.0, max_iter=1000, solver="liblinear"), X, y, cv=folds, method="predict_proba"
    )[:, 1]
    return float(roc_auc_score(y, scores))


# --- the checks ------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    statistic: str
    value: float
    threshold: float
    drift: bool
    detail: str = ""


@dataclass
class DriftReport:
    rows: int
    checks: list[Check]
    performance: dict[str, Any]
    new_terms: list[tuple[str, int]]
    windows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return any(c.drift for c in self.checks)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(c) for c in self.checks])

    def to_json(self) -> str:
        return json.dumps(
            {
                "rows": self.rows,
                "drift": self.drift,
                "checks": [asdict(c) for c in self.checks],
                "performance": self.performance,
                "new_terms": self.new_terms,
                "windows": self.windows,
            },
            ensure_ascii=False,
            indent=2,
        )


def distribution_check(
    name: str, reference: Mapping[str, float], current: pd.Series, labels: Sequence[str], limits: DriftConfig
) -> Check:
    observed = np.array([(current == label).sum() for label in labels], dtype=float)
    expected = np.array([reference[label] for label in labels], dtype=float)
    value = psi(expected, observed / max(1, observed.sum()))
    chi2 = stats.chisquare(
        observed + 0.5,
        (np.clip(expected, 1e-4, None) / np.clip(expected, 1e-4, None).sum())
        * (observed.sum() + 0.5 * len(labels)),
    )
    drift = value >= limits.psi and chi2.pvalue < limits.p_value
    return Check(name, "PSI", round(value, 4), limits.psi, bool(drift), f"chi-square p={chi2.pvalue:.2g}")


def sample_check(
    name: str, reference: npt.ArrayLike, current: pd.Series, bins: np.ndarray, limits: DriftConfig
) -> Check:
    values = pd.to_numeric(current, errors="coerce").dropna().to_numpy()
    ks = stats.ks_2samp(reference, values)
    value = psi(binned(reference, bins), binned(values, bins))
    drift = value >= limits.psi and ks.pvalue < limits.p_value
    return Check(
        name, "PSI", round(value, 4), limits.psi, bool(drift), f"KS D={ks.statistic:.3f} p={ks.pvalue:.2g}"
    )


def new_terms(
    vocabulary: Mapping[str, int], tokens: pd.Series, top: int
) -> tuple[float, list[tuple[str, int]]]:
    """OOV token rate of the batch and its most frequent unknown terms, person names redacted."""
    known = oov = 0
    unknown: Counter[str] = Counter()
    for doc in tokens:
        words = doc.split()
        missing = [w for w in words if w not in vocabulary]
        oov += len(missing)
        known += len(words)
        unknown.update(set(missing))
    frequent = sorted(unknown.items(), key=lambda item: (-item[1], item[0]))[: top * 2]
    merged: Counter[str] = Counter()
    for term, n in frequent:
        if n >= 2:
            merged[term if term.startswith("<") else redact(term)] += n
    return oov / max(1, known), sorted(merged.items(), key=lambda item: (-item[1], item[0]))[:top]


def performance(
    current: pd.DataFrame, estimators: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Measured accuracy and macro-F1 where true labels exist; the unlabeled estimate (mean of the
    calibrated top-label confidence, as NannyML's CBPE does for accuracy) with a 95% interval.

    With `estimators` (the reference's, fitted on writer-grouped held-out predictions at training;
    `classifier.monitoring.estimate`), the estimate and interval are theirs and the mean confidence
    stays beside them as `mean_confidence`: it over-states accuracy on mail unlike the corpus."""
    result: dict[str, Any] = {}
    for name in LABEL_COLUMNS:
        confidence = pd.to_numeric(current[f"{name}_confidence"], errors="coerce").dropna()
        estimate = float(confidence.mean())
        half_width = 1.96 * math.sqrt(float((confidence * (1 - confidence)).sum())) / max(1, len(confidence))
        entry = {
            "estimated_accuracy": round(estimate, 4),
            "interval": [round(estimate - half_width, 4), round(estimate + half_width, 4)],
        }
        if estimators and name in estimators:
            fitted = AccuracyEstimator.from_dict(estimators[name]).estimate(confidence.to_numpy()).to_dict()
            entry = {
                **{k: fitted[k] for k in ("estimated_accuracy", "interval", "method", "level")},
                "mean_confidence": round(estimate, 4),
            }
        truth = f"true_{name}"
        if truth in current and current[truth].astype(str).str.len().gt(0).any():
            labeled = current[current[truth].astype(str).str.len().gt(0) & current[name].notna()]
            entry["accuracy"] = round(float(accuracy_score(labeled[truth], labeled[name])), 4)
            entry["macro_f1"] = round(float(f1_score(labeled[truth], labeled[name], average="macro")), 4)
        result[name] = entry
    return result


def performance_line(head: str, entry: Mapping[str, Any]) -> str:
    """One line for a head's performance entry: measured, and the label-free estimate with its interval."""
    low, high = entry["interval"]
    method = entry.get("method", "mean confidence")
    estimate = f"estimated {entry['estimated_accuracy']:.3f} [{low:.3f}, {high:.3f}] ({method}"
    estimate += f"; mean confidence {entry['mean_confidence']:.3f})" if "mean_confidence" in entry else ")"
    measured = f"measured {entry['accuracy']:.3f}, " if "accuracy" in entry else ""
    return f"{head} accuracy: {measured}{estimate}"


def weekly(current: pd.DataFrame, reference: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per ISO week of `received_at`: volume, urgency PSI against the reference, mean confidence."""
    arrival = pd.to_datetime(current["received_at"], utc=True, errors="coerce", format="ISO8601")
    rows = []
    for week, part in (
        current.assign(week=arrival.dt.tz_convert("Asia/Tokyo").dt.strftime("%G-W%V"))
        .dropna(subset=["week"])
        .groupby("week")
    ):
        observed = np.array([(part["urgency"] == u).sum() for u in URGENCIES], dtype=float)
        rows.append(
            {
                "week": week,
                "rows": len(part),
                "urgency_psi": round(
                    psi(
                        [reference["predicted"]["urgency"][u] for u in URGENCIES],
                        observed / max(1, observed.sum()),
                    ),
                    4,
                ),
                "topic_psi": round(
                    psi(
                        [reference["predicted"]["topic"][t] for t in TOPICS],
                        np.array([(part["topic"] == t).sum() for t in TOPICS]) / max(1, len(part)),
                    ),
                    4,
                ),
                "mean_topic_confidence": round(
                    float(pd.to_numeric(part["topic_confidence"], errors="coerce").mean()), 4
                ),
            }
        )
    return rows


def compare(
    profile: Mapping[str, Any],
    sample: sp.csr_matrix,
    current: pd.DataFrame,
    limits: DriftConfig,
    seed: int = 0,
) -> DriftReport:
    """Every drift check of a scored batch against the reference profile."""
    scored = current[current["topic"].notna() & current["topic"].astype(str).ne("")]
    checks = [
        distribution_check(
            "topic distribution", profile["predicted"]["topic"], scored["topic"], TOPICS, limits
        ),
        distribution_check(
            "urgency distribution", profile["predicted"]["urgency"], scored["urgency"], URGENCIES, limits
        ),
        sample_check(
            "topic confidence",
            profile["confidence"]["topic"],
            scored["topic_confidence"],
            CONFIDENCE_BINS,
            limits,
        ),
        sample_check(
            "urgency confidence",
            profile["confidence"]["urgency"],
            scored["urgency_confidence"],
            CONFIDENCE_BINS,
            limits,
        ),
        sample_check("text length", profile["length"], scored["text_length"], LENGTH_BINS, limits),
    ]
    terms: list[tuple[str, int]] = []
    if "tokens" in scored:
        tokens = scored["tokens"].fillna("").astype(str)
        rate, terms = new_terms(profile["vocabulary"], tokens, limits.new_terms)
        checks.append(
            Check(
                "out-of-vocabulary rate",
                "OOV rate",
                round(rate, 4),
                round(profile["oov_rate"] + limits.oov_increase, 4),
                bool(rate >= profile["oov_rate"] + limits.oov_increase),
                f"reference {profile['oov_rate']:.3f}",
            )
        )
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(tokens), size=min(len(tokens), sample.shape[0]), replace=False))
        current_sample = hashed(tokens.iloc[pick].tolist())
        auc = domain_auc(sample, current_sample, seed)
        threshold = auc_threshold(sample.shape[0], current_sample.shape[0], limits.domain_auc)
        checks.append(
            Check(
                "text (domain classifier)",
                "ROC-AUC",
                round(auc, 4),
                round(threshold, 4),
                bool(auc >= threshold),
                f"{sample.shape[0]} reference vs {current_sample.shape[0]} current documents",
            )
        )
    perf = performance(scored, profile.get("estimators"))
    for name in LABEL_COLUMNS:
        expected = profile["accuracy"][name]
        value = perf[name].get("accuracy", perf[name]["estimated_accuracy"])
        kind = "accuracy" if "accuracy" in perf[name] else "estimated accuracy"
        checks.append(
            Check(
                f"{name} performance",
                kind,
                round(value, 4),
                round(expected - limits.accuracy_drop, 4),
                bool(value < expected - limits.accuracy_drop),
                f"reference {expected:.3f}",
            )
        )
    return DriftReport(len(current), checks, perf, terms, weekly(scored, profile))
