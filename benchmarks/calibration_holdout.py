"""Calibrated heads before and after issue 16 on the held-out sets: the frozen test split and the
robustness set (other writers), side by side in one run.

The selected configuration (linear_svc C=10, words+chars) is fitted once on all training data with
its augmented copies, as the train stage fits it; the variants differ only in their heads:

- ``sigmoid_cv3+T`` (before): per-fold sigmoid calibration (cv=3), then the per-head temperatures
  that `benchmarks/calibration.py` fitted on the writer-grouped out-of-fold probabilities;
- ``temperature_single`` (after): `CalibratedClassifierCV(method="temperature", ensemble=False, cv=3)`;
- ``temperature_cv3``: the same with the default ensemble of 3.

Labels are the most probable class with the hard urgency rules applied, without the P(high) review
threshold (the train stage chooses that on out-of-fold predictions of the full selection).

    python benchmarks/calibration_holdout.py     # after benchmarks/calibration.py; ~10 min on 2 cores

Prints one table and writes benchmarks/calibration_holdout.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import log_loss
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from calibration import StackedCalibratedLinear  # noqa: E402

from classifier import model  # noqa: E402
from classifier.config import load_config  # noqa: E402
from classifier.evaluation.metrics import calibration_metrics, compute_metrics  # noqa: E402
from classifier.io import contract  # noqa: E402
from classifier.model.pipeline import temper  # noqa: E402
from classifier.training.augment import augmented_copies  # noqa: E402

VARIANTS = ("sigmoid_cv3+T", "temperature_single", "temperature_cv3")


def heads_of(variant: str, config: dict[str, Any], seed: int) -> CalibratedClassifierCV:
    svc = LinearSVC(C=config["C"], class_weight=config["class_weight"], random_state=seed)
    if variant == "sigmoid_cv3+T":
        return CalibratedClassifierCV(svc, method="sigmoid", cv=3)
    return CalibratedClassifierCV(svc, method="temperature", cv=3, ensemble=variant == "temperature_cv3")


def fitted_probabilities(
    params: dict[str, Any], config: dict[str, Any], sets: dict[str, pd.DataFrame]
) -> dict[str, Any]:
    seed = params["seed"]
    train = contract.load_inquiries(ROOT / params["data"]["train"])
    train = pd.concat([train, augmented_copies(train, params.get("augment") or {}, seed)], ignore_index=True)
    features = model.build_features(config)
    X_train = features.fit_transform(model.InquiryText().transform(train))
    y = model.labels_of(train)
    held_out = {name: features.transform(model.inquiry_texts(frame)) for name, frame in sets.items()}
    out: dict[str, Any] = {}
    for variant in VARIANTS:
        heads = [heads_of(variant, config, seed).fit(X_train, y[:, head]) for head in (0, 1)]
        scorers = [StackedCalibratedLinear(h) if variant == "sigmoid_cv3+T" else h for h in heads]
        for name, X in held_out.items():
            start = time.perf_counter()
            for head, scorer in zip(("topic", "urgency"), scorers):
                out[f"{variant}/{name}/{head}"] = scorer.predict_proba(X)
            out[f"{variant}/{name}/seconds"] = np.array(time.perf_counter() - start)
        out[f"{variant}/classes/topic"], out[f"{variant}/classes/urgency"] = (h.classes_ for h in heads)
        print(f"{variant} fitted", file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help="npz of the fitted probabilities (read if present)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "calibration_holdout.json")
    args = parser.parse_args()
    params = load_config(ROOT / "params.yaml").model_dump(mode="json")  # as plain values
    config = {**params["model"], "estimator": "linear_svc", "C": 10.0}
    sets = {
        "test": contract.load_inquiries(ROOT / params["data"]["test"]),
        "robustness": contract.load_inquiries(ROOT / params["data"]["robustness"]),
    }
    if args.cache and args.cache.is_file():
        probabilities = dict(np.load(args.cache, allow_pickle=True))
    else:
        probabilities = fitted_probabilities(params, config, sets)
        if args.cache:
            np.savez(args.cache, **probabilities)
    cv = json.loads((ROOT / "benchmarks" / "calibration.json").read_text())
    temperatures = dict(zip(("topic", "urgency"), cv["sigmoid_temperatures"]))
    rows = []
    for variant in VARIANTS:
        classes = [probabilities[f"{variant}/classes/{head}"] for head in ("topic", "urgency")]
        for name, frame in sets.items():
            proba = {head: probabilities[f"{variant}/{name}/{head}"] for head in ("topic", "urgency")}
            if variant == "sigmoid_cv3+T":
                proba = {head: temper(p, temperatures[head]) for head, p in proba.items()}
            texts, deadlines = model.texts_and_deadlines(frame)
            predicted = model.probabilities_frame(
                classes, list(proba.values()), frame.index, texts=texts, deadlines=deadlines
            )
            quality = compute_metrics(frame, predicted)
            right = predicted[["topic", "urgency"]].to_numpy() == model.labels_of(frame)
            both = float(np.mean(right.all(axis=1)))
            rows.append(
                {
                    "variant": variant,
                    "set": name,
                    "topic_macro_f1": quality["topic_macro_f1"],
                    "urgency_macro_f1": quality["urgency_macro_f1"],
                    "high_urgency_recall": quality["high_urgency_recall"],
                    "both_right": round(both, 4),
                    **{
                        f"{head}_log_loss": round(float(log_loss(frame[head], proba[head], labels=labels)), 4)
                        for head, labels in zip(("topic", "urgency"), classes)
                    },
                    **calibration_metrics(frame, predicted),
                    "score_s": round(float(probabilities[f"{variant}/{name}/seconds"]), 4),
                }
            )
    table = pd.DataFrame(rows).set_index(["set", "variant"]).sort_index()
    print(table.to_string())
    args.out.write_text(
        json.dumps(
            {
                "config": {k: config[k] for k in ("estimator", "C", "features")},
                "sigmoid_temperatures": temperatures,
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
