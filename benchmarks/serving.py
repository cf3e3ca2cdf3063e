"""Latency of one mail over HTTP, warm: `classifier serve` beside `mlflow models serve` (the same model,
the same requests, one after the other on one keep-alive connection), plus the pyfunc called in
process (no HTTP) as the floor. Target (issue 14): p99 < 50 ms for one mail on this machine.

    python benchmarks/serving.py --model models            # a trained model directory (make run)
    python benchmarks/serving.py --model models --requests 100

The model directory is logged as the pyfunc into a temporary MLflow store (SQLite), so both servers
serve the same files. Prints a table and writes benchmarks/results/serving.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COLUMNS = ["id", "received_at", "channel", "subject", "body"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def register(model_dir: Path, store: Path) -> str:
    """The model directory logged as the project's pyfunc and registered in a fresh store; its URI."""
    import mlflow

    from classifier import model
    from classifier.config import load_config
    from classifier.model import tracking

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store / 'mlflow.db'}"
    tracking.configure()
    with mlflow.start_run(run_name="benchmark"):
        uri = tracking.log_model(
            model_dir, model.read_metadata(model_dir), load_config(ROOT / "params.yaml").sla
        )
    version = mlflow.register_model(uri, "inquiry-triage")
    return f"models:/inquiry-triage/{version.version}"


def start(command: list[str], port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited: {log.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{command[0]} did not answer in 300 s")


def latencies(port: int, bodies: list[bytes], warmup: int) -> list[float]:
    """Milliseconds per request (send to full answer); the first `warmup` requests are not measured."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    timings = []
    for number, body in enumerate(bodies):
        started = time.perf_counter()
        connection.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        content = answer.read()
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status != 200:
            raise RuntimeError(f"status {answer.status}: {content[:300]!r}")
        if number >= warmup:
            timings.append(elapsed)
    connection.close()
    return timings


def summary(timings: list[float]) -> dict[str, float]:
    values = np.asarray(timings)
    return {
        "requests": len(values),
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p90_ms": round(float(np.percentile(values, 90)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "max_ms": round(float(values.max()), 2),
        "mean_ms": round(float(values.mean()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models", help="trained model directory")
    parser.add_argument("--requests", type=int, default=500, help="measured requests per server")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serving.json")
    args = parser.parse_args()

    import mlflow
    from volume import volume_corpus  # beside this script

    mails = volume_corpus(args.requests + args.warmup, seed=5)[COLUMNS]
    rows = [mails.iloc[i : i + 1] for i in range(len(mails))]
    bodies = [
        json.dumps(
            {"dataframe_split": {"columns": COLUMNS, "data": row.values.tolist()}}, ensure_ascii=False
        ).encode()
        for row in rows
    ]
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "one_mail_chars_mean": round(float(mails["body"].str.len().mean()), 1),
        "target_p99_ms": 50,
    }
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as scratch:
        store = Path(scratch)
        uri = register(args.model.resolve(), store)
        pyfunc = mlflow.pyfunc.load_model(uri)
        for row in rows[: args.warmup]:
            pyfunc.predict(row)
        timings = []
        for row in rows[args.warmup :]:
            started = time.perf_counter()
            pyfunc.predict(row)
            timings.append((time.perf_counter() - started) * 1000)
        results["pyfunc in process (no HTTP)"] = summary(timings)
        servers = {
            "classifier serve": [
                str(BIN / "classifier"),
                "serve",
                "--model",
                uri,
                "--params",
                str(ROOT / "params.yaml"),
                "--port",
            ],
            "mlflow models serve": [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                uri,
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
            ],
        }
        for name, command in servers.items():
            port = free_port()
            started = time.perf_counter()
            process = start([*command, str(port)], port, store / f"{name.split()[0]}.log")
            ready = time.perf_counter() - started
            try:
                results[name] = {
                    **summary(latencies(port, bodies, args.warmup)),
                    "start_seconds": round(ready, 1),
                }
            finally:
                process.terminate()
                process.wait(timeout=30)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"one mail per request, warm, {args.requests} requests after {args.warmup} unmeasured (ms):")
    print(f"{'':32} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}  p99 < 50 ms")
    for name in ("pyfunc in process (no HTTP)", "classifier serve", "mlflow models serve"):
        figures = results[name]
        print(
            f"{name:32} {figures['p50_ms']:8.1f} {figures['p90_ms']:8.1f} "
            f"{figures['p99_ms']:8.1f} {figures['max_ms']:8.1f}"
            f"  {'yes' if figures['p99_ms'] < 50 else 'no'}"
        )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
