"""The command line, run as a user runs it: a subprocess of the installed console script."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from conftest import ROOT

CLI = [sys.executable, "-m", "classifier"]


def run(*args, cwd):
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{Path(cwd) / 'mlflow.db'}"}
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)


def test_train_then_score_from_the_command_line(tmp_path, small_params, small_data):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(small_params))
    trained = run("train", "--data", small_data["train"], "--out", "models", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "models" / "model.joblib").is_file()
    sample = ROOT / "data" / "sample" / "inbox.csv"
    scored = run("score", sample, "-o", "queue.csv", "--model", "models", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    queue = pd.read_csv(tmp_path / "queue.csv", dtype=str, keep_default_na=False)
    assert len(queue) == len(pd.read_csv(sample))
    assert set(queue["colour"]) == {"red", "orange", "green"}
    assert "Triage queue" in scored.stdout
    assert f"{len(queue)} records → queue.csv" in scored.stdout
    assert set(queue["route"]) <= {"auto", "review"}
    shown = run("queue", "queue.csv", cwd=tmp_path)
    assert shown.returncode == 0 and queue.loc[0, "id"] in shown.stdout


def test_score_without_a_model_fails_with_a_clear_message(tmp_path):
    result = run("score", ROOT / "data" / "sample" / "inbox.csv", "-o", "q.csv", "--model", "nowhere", cwd=tmp_path)
    assert result.returncode == 2
    assert "train a model first" in result.stdout
    assert not Path(tmp_path / "q.csv").exists()


def test_train_on_invalid_data_names_the_row(tmp_path):
    bad = tmp_path / "bad.csv"
    frame = pd.read_csv(ROOT / "data" / "inquiries.csv", dtype=str, keep_default_na=False).head(5)
    frame.loc[2, "urgency"] = "asap"
    frame.to_csv(bad, index=False)
    result = run("train", "--data", bad, "--out", "m", "--params", ROOT / "params.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "row 3, field 'urgency': unknown value 'asap'" in result.stdout
