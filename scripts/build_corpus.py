"""Assemble the hand-written corpus parts (data/raw/*.jsonl) into data/inquiries.csv and, once,
the frozen test split data/test.csv; and the robustness set's parts (data/robustness/raw/*.jsonl,
other writers, another brief, never trained on) into data/robustness.csv.

Ids are derived from each text's hash, and so are timestamps where the writer gave none (a writer
who names a date or a deadline gives `received_at`, since the label depends on it), so adding a part
never changes the records that were already there. Near-duplicates (char 5-gram Jaccard >= 0.8) keep
only the first. The test
split is drawn (stratified by topic × urgency) only when data/test.csv does not exist yet; after that
it is frozen, and its records are left out of the training file.

Labels: the writer's label (first pass), replaced by the adjudicated label where the independent
second pass (data/labels/second_pass.csv) disagreed (data/labels/adjudicated.csv).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from classifier.io.contract import near_duplicate_pairs, split

JST = timezone(timedelta(hours=9))
START = datetime(2026, 1, 5, 7, 0, tzinfo=JST)
COLUMNS = ["id", "received_at", "channel", "subject", "body", "topic", "urgency", "style", "source", "pii"]


def record_id(subject: str, body: str) -> str:
    return "inq-" + hashlib.sha256(f"{subject}\x1f{body}".encode()).hexdigest()[:12]


def received_at(rid: str, start: datetime = START, days: int = 300) -> str:
    """A deterministic arrival in `days` days from `start` (January to October 2026), 07:00-23:59 JST."""
    h = int(hashlib.sha256(rid.encode()).hexdigest(), 16)
    day, minute = h % days, (h // days) % (17 * 60)
    return (start + timedelta(days=day, minutes=minute)).isoformat()


def read_parts(
    raw_dir: Path, pattern: str = "*.jsonl", start: datetime = START, days: int = 300
) -> pd.DataFrame:
    rows = []
    for path in sorted(raw_dir.glob(pattern)):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                record["writer"] = path.stem.split("_")[0]
                rows.append(record)
    frame = pd.DataFrame(rows)
    frame["id"] = [record_id(s, b) for s, b in zip(frame["subject"], frame["body"])]
    given = frame["received_at"] if "received_at" in frame else pd.Series(None, index=frame.index)
    frame["received_at"] = [
        g if isinstance(g, str) and g else received_at(rid, start, days) for g, rid in zip(given, frame["id"])
    ]
    frame["source"] = "hand:" + frame["writer"]
    frame["pii"] = frame["pii"].map(lambda items: "|".join(items))
    return frame


def apply_adjudication(frame: pd.DataFrame, labels_dir: Path) -> pd.DataFrame:
    second = pd.read_csv(labels_dir / "second_pass.csv", dtype=str).set_index("id")
    decided = pd.read_csv(labels_dir / "adjudicated.csv", dtype=str).set_index("id")
    first = frame.set_index("id")[["topic", "urgency"]]
    unchecked = first.index.difference(second.index)
    if len(unchecked):
        raise SystemExit(
            f"{len(unchecked)} records have no second-pass label in {labels_dir}/second_pass.csv, "
            f"e.g. {list(unchecked[:5])}"
        )
    agree = (first["topic"] == second.loc[first.index, "topic"]) & (
        first["urgency"] == second.loc[first.index, "urgency"]
    )
    print(
        f"agreement of the two passes: {agree.mean():.2%} ({(~agree).sum()} disagreements, "
        f"{len(decided)} adjudicated)"
    )
    frame = frame.copy()
    final = frame["id"].map(decided["final_topic"]), frame["id"].map(decided["final_urgency"])
    frame["topic"] = final[0].fillna(frame["topic"])
    frame["urgency"] = final[1].fillna(frame["urgency"])
    return frame


def drop_near_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    texts = (frame["subject"] + " " + frame["body"]).tolist()
    later = {j for _, j, _ in near_duplicate_pairs(texts)}
    return frame.drop(frame.index[sorted(later)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--out", type=Path, default=Path("data/inquiries.csv"))
    parser.add_argument("--test", type=Path, default=Path("data/test.csv"))
    parser.add_argument("--labels", type=Path, default=Path("data/labels"))
    parser.add_argument("--test-size", type=int, default=620, help="rows of a new test split")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--robustness-raw", type=Path, default=Path("data/robustness/raw"))
    parser.add_argument("--robustness", type=Path, default=Path("data/robustness.csv"))
    args = parser.parse_args()
    frame = read_parts(args.raw).drop_duplicates("id")
    frame = drop_near_duplicates(frame.reset_index(drop=True))
    frame = apply_adjudication(frame, args.labels)
    if not args.test.exists():
        _, test = split(frame, args.test_size / len(frame), args.seed)
        test[["id"]].to_csv(args.test, index=False)
        print(f"froze {len(test)} inquiries → {args.test}")
    frozen = set(pd.read_csv(args.test, dtype=str)["id"])
    # The test split keeps its rows; its labels follow the adjudication like every other row.
    frame[frame["id"].isin(frozen)].sort_values("received_at")[COLUMNS].to_csv(args.test, index=False)
    frame = frame[~frame["id"].isin(frozen)]
    frame.sort_values("received_at")[COLUMNS].to_csv(args.out, index=False)
    print(f"{len(frame)} inquiries → {args.out}")
    if args.robustness_raw.is_dir():
        robust = drop_near_duplicates(
            read_parts(args.robustness_raw).drop_duplicates("id").reset_index(drop=True)
        )
        robust = apply_adjudication(robust, args.labels)
        # Independent writers can write the same short sentence ("ポイントっていつ付くの？"): a held-out
        # set must not contain what training reads, so such records leave the robustness set.
        labeled = pd.concat(
            [frame, pd.read_csv(args.test, dtype=str, keep_default_na=False)], ignore_index=True
        )
        texts = (labeled["subject"] + " " + labeled["body"]).tolist() + (
            robust["subject"] + " " + robust["body"]
        ).tolist()
        seen = {j - len(labeled) for i, j, _ in near_duplicate_pairs(texts) if i < len(labeled) <= j}
        robust = robust.drop(robust.index[sorted(seen)])
        robust.sort_values("received_at")[COLUMNS].to_csv(args.robustness, index=False)
        print(f"{len(robust)} inquiries → {args.robustness}")


if __name__ == "__main__":
    main()
