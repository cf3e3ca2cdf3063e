"""Throughput of Spark batch scoring beside the CLI on the same records: `classifier score` with one
process and with `--jobs 2`, then `classifier spark-score` on `local[1]` and `local[2]`, each a fresh
process timed from start to a written output (so Spark's JVM start and the CLI's model load count).
The Spark output is checked against the CLI's (identical answers but `model_version`).

    python benchmarks/spark.py --model models --n 100000
    python benchmarks/spark.py --model models --n 1000000 --out benchmarks/results/spark_1m.json

Prints a table and writes benchmarks/results/spark.json. Needs Java and the `spark` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COLUMNS = ["id", "received_at", "channel", "subject", "body"]


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        },
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:3])}: exit {done.returncode}\n{done.stderr[-3000:]}{done.stdout[-2000:]}"
        )
    return seconds, done.stdout


def same_answers(cli: Path, spark: Path) -> int:
    """Rows that differ between two outputs, `model_version` aside."""
    left = pd.read_parquet(cli).drop(columns="model_version").astype(object)
    right = pd.read_parquet(spark).drop(columns="model_version").astype(object)
    left, right = left.where(left.notna(), None), right.where(right.notna(), None)
    if len(left) != len(right):
        return abs(len(left) - len(right)) or len(left)
    return int((left.values != right.values).any(axis=1).sum())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models", help="trained model directory")
    parser.add_argument("--n", type=int, default=100_000, help="volume records")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "spark.json")
    args = parser.parse_args()

    from volume import volume_corpus  # beside this script

    model = str(args.model.resolve())
    results: dict = {
        "records": args.n,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="spark-bench-", dir=ROOT) as scratch:
        folder = Path(scratch)
        source = folder / "volume.parquet"
        volume_corpus(args.n, seed=11)[COLUMNS].to_parquet(source, index=False)
        runs = {
            "classifier score, 1 process": [
                str(BIN / "classifier"),
                "score",
                str(source),
                "-o",
                str(folder / "cli1.parquet"),
                "--model",
                model,
                "--jobs",
                "1",
                "--show",
                "0",
            ],
            "classifier score --jobs 2": [
                str(BIN / "classifier"),
                "score",
                str(source),
                "-o",
                str(folder / "cli2.parquet"),
                "--model",
                model,
                "--jobs",
                "2",
                "--show",
                "0",
            ],
            "spark-score local[1]": [
                str(BIN / "classifier"),
                "spark-score",
                str(source),
                "-o",
                str(folder / "spark1.parquet"),
                "--master",
                "local[1]",
                "--model",
                model,
            ],
            "spark-score local[2]": [
                str(BIN / "classifier"),
                "spark-score",
                str(source),
                "-o",
                str(folder / "spark2.parquet"),
                "--master",
                "local[2]",
                "--model",
                model,
            ],
        }
        for name, command in runs.items():
            seconds, printed = timed(command)
            results["runs"][name] = {
                "seconds": round(seconds, 1),
                "records_per_s": round(args.n / seconds, 1),
            }
            if steps := re.search(
                r"; ([\d.]+)s \(scoring ([\d.]+)s, batch decisions ([\d.]+)s\)", " ".join(printed.split())
            ):
                results["runs"][name].update(
                    zip(
                        ("inside_seconds", "score_step_seconds", "decisions_step_seconds"),
                        map(float, steps.groups()),
                    )
                )
            print(f"{name}: {seconds:.1f}s", flush=True)
        results["rows_differing_spark_vs_cli"] = same_answers(
            folder / "cli2.parquet", folder / "spark2.parquet"
        )
    base = results["runs"]["classifier score, 1 process"]["seconds"]
    for figures in results["runs"].values():
        figures["speed_vs_one_process"] = round(base / figures["seconds"], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\n{args.n:,} volume records, wall time from process start to written output:")
    print(f"{'':32} {'seconds':>9} {'records/s':>10} {'× 1 process':>12}")
    for name, figures in results["runs"].items():
        print(
            f"{name:32} {figures['seconds']:9.1f} {figures['records_per_s']:10.1f} "
            f"{figures['speed_vs_one_process']:12.2f}"
        )
    print(f"rows where Spark's answer differs from the CLI's: {results['rows_differing_spark_vs_cli']}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
