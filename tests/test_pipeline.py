"""The DVC pipeline, run as a user runs it: `dvc repro` in a fresh git repository with no DVC remote,
on a small copy of the data, then again (nothing to do), `dvc metrics show` and `dvc exp run -S`."""

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import ROOT, as_yaml, sample
from personal_data import leaks, personal_values

BIN = Path(sys.executable).parent


def sh(*args, cwd, env):
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory, small_params, corpus, test_split, robustness):
    folder = tmp_path_factory.mktemp("dvc_repo")
    shutil.copy(ROOT / "dvc.yaml", folder)
    shutil.copytree(ROOT / "src", folder / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (folder / "data").mkdir()
    shutil.copytree(ROOT / "data" / "new", folder / "data" / "new")
    sample(corpus, 300).to_csv(folder / "data" / "inquiries.csv", index=False)
    sample(test_split, 120).to_csv(folder / "data" / "test.csv", index=False)
    sample(robustness, 100).to_csv(folder / "data" / "robustness.csv", index=False)
    (folder / "benchmarks" / "results").mkdir(parents=True)  # the learning curve the report shows
    for result in ("learning_curve.json", "learning_curve.png"):
        shutil.copy(ROOT / "benchmarks" / "results" / result, folder / "benchmarks" / "results" / result)
    (folder / "data" / "shop").mkdir()  # the shop's labeled store: none yet, as in a new project
    (folder / "data" / "shop" / ".gitkeep").touch()
    (folder / "data" / "drift").mkdir()
    for batch in ("yearend.csv", "spring_new_writers.csv"):
        shutil.copy(ROOT / "data" / "drift" / batch, folder / "data" / "drift" / batch)
    params = as_yaml(small_params)
    params["data"].update(train="data/inquiries.csv", test="data/test.csv", robustness="data/robustness.csv")
    (folder / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.jp",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.jp",
    }
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        done = sh(*command, cwd=folder, env=env)
        assert done.returncode == 0, done.stderr
    shutil.copy(ROOT / ".dvc" / "config", folder / ".dvc" / "config")  # the project's remote
    (folder / ".gitignore").write_text("mlflow.db\nmlruns/\n/models\n/.dvc-storage/\n")
    for command in (["git", "add", "-A"], ["git", "commit", "-qm", "fixture"]):
        done = sh(*command, cwd=folder, env=env)
        assert done.returncode == 0, done.stderr
    first = sh("dvc", "repro", cwd=folder, env=env)
    return folder, env, first


def test_repro_runs_every_stage_in_a_fresh_repository(repo):
    folder, _, first = repo
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for stage in ("validate", "train", "evaluate", "register", "score_sample", "drift"):
        assert f"Running stage '{stage}'" in first.stdout
    for output in (
        "models/model.skops",
        "models/reference.json",
        "reports/metrics.json",
        "reports/evaluation.md",
        "reports/sample_queue.csv",
        "reports/drift/year_end.json",
    ):
        assert (folder / output).is_file(), output


def test_second_repro_only_registers_again_and_keeps_the_version(repo):
    folder, env, _ = repo
    versions = registered_versions(folder, env)
    again = sh("dvc", "repro", cwd=folder, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert [line for line in again.stdout.splitlines() if line.startswith("Running stage")] == [
        "Running stage 'register':"
    ]
    assert registered_versions(folder, env) == versions == ["1"]


def registered_versions(folder: Path, env: dict[str, str]) -> list[str]:
    listing = sh(
        sys.executable,
        "-c",
        "import mlflow; print(*sorted(v.version for v in "
        "mlflow.MlflowClient().search_model_versions(\"name = 'inquiry-triage'\")))",
        cwd=folder,
        env=env,
    )
    assert listing.returncode == 0, listing.stderr[-2000:]
    return listing.stdout.split()


def test_a_fresh_clone_reproduces_the_lock_and_is_clean_after_repro(repo, tmp_path):
    # What `make run` does on a new machine: the clone has no models (no DVC cache, no remote) and an
    # empty MLflow store, so everything runs again; the committed lock and outputs must come out the same.
    folder, env, _ = repo
    for command in (["git", "add", "-A"], ["git", "commit", "-qm", "after repro"]):
        assert sh(*command, cwd=folder, env=env).returncode == 0
    clone = tmp_path / "clone"
    assert sh("git", "clone", "-q", str(folder), str(clone), cwd=tmp_path, env=env).returncode == 0
    clone_env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{clone / 'mlflow.db'}"}
    done = sh("dvc", "repro", cwd=clone, env=clone_env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Running stage 'train'" in done.stdout
    assert sh("git", "status", "--porcelain", cwd=clone, env=env).stdout == ""
    assert registered_versions(clone, clone_env) == ["1"]


def test_push_to_the_project_remote_and_pull_into_a_clone_instead_of_training(repo, tmp_path):
    folder, env, _ = repo
    for command in (["git", "add", "-A"], ["git", "commit", "-qm", "outputs"]):
        sh(*command, cwd=folder, env=env)
    pushed = sh("dvc", "push", cwd=folder, env=env)
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    assert any((folder / ".dvc-storage").rglob("*")), "nothing pushed to the project's remote"
    clone = tmp_path / "pulled"
    assert sh("git", "clone", "-q", str(folder), str(clone), cwd=tmp_path, env=env).returncode == 0
    # A team's clone points the remote at the shared folder, outside git (.dvc/config.local).
    remote = sh(
        "dvc",
        "remote",
        "modify",
        "--local",
        "storage",
        "url",
        str(folder / ".dvc-storage"),
        cwd=clone,
        env=env,
    )
    assert remote.returncode == 0, remote.stderr
    pulled = sh("dvc", "pull", cwd=clone, env=env)
    assert pulled.returncode == 0, pulled.stderr[-2000:]
    assert (clone / "models" / "model.skops").read_bytes() == (folder / "models" / "model.skops").read_bytes()
    status = sh("dvc", "status", "train", cwd=clone, env=env)
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout


def test_metrics_and_plots_show(repo):
    folder, env, _ = repo
    metrics = sh("dvc", "metrics", "show", cwd=folder, env=env)
    assert metrics.returncode == 0 and "model.topic_macro_f1" in metrics.stdout
    plots = sh("dvc", "plots", "show", "--out", str(folder / "plots"), cwd=folder, env=env)
    assert plots.returncode == 0 and (folder / "plots" / "index.html").is_file()


def test_experiment_with_a_changed_parameter(repo):
    folder, env, _ = repo
    sh("git", "add", "-A", cwd=folder, env=env)
    sh("git", "commit", "-qm", "first run", cwd=folder, env=env)
    run = sh("dvc", "exp", "run", "-S", "routing.target_accuracy=0.9", cwd=folder, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Running stage 'train'" in run.stdout
    shown = sh("dvc", "exp", "show", "--csv", cwd=folder, env=env)
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert {"0.9", "0.95"} <= {row["routing.target_accuracy"] for row in rows}


def test_no_personal_data_in_any_artifact_of_the_pipeline_or_a_scored_batch(repo):
    # Every personal value the corpus records (names a word at a time, phones, mail addresses, cards,
    # addresses, order numbers) searched in all that `dvc repro` wrote, the model's vocabulary
    # included, and in a batch scored with the model's tokens (--drift-columns) and its drift report.
    folder, env, _ = repo
    scored = folder / "scored" / "test.csv"
    scored.parent.mkdir()
    run = sh(
        "classifier",
        "score",
        "data/test.csv",
        "-o",
        str(scored),
        "--model",
        "models",
        "--drift-columns",
        "--show",
        "0",
        cwd=folder,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    drift = sh("classifier", "drift", "--current", str(scored), "--reference", "models", cwd=folder, env=env)
    assert drift.returncode in (0, 1), drift.stderr[-2000:]
    frames = [
        pd.read_csv(folder / "data" / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in ("inquiries", "test", "robustness")
    ]
    values = personal_values(frames)
    assert len(values) > 200
    found = leaks(values, [folder / "models", folder / "reports", folder / "mlruns", folder / "scored"])
    assert found == []
