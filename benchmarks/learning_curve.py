"""Learning curve of a shop's own labels (issue 15 item 4): how fast the model learns a shop whose mail
differs from the corpus, with labels chosen at random or by `classifier suggest`.

The shop is the robustness set (data/robustness.csv: other writers, real-customer register, true
labels) or, with --shop, the bundled year-end batch (data/drift/yearend.csv: only 320 mails, so
sizes past its pool take the whole pool). A seeded 30% of it (`classifier.training.shop.split`, the
same rule as training's held-out slice) is the shop's test; the rest is the pool labels are drawn
from. For 0, 50, 100, 200, 400 labels, chosen (a) at random (several seeds) and (b) by `suggest` run
once with the base model, one fixed configuration is retrained on a corpus sample plus those labeled
mails (weight `--shop-weight`), and scored on the shop's test. The in-distribution figure is the
base model on the frozen corpus test split. Prints a table, writes
benchmarks/results/learning_curve.json and benchmarks/results/learning_curve.png.

    python benchmarks/learning_curve.py [--corpus-rows 4000] [--seeds 2] \
        [--shop data/drift/yearend.csv --out ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from classifier import model
from classifier.config import load_config
from classifier.evaluation.metrics import compute_metrics
from classifier.io import contract
from classifier.monitoring.suggest import suggest
from classifier.training import shop

ROOT = Path(__file__).resolve().parents[1]
SIZES = (0, 50, 100, 200, 400)
KEYS = ("topic_macro_f1", "urgency_macro_f1", "high_urgency_recall")


def corpus_sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    share = min(1.0, n / len(frame))
    return frame.groupby(contract.stratum(frame), group_keys=False).sample(frac=share, random_state=seed)


def fit(config: dict, seed: int, corpus: pd.DataFrame, labeled: pd.DataFrame, weight: float):
    frame = shop.combined(corpus, labeled) if len(labeled) else corpus
    weights = shop.weights(frame, weight) if len(labeled) else None
    return model.fit(model.build_pipeline(config, seed), frame, weights)


def scores(pipeline, test: pd.DataFrame) -> dict[str, float]:
    metrics = compute_metrics(test, model.predict(pipeline, test))
    return {k: round(float(metrics[k]), 4) for k in KEYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-rows", type=int, default=4000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--shop-weight", type=float, default=3.0)
    parser.add_argument(
        "--shop",
        type=Path,
        default=Path("data/robustness.csv"),
        help="the simulated shop's labeled mail (data/robustness.csv or data/drift/yearend.csv)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "learning_curve.json")
    args = parser.parse_args()
    params = load_config(ROOT / "params.yaml")
    seed = params.seed
    config = {**params.model.model_dump(), "estimator": "logreg", "C": 10.0, "n_jobs": 1}
    corpus = corpus_sample(contract.load_inquiries(ROOT / "data" / "inquiries.csv"), args.corpus_rows, seed)
    shop_mail = contract.load_inquiries(ROOT / args.shop)
    pool, test = shop.split(shop_mail, 0.3, seed)
    started = time.perf_counter()
    base = fit(config, seed, corpus, pool.iloc[:0], args.shop_weight)
    in_distribution = scores(base, contract.load_inquiries(ROOT / "data" / "test.csv"))
    picks = suggest(base, pool, None, params.suggest, max(SIZES), seed)[0]["id"].tolist()
    by_id = pool.set_index("id", drop=False)
    rows = []
    for size in SIZES:
        chosen = {"suggest": [picks[:size]]}
        rng = np.random.default_rng(seed)
        chosen["random"] = [list(rng.permutation(pool["id"].to_numpy())[:size]) for _ in range(args.seeds)]
        for strategy, draws in chosen.items():
            runs = (
                [
                    scores(
                        fit(config, seed, corpus, by_id.loc[ids].reset_index(drop=True), args.shop_weight),
                        test,
                    )
                    for ids in draws
                ]
                if size
                else [scores(base, test)]
            )
            mean = {k: round(float(np.mean([r[k] for r in runs])), 4) for k in KEYS}
            rows.append({"strategy": strategy, "labels": size, "runs": len(runs), **mean})
            print(f"{strategy:8s} {size:4d} " + " ".join(f"{k}={mean[k]:.3f}" for k in KEYS), flush=True)
    start = rows[0]["topic_macro_f1"]
    halfway = start + (in_distribution["topic_macro_f1"] - start) / 2
    at_200 = next(r for r in rows if r["strategy"] == "suggest" and r["labels"] == 200)["topic_macro_f1"]
    beats = {
        s: next(r for r in rows if r["strategy"] == "suggest" and r["labels"] == s)["topic_macro_f1"]
        > next(r for r in rows if r["strategy"] == "random" and r["labels"] == s)["topic_macro_f1"]
        for s in SIZES
        if s
    }
    result = {
        "shop": args.shop.as_posix(),
        "shop_test_rows": len(test),
        "pool_rows": len(pool),
        "corpus_rows": len(corpus),
        "shop_weight": args.shop_weight,
        "random_seeds": args.seeds,
        "config": "logreg C=10 words+chars, no augmentation",
        "in_distribution": in_distribution,
        "rows": rows,
        "halfway_target_topic_macro_f1": round(halfway, 4),
        "suggest_200_reaches_halfway": bool(at_200 >= halfway),
        "suggest_beats_random": beats,
        "seconds": round(time.perf_counter() - started, 1),
    }
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    print(
        f"in-distribution {in_distribution}; halfway target {halfway:.3f}; suggest@200 {at_200:.3f}; "
        f"suggest beats random {beats}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    figure, axes = plt.subplots(1, len(KEYS), figsize=(12, 3.5))
    for axis, key in zip(axes, KEYS):
        for strategy, part in table.groupby("strategy"):
            axis.plot(part["labels"], part[key], marker="o", label=strategy)
        axis.axhline(in_distribution[key], linestyle="--", color="grey", label="in-distribution")
        axis.set_title(key)
        axis.set_xlabel("shop labels added")
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(args.out.with_suffix(".png"), dpi=100)


if __name__ == "__main__":
    main()
