"""Assemble the labeled drift batches from data/drift/raw/*.jsonl (hand-written for the drift tests,
never used in training): data/drift/yearend.csv (year-end season, new appliance category) and
data/drift/spring_new_writers.csv (the corpus's own season and assortment, written by people who did
not write the corpus). Texts that near-duplicate the corpus or each other are dropped."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
from build_corpus import COLUMNS, JST, drop_near_duplicates, read_parts
from classifier.data import near_duplicate_pairs

BATCHES = {
    "yearend": ("yearend_*.jsonl", datetime(2026, 11, 23, 7, 0, tzinfo=JST), 47),
    "spring_new_writers": ("same_*.jsonl", datetime(2026, 4, 6, 7, 0, tzinfo=JST), 56),
}


def main() -> None:
    raw = Path("data/drift/raw")
    corpus = pd.concat(
        [pd.read_csv(p, dtype=str, keep_default_na=False) for p in ("data/inquiries.csv", "data/test.csv")]
    )
    for name, (pattern, start, days) in BATCHES.items():
        frame = drop_near_duplicates(
            read_parts(raw, pattern, start, days).drop_duplicates("id").reset_index(drop=True)
        )
        texts = (frame["subject"] + " " + frame["body"]).tolist() + (
            corpus["subject"] + " " + corpus["body"]
        ).tolist()
        seen = {i for i, j, _ in near_duplicate_pairs(texts) if i < len(frame) <= j}
        frame = frame.drop(frame.index[sorted(seen)])
        frame["source"] = "drift:" + frame["writer"]
        frame.sort_values("received_at")[COLUMNS].to_csv(f"data/drift/{name}.csv", index=False)
        print(f"{name}: {len(frame)} inquiries ({len(seen)} dropped as near-duplicates of the corpus)")


if __name__ == "__main__":
    main()
