"""Validation stage: the labeled corpus, the frozen test split and the robustness set against the data
contract and the corpus rules (unique ids, no near-duplicates, no leakage from training into either
held-out set, label coverage).

The data tests assert the same checks; this stage writes them to reports/validation.json and fails
the pipeline before any training on bad data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from classifier.config import stage_arguments
from classifier.io import contract


def text_of(frame: pd.DataFrame) -> list[str]:
    return (frame["subject"] + " " + frame["body"]).tolist()


def leakage(train: pd.DataFrame, test: pd.DataFrame, threshold: float) -> list[dict[str, Any]]:
    """Pairs (train id, test id) of identical ids or near-duplicate texts across the splits."""
    texts = text_of(train) + text_of(test)
    n = len(train)
    pairs = [
        {"train": train["id"].iloc[i], "test": test["id"].iloc[j - n], "jaccard": round(s, 3)}
        for i, j, s in contract.near_duplicate_pairs(texts, threshold)
        if i < n <= j
    ]
    shared = set(train["id"]) & set(test["id"])
    return pairs + [{"train": i, "test": i, "jaccard": 1.0} for i in sorted(shared)]


def within(frame: pd.DataFrame, threshold: float) -> list[dict[str, Any]]:
    return [
        {"a": frame["id"].iloc[i], "b": frame["id"].iloc[j], "jaccard": round(s, 3)}
        for i, j, s in contract.near_duplicate_pairs(text_of(frame), threshold)
    ]


def counts(frame: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in contract.stratum(frame).value_counts().sort_index().items()}


def check(
    train_path: str | Path, test_path: str | Path, threshold: float, robustness_path: str | Path | None = None
) -> dict[str, Any]:
    report: dict[str, Any] = {"problems": []}
    paths = {
        "train": train_path,
        "test": test_path,
        **({"robustness": robustness_path} if robustness_path else {}),
    }
    frames = {}
    for name, path in paths.items():
        try:
            frames[name] = contract.load_inquiries(path)
        except contract.InquiryDataError as error:
            report["problems"] += [f"{error.path}: {p}" for p in error.problems]
    if len(frames) < len(paths):
        return report
    train = frames["train"]
    report["rows"] = {name: len(frame) for name, frame in frames.items()}
    report["counts"] = {name: counts(frame) for name, frame in frames.items()}
    report["near_duplicates"] = {name: within(frame, threshold) for name, frame in frames.items()}
    report["leakage"] = [
        {**pair, "set": name}
        for name, held_out in frames.items()
        if name != "train"
        for pair in leakage(train, held_out, threshold)
    ]
    for name, pairs in report["near_duplicates"].items():
        report["problems"] += [f"{name}: near-duplicates {p['a']} ~ {p['b']} ({p['jaccard']})" for p in pairs]
    report["problems"] += [
        f"leakage: train {p['train']} ~ {p['set']} {p['test']} ({p['jaccard']})" for p in report["leakage"]
    ]
    return report


def main() -> None:
    args, params = stage_arguments(__doc__, out=Path("reports/validation.json"))
    data = params.data
    robustness = params.path(data.robustness) if data.robustness else None
    report = check(params.path(data.train), params.path(data.test), data.near_duplicate_jaccard, robustness)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    if report["problems"]:
        print("\n".join(report["problems"][:50]), file=sys.stderr)
        sys.exit(f"validation failed: {len(report['problems'])} problem(s), see {args.out}")
    print(f"validation passed: {report['rows']}")


if __name__ == "__main__":
    main()
