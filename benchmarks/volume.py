"""The volume corpus: any number of realistic inquiries recombined from the labeled corpus, for
throughput benchmarks and for checking that every way of scoring (CLI, pyfunc, Spark, REST) gives the
same answers at volume. Records carry only the corpus' own (written-for-the-project) texts.

Kept out of the package on purpose: the package is shipped with the registered model, and this
generator's sample names would be planted personal data there. Benchmarks import it from beside
them; tests add this folder to their path (tests/serving_support.py)."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from classifier.io import contract

ROOT = Path(__file__).resolve().parents[1]
JST = timezone(timedelta(hours=9))
NAMES = ("山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤")


def sentences(body: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[。！？\n])", body) if len(s.strip()) >= 6]


def volume_corpus(
    n: int, seed: int = 0, corpus_path: str | Path = ROOT / "data" / "inquiries.csv"
) -> pd.DataFrame:
    """n records recombined from the labeled corpus: the sentences of one inquiry (one of them left
    out now and then), up to two sentences of other inquiries with the same labels, and a random
    order number, date, name or phone; labelled like the inquiry. Each record keeps what made its
    inquiry's labels, so training on it is as hard as on real mail, not on label noise."""
    rng = random.Random(seed)
    corpus = contract.load_inquiries(corpus_path)
    inquiries = [
        (sentences(body) or [body], (topic, urgency))
        for body, topic, urgency in zip(corpus["body"], corpus["topic"], corpus["urgency"])
    ]
    by_label: dict[tuple[str, str], list[str]] = {}
    for parts, label in inquiries:
        by_label.setdefault(label, []).extend(parts)
    start = datetime(2026, 6, 1, 8, 0, tzinfo=JST)
    rows = []
    for i in range(n):
        parts, (topic, urgency) = rng.choice(inquiries)
        parts = list(parts)
        if len(parts) > 2 and rng.random() < 0.5:
            del parts[rng.randrange(1, len(parts))]
        parts += [rng.choice(by_label[(topic, urgency)]) for _ in range(rng.randint(0, 2))]
        parts.insert(
            rng.randint(0, len(parts)),
            rng.choice(
                [
                    f"注文番号 {rng.randint(20260101, 20261231)}-{rng.randint(0, 9999999):07d}",
                    f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日に注文しました。",
                    f"{rng.choice(NAMES)}と申します。",
                    f"電話 090-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                ]
            ),
        )
        rows.append(
            {
                "id": f"v{i:07d}",
                "received_at": (start + timedelta(minutes=7 * i)).isoformat(),
                "channel": "form",
                "subject": "",
                "body": "".join(parts),
                "topic": topic,
                "urgency": urgency,
            }
        )
    return pd.DataFrame(rows)
