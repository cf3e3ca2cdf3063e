"""Label-free accuracy estimates against measured accuracy, where the labels are known.

    python benchmarks/estimate.py                  # models/ from `dvc repro train`; ~3-6 min on 2 cores
    python benchmarks/estimate.py --skip-cv        # only the labeled batches (no cross-validation)

Sets: the robustness set (other writers, another brief), every drift batch of params.yaml, and the
folds of the writer-grouped cross-validation (the selected configuration cross-validated again; for
each fold the estimators are refitted on the other folds, so no fold is estimated by an estimator
that saw it). For each set and head: measured accuracy, each method's estimate, its interval, the
absolute error and whether the interval covers the measured value. The fitted estimator of the
model (models/reference.json, written by the training stage) is the one used on the labeled batches.

Prints one table and writes benchmarks/results/estimate.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

from classifier import model  # noqa: E402
from classifier.config import Config, load_config  # noqa: E402
from classifier.io import contract  # noqa: E402
from classifier.io.contract import LABEL_COLUMNS  # noqa: E402
from classifier.io.inputs import read_chunks  # noqa: E402
from classifier.monitoring import drift  # noqa: E402
from classifier.monitoring.estimate import METHODS, AccuracyEstimator, load_estimators  # noqa: E402
from classifier.serving.score import Scorer, run_batch  # noqa: E402
from classifier.training.select import cross_validate, folds_of  # noqa: E402


def scored_batch(scorer: Scorer, path: Path, sla: dict[str, Any], folder: Path) -> pd.DataFrame:
    """The batch scored as the drift stage scores it (input order, true labels alongside)."""
    out = folder / f"{path.stem}.csv"
    run_batch(scorer, read_chunks(path), out, sla, progress=False, csv_escape=False)
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    return frame[frame["topic"].ne("")]


def rows_for(
    set_name: str,
    head: str,
    confidence: np.ndarray,
    correct: np.ndarray,
    estimators: dict[str, AccuracyEstimator],
) -> list[dict[str, Any]]:
    measured = float(correct.mean())
    rows = []
    for label, estimator in estimators.items():
        result = estimator.estimate(confidence)
        rows.append(
            {
                "set": set_name,
                "head": head,
                "rows": len(confidence),
                "measured": round(measured, 4),
                "method": label,
                "estimated": round(result.point, 4),
                "interval": [round(result.low, 4), round(result.high, 4)],
                "abs_error": round(abs(result.point - measured), 4),
                "covers": result.covers(measured),
            }
        )
    return rows


def batch_rows(model_dir: Path, params: Config, folder: Path) -> list[dict[str, Any]]:
    profile, _ = drift.load_reference(model_dir)
    if "estimators" not in profile:
        raise SystemExit(f"{model_dir}: reference.json has no fitted estimators; run `dvc repro train` first")
    fitted = load_estimators(profile["estimators"])
    scorer = Scorer.load(model_dir)
    sets = {
        "robustness": params.path(params.data.robustness or "data/robustness.csv"),
        **{name: params.path(path) for name, path in params.drift.batches.items()},
    }
    rows = []
    for name, path in sets.items():
        frame = scored_batch(scorer, path, params.sla, folder)
        for head in LABEL_COLUMNS:
            confidence = frame[f"{head}_confidence"].astype(float).to_numpy()
            correct = (frame[f"true_{head}"] == frame[head]).to_numpy()
            # the baseline is what drift.performance reported before the fitted estimator existed
            estimators = {
                "mean confidence": METHODS["mean confidence"](level=fitted[head].level),
                **{f"{fitted[head].method} (model)": fitted[head]},
            }
            rows += rows_for(name, head, confidence, correct, estimators)
    return rows


def cv_rows(model_dir: Path, params: Config) -> list[dict[str, Any]]:
    """Re-run the writer-grouped CV of the selected configuration; estimate each fold from the others."""
    metadata = model.read_metadata(model_dir)
    config = {k: v for k, v in metadata["params"].items() if k not in ("temperatures", "high_threshold")}
    frame = contract.load_inquiries(params.path(params.data.train))
    selection = params.selection
    (result,) = cross_validate(
        frame, [config], selection.folds, params.seed, selection.group_by, params.augment.model_dump()
    )
    calibrated = [
        model.temper(p, t) for p, t in zip(result.probabilities, metadata["params"]["temperatures"])
    ]
    texts, deadlines = model.texts_and_deadlines(frame)
    oof = model.probabilities_frame(
        result.classes, calibrated, frame.index, metadata["params"]["high_threshold"], texts, deadlines
    )
    groups = frame[selection.group_by].to_numpy() if selection.group_by in frame else None
    folds = folds_of(frame, selection.folds, params.seed, selection.group_by)
    rows = []
    for k, (train_idx, valid_idx) in enumerate(folds):
        for head in LABEL_COLUMNS:
            confidence = oof[f"{head}_confidence"].to_numpy(dtype=float)
            correct = (frame[head] == oof[head]).to_numpy()
            fit_groups = groups[train_idx] if groups is not None else None
            estimators = {
                label: kind().fit(confidence[train_idx], correct[train_idx], fit_groups)
                for label, kind in METHODS.items()
            }
            writers = (
                ",".join(sorted(pd.unique(frame[selection["group_by"]].iloc[valid_idx])))
                if groups is not None
                else ""
            )
            rows += rows_for(
                f"cv fold {k + 1} ({writers})", head, confidence[valid_idx], correct[valid_idx], estimators
            )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'set':<44} {'head':<8} {'rows':>5} {'measured':>8}  {'method':<16} {'estimate':>8} "
        f"{'interval':>17} {'|error|':>7}  covers"
    )
    for r in rows:
        interval = f"[{r['interval'][0]:.3f}, {r['interval'][1]:.3f}]"
        print(
            f"{r['set'][:44]:<44} {r['head']:<8} {r['rows']:>5} {r['measured']:>8.3f}  {r['method']:<16} "
            f"{r['estimated']:>8.3f} {interval:>17} {r['abs_error']:>7.3f}  {'yes' if r['covers'] else 'NO'}"
        )


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    frame = pd.DataFrame(rows)
    frame["method"] = frame["method"].str.replace(" (model)", "", regex=False)
    out = []
    for method, part in frame.groupby("method", sort=False):
        out.append(
            {
                "method": method,
                "cases": len(part),
                "max_abs_error": round(float(part["abs_error"].max()), 4),
                "mean_abs_error": round(float(part["abs_error"].mean()), 4),
                "within_5_points": int((part["abs_error"] <= 0.05).sum()),
                "coverage": round(float(part["covers"].mean()), 3),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models")
    parser.add_argument("--skip-cv", action="store_true", help="only the labeled batches")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "estimate.json")
    args = parser.parse_args()
    params = load_config(ROOT / "params.yaml")
    with tempfile.TemporaryDirectory() as folder:
        rows = batch_rows(args.model, params, Path(folder))
    if not args.skip_cv:
        rows += cv_rows(args.model, params)
    print_table(rows)
    totals = summary(rows)
    print()
    for t in totals:
        print(
            f"{t['method']:<16} cases {t['cases']:>3}  max |error| {t['max_abs_error']:.3f}  mean |error| "
            f"{t['mean_abs_error']:.3f}  within 5 points {t['within_5_points']}/{t['cases']}  "
            f"coverage {t['coverage']:.2f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": platform.platform(),
        "python": sys.version.split()[0],
        "model": model.read_metadata(args.model).get("model_sha256", ""),
        "rows": rows,
        "summary": totals,
    }
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
