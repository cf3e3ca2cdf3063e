"""Start-up cost of the command line: `classifier --help`, `--version` and `queue` beside bare Python
and `import pandas`, each the best of several runs in fresh processes, side by side in one run.

    python benchmarks/startup.py [--runs 7]

Prints a table and writes benchmarks/results/startup.json. Target (issue 16): `queue` and `--help`
under 0.5 s; as the machines are shared, the table also gives each as a ratio to `import pandas`,
which the command line no longer pays before a command needs it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "startup.json"
QUEUE = (
    "queue_position,id,received_at,urgency,topic,topic_confidence,urgency_confidence,route,due_by,colour,error\n"
    + "".join(f"{n},m{n},2026-11-18T10:00:00+09:00,low,usage,0.9,0.9,auto,,green,\n" for n in range(1, 201))
)


def best_of(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        queue = Path(folder) / "queue.csv"
        queue.write_text(QUEUE, encoding="utf-8")
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import pandas'": [sys.executable, "-c", "import pandas"],
            "classifier --help": [sys.executable, "-m", "classifier", "--help"],
            "classifier --version": [sys.executable, "-m", "classifier", "--version"],
            "classifier queue (200 rows)": [sys.executable, "-m", "classifier", "queue", str(queue)],
        }
        seconds = {name: best_of(command, args.runs) for name, command in commands.items()}
    pandas = seconds["python -c 'import pandas'"]
    print(f"{'command':32} {'best s':>8} {'/ import pandas':>16}")
    for name, value in seconds.items():
        print(f"{name:32} {value:8.3f} {value / pandas:16.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": args.runs, "seconds": seconds}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
