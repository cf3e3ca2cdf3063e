"""The behaviour suite under writer-grouped cross-validation, to choose what makes the labeling rules
hold without looking at the frozen test split (whose suite the evaluation report shows).

Each variant overrides keys of params.yaml's `model` or `augment` section. For each writer-grouped
fold the variant's pipeline is fitted on the fold's training part (augmented, as in training) and the
suite is built from, and run on, the fold's validation part; pass rates are pooled over the folds.
`train.fraction=0.5` fits on a seeded, topic × urgency stratified half of each training part (before
augmentation), the validation part unchanged: the suite's pass rates against training size.
`--added-sources` keeps some writers out of the folds and adds their mail to every training part: what
new data adds, measured on the same folds and suites as without it.

    python scripts/behaviour_cv.py --variant 'svc:model.estimator=linear_svc' \
        --variant 'svc+ensemble:model.estimator=linear_svc,set.ensemble=true'

Prints a table and writes benchmarks/results/behaviour_cv.json.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from sklearn.model_selection import train_test_split

from classifier import model
from classifier.config import load_config
from classifier.evaluation.behaviour import run_suite, summary
from classifier.evaluation.metrics import compute_metrics
from classifier.io import contract
from classifier.io.contract import stratum
from classifier.training.augment import augmented_copies
from classifier.training.select import folds_of

ROOT = Path(__file__).resolve().parents[1]


def parse_variant(text: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """`name:section.key=value,section.key=value` (values read as YAML) into overrides by section."""
    name, _, assignments = text.partition(":")
    overrides: dict[str, dict[str, Any]] = {"model": {}, "augment": {}, "set": {}, "train": {}}
    for assignment in filter(None, assignments.split(",")):
        dotted, value = assignment.split("=", 1)
        section, key = dotted.split(".", 1)
        overrides[section][key] = yaml.safe_load(value)
    return name, overrides


def build(params: dict[str, Any], nested: dict[str, Any], seed: int) -> Any:
    """The pipeline of `params`, with each `nested` parameter set wherever its name ends a key of
    `get_params` (`set.ensemble=true` reaches the calibrated SVM's `ensemble`)."""
    pipeline = model.build_pipeline(params, seed)
    keys = pipeline.get_params(deep=True)
    return pipeline.set_params(
        **{key: value for name, value in nested.items() for key in keys if key.endswith(f"__{name}")}
    )


def subsample(training: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """A seeded share `fraction` of the rows, stratified by topic × urgency (all of them at 1)."""
    if fraction >= 1:
        return training
    part, _ = train_test_split(training, train_size=fraction, random_state=seed, stratify=stratum(training))
    return part


def fold_parts(
    frame: pd.DataFrame, folds: int, seed: int, fraction: float = 1.0, added: pd.DataFrame | None = None
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """(training part, validation part) of each writer-grouped fold of `frame`: the training part cut
    to `fraction` (`subsample`) and followed by the `added` rows, which no validation part holds."""
    for train_idx, valid_idx in folds_of(frame, folds, seed, "source"):
        training = subsample(frame.iloc[train_idx], fraction, seed)
        if added is not None:
            training = pd.concat([training, added], ignore_index=True)
        yield training, frame.iloc[valid_idx]


def run_variant(
    frame: pd.DataFrame,
    params: dict[str, Any],
    nested: dict[str, Any],
    augment: dict[str, float],
    folds: int,
    seed: int,
    fraction: float = 1.0,
    added: pd.DataFrame | None = None,
) -> dict[str, Any]:
    results, predictions = [], []
    for fold, (training, held_out) in enumerate(fold_parts(frame, folds, seed, fraction, added)):
        training = pd.concat([training, augmented_copies(training, augment, seed)], ignore_index=True)
        pipeline = model.fit(build(params, nested, seed), training)
        valid = held_out.reset_index(drop=True)
        predicted = model.predict(pipeline, valid)
        right = (predicted["topic"].eq(valid["topic"]) & predicted["urgency"].eq(valid["urgency"])).to_numpy()
        suite = run_suite(pipeline, valid, per_test=150, seed=fold)
        base_right = [bool(right[int(base)]) if pd.notna(base) else None for base in suite["base"]]
        results.append(suite.assign(fold=fold, base_right=base_right))
        predictions.append(predicted.set_index(held_out.index))
    oof = pd.concat(predictions).loc[frame.index]
    suites = pd.concat(results, ignore_index=True)
    return {
        "behaviour": summary(suites),
        "invariance_by_base": invariance_by_base(suites),
        "cv": compute_metrics(frame, oof),
    }


def invariance_by_base(suites: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The pooled invariance pass rate apart for the base mails the model answers right and wrong:
    whether the added sentences flip mails the model reads correctly, or mostly those it misreads."""
    cases = suites[suites["test"].str.endswith("_invariance")]
    return {
        ("right" if right else "wrong"): {
            "pass_rate": round(float(group["passed"].astype(bool).mean()), 4),
            "cases": len(group),
        }
        for right, group in cases.groupby("base_right")
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", action="append", required=True, help="name:section.key=value,...")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--added-sources",
        default="",
        help="writers (source values, comma-separated) kept out of every validation fold and added to "
        "every training part: what their mail adds, measured on the same folds and suites as without it",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "behaviour_cv.json")
    args = parser.parse_args()
    config = load_config(ROOT / "params.yaml")
    frame = contract.load_inquiries(ROOT / config.data.train)
    is_added = frame["source"].isin(list(filter(None, args.added_sources.split(","))))
    added = frame[is_added] if is_added.any() else None
    frame = frame[~is_added]
    report: dict[str, Any] = {}
    for text in args.variant:
        name, overrides = parse_variant(text)
        params = {**config.model.model_dump(), **overrides["model"]}
        augment = {**config.augment.model_dump(), **overrides["augment"]}
        report[name] = {
            "overrides": overrides,
            **run_variant(
                frame,
                params,
                overrides["set"],
                augment,
                args.folds,
                config.seed,
                overrides["train"].get("fraction", 1.0),
                added,
            ),
        }
        rates, cv = report[name]["behaviour"], report[name]["cv"]
        bases = report[name]["invariance_by_base"]
        print(
            f"{name:24} " + " ".join(f"{t[:12]}={r['pass_rate']:.3f}" for t, r in rates.items()),
            "| invariance, bases answered",
            " ".join(f"{k}={v['pass_rate']:.3f}" for k, v in bases.items()),
            f"| topic {cv['topic_macro_f1']:.4f} urgency {cv['urgency_macro_f1']:.4f}",
            flush=True,
        )
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")  # each variant kept


if __name__ == "__main__":
    main()
