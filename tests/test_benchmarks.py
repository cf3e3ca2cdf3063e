"""Smoke run of the benchmark suite on a few hundred records, so the suite never rots."""

import json
import subprocess
import sys

from conftest import ROOT


def test_benchmark_suite_runs_and_writes_its_results(model_dir, tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--n", "300", "--eml", "60", "--train-sizes", "200",
         "--quick", "--model", str(model_dir), "--out", str(out)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["floor_docs_per_s"] > results["csv_single"]["docs_per_s"] > 0
    assert 0 < results["ratio_single_to_floor"] < 1
    assert set(results["steps_seconds"]) >= {"read CSV", "parse mail", "normalize", "mask", "predict", "write CSV"}
    assert results["training"]["200"]["seconds"] > 0 and results["model_file_mb"] > 0
    assert "MeCab floor" in done.stdout and "cold start" in done.stdout
