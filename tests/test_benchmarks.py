"""Smoke run of the benchmark suite on a few hundred records, so the suite never rots."""

import importlib.util
import json
import subprocess
import sys

from conftest import ROOT


def test_benchmark_suite_runs_and_writes_its_results(model_dir, tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--n",
            "300",
            "--eml",
            "60",
            "--train-sizes",
            "200",
            "--quick",
            "--model",
            str(model_dir),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["floor_docs_per_s"] > results["csv_single"]["docs_per_s"] > 0
    assert (
        min(results["floor_runs_docs_per_s"])
        <= results["floor_docs_per_s"]
        <= max(results["floor_runs_docs_per_s"])
    )
    assert 0 < results["ratio_single_to_floor"] < 1
    assert set(results["steps_seconds"]) >= {
        "read CSV",
        "parse mail",
        "normalize",
        "mask",
        "predict",
        "write CSV",
    }
    assert results["training"]["200"]["seconds"] > 0 and results["model_file_mb"] > 0
    # a process that loads the model holds at least the model's arrays
    assert results["csv_single"]["peak_memory_mb"] > results["model_file_mb"]
    assert "MeCab floor" in done.stdout and "cold start" in done.stdout


def test_peak_memory_is_what_the_child_holds_not_what_its_parent_held():
    spec = importlib.util.spec_from_file_location("benchmark_suite", ROOT / "benchmarks" / "run.py")
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    ballast = b"x" * (400 * 2**20)  # this process is large; a child must not inherit that in its figure
    small = suite.run_child("import json; print(json.dumps({}))")
    large = suite.run_child(
        "import json, time; block = b'x' * (300 * 2**20); time.sleep(1); print(json.dumps({}))"
    )
    assert small["peak_memory_mb"] < 100 < 300 <= large["peak_memory_mb"] < 400
    assert len(ballast) > 0
