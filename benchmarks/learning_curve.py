"""Learning curve of a shop's own labels (issue 15 item 4): how fast the model learns a shop whose mail
differs from the corpus, with labels chosen at random or by `classifier suggest`.

The base model knows only the corpus's seven tidy writers (w01-w07, `--base-sources`), and by
default the shop is the mail of the five hard ones (w08-w12: real-customer register, smartphone
fragments, typos, kana-only, dialect): the situation of a shop whose customers write unlike the mail
the shipped model learned from. With --shop FILE the shop is a labeled file instead
(data/robustness.csv: three other writers in that register; the bundled year-end batch
data/drift/yearend.csv with `--base-sources all`: only 320 mails, so sizes past its pool take the
whole pool). A seeded 30% of the shop (`classifier.training.shop.split`, the same
rule as training's held-out slice) is the shop's test; the rest is the pool labels are drawn from.
For 0, 50, 100, 200, 400 labels, chosen (a) at random and (b) by `suggest` with the base model, each
with --seeds seeds, one fixed configuration is retrained on the base corpus plus those labeled mails
(weight `--shop-weight`) and scored on the shop's test. The in-distribution figure is the
base model on the frozen corpus test split's mails from the base corpus's writers. Prints a table,
writes benchmarks/results/learning_curve.json and benchmarks/results/learning_curve.png.

    python benchmarks/learning_curve.py [--seeds 5] [--base-sources all|hand:w01,...] \
        [--shop data/robustness.csv --out ...]
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
ROUND = 50  # mails labeled per round in the strategy that retrains between rounds
TIDY_WRITERS = ",".join(f"hand:w{n:02d}" for n in range(1, 8))
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
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--shop-weight", type=float, default=3.0)
    parser.add_argument(
        "--base-sources",
        default=TIDY_WRITERS,
        help="the corpus writers (source column) the base model knows, comma-separated; 'all' for all",
    )
    parser.add_argument(
        "--shop",
        type=Path,
        help="the shop's labeled file (default: the corpus mail of the other writers)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "learning_curve.json")
    args = parser.parse_args()
    if args.shop is None and args.base_sources == "all":
        parser.error("--base-sources all leaves no writers for the shop: name a labeled file with --shop")
    params = load_config(ROOT / "params.yaml")
    seed = params.seed
    config = {**params.model.model_dump(), "estimator": "logreg", "C": 10.0, "n_jobs": 1}
    inquiries = contract.load_inquiries(ROOT / "data" / "inquiries.csv")
    frozen = contract.load_inquiries(ROOT / "data" / "test.csv")
    if args.base_sources != "all":
        known = inquiries["source"].isin(args.base_sources.split(","))
        other_writers = inquiries[~known].reset_index(drop=True)
        inquiries = inquiries[known]
        frozen = frozen[frozen["source"].isin(args.base_sources.split(","))].reset_index(drop=True)
    if args.shop is None:
        shop_name = "the corpus mail of the writers the base model does not know"
        shop_mail = other_writers
    else:
        shop_name = args.shop.as_posix()
        shop_mail = contract.load_inquiries(ROOT / args.shop)
    corpus = corpus_sample(inquiries, args.corpus_rows, seed)
    pool, test = shop.split(shop_mail, 0.3, seed)
    started = time.perf_counter()
    base = fit(config, seed, corpus, pool.iloc[:0], args.shop_weight)
    in_distribution = scores(base, frozen)
    by_id = pool.set_index("id", drop=False)

    def trained_on(ids: list[str]):
        return fit(config, seed, corpus, by_id.loc[ids].reset_index(drop=True), args.shop_weight)

    def curve(ranked: np.ndarray) -> dict[int, dict[str, float]]:
        """The shop's scores after labeling the first n of the `ranked` ids, for each size."""
        return {size: scores(trained_on(list(ranked[:size])), test) for size in SIZES[1:]}

    def in_rounds(run: int) -> dict[int, dict[str, float]]:
        """Staff label ROUND mails at a time and retrain before the next `suggest`, which skips the
        mails labeled already (as `classifier suggest --store` does)."""
        labeled: list[str] = []
        current, result = base, {}
        for size in SIZES[1:]:
            while len(labeled) < min(size, len(pool)):
                rest = pool[~pool["id"].isin(labeled)].reset_index(drop=True)
                wanted = min(ROUND, size - len(labeled))
                labeled += suggest(current, rest, None, params.suggest, wanted, seed + run)[0]["id"].tolist()
                current = trained_on(labeled)
            result[size] = scores(current, test)
        return result

    rng, seeds = np.random.default_rng(seed), range(args.seeds)
    # Every strategy gets --seeds runs: suggest's diversity step clusters with a seed.
    runs: dict[str, list[dict[int, dict[str, float]]]] = {
        "random": [curve(rng.permutation(pool["id"].to_numpy())) for _ in seeds],
        "suggest": [
            curve(suggest(base, pool, None, params.suggest, SIZES[-1], seed + run)[0]["id"].to_numpy())
            for run in seeds
        ],
        f"suggest, rounds of {ROUND}": [in_rounds(run) for run in seeds],
    }
    base_scores = scores(base, test)
    rows = []
    for strategy, strategy_runs in runs.items():
        for size in SIZES:
            measured = [run[size] for run in strategy_runs] if size else [base_scores]
            mean = {k: round(float(np.mean([m[k] for m in measured])), 4) for k in KEYS}
            spread = round(float(np.std([m["topic_macro_f1"] for m in measured])), 4)
            rows.append(
                {
                    "strategy": strategy,
                    "labels": size,
                    "runs": len(measured),
                    **mean,
                    "topic_macro_f1_sd": spread,
                }
            )
            print(f"{strategy:22s} {size:4d} " + " ".join(f"{k}={mean[k]:.3f}" for k in KEYS), flush=True)
    start = base_scores["topic_macro_f1"]
    halfway = start + (in_distribution["topic_macro_f1"] - start) / 2

    def topic_f1(strategy: str, size: int) -> float:
        return next(r for r in rows if r["strategy"] == strategy and r["labels"] == size)["topic_macro_f1"]

    suggested = [s for s in runs if s != "random"]
    reaches = {s: topic_f1(s, 200) >= halfway for s in suggested}
    beats = {s: {size: topic_f1(s, size) > topic_f1("random", size) for size in SIZES[1:]} for s in suggested}
    result = {
        "shop": shop_name,
        "base_sources": args.base_sources,
        "shop_test_rows": len(test),
        "pool_rows": len(pool),
        "corpus_rows": len(corpus),
        "shop_weight": args.shop_weight,
        "seeds": args.seeds,
        "config": "logreg C=10 words+chars, no augmentation",
        "round": ROUND,
        "in_distribution": in_distribution,
        "in_distribution_rows": len(frozen),
        "rows": rows,
        "halfway_target_topic_macro_f1": round(halfway, 4),
        "reaches_halfway_at_200": reaches,
        "beats_random": beats,
        "seconds": round(time.perf_counter() - started, 1),
    }
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    print(
        f"in-distribution {in_distribution}; halfway target {halfway:.3f}; reached at 200 {reaches}; "
        f"above random {beats}"
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
