"""REST: `mlflow models serve -m models:/inquiry-triage@champion` and `classifier serve`, each started as
a real server on 127.0.0.1 against the fixtures' SQLite registry, answer the serving input example and
give the same answers as `classifier score` on the sample inbox and on 10k volume records."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from conftest import ROOT
from serving_support import assert_same_answers, cli_score, free_port, inbox_rows, volume_corpus

from classifier.serving.score import OUTPUT_COLUMNS

CHAMPION = "models:/inquiry-triage@champion"
BIN = Path(sys.executable).parent


def request(url: str, payload: dict | None = None, timeout: float = 300) -> tuple[int, dict | str]:
    """Status and JSON answer (text when it is none: MLflow's /ping answers a newline)."""
    data = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
    sent = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as answer:
            status, content = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, content = error.code, error.read()
    try:
        return status, json.loads(content)
    except ValueError:
        return status, content.decode(errors="replace")


def split(frame: pd.DataFrame) -> dict:
    return {"dataframe_split": {"columns": list(frame.columns), "data": frame.astype(object).values.tolist()}}


def answers(body: dict) -> pd.DataFrame:
    return pd.DataFrame(body["predictions"], columns=list(OUTPUT_COLUMNS))


def start(command: list[str], env: dict, port: int, log: Path) -> subprocess.Popen:
    """A server process, once it answers its health check (it dies with a test failure otherwise)."""
    process = subprocess.Popen(
        command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=log.parent
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}: {log.read_text()[-3000:]}")
        try:
            if request(f"http://127.0.0.1:{port}/ping", timeout=5)[0] == 200:
                return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise AssertionError(f"server did not answer in 240 s: {log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def env(tracked_run):
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tracked_run['folder'] / 'mlflow.db'}",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "OMP_NUM_THREADS": "1",
    }


@pytest.fixture(scope="module")
def expected(env, tmp_path_factory):
    """`classifier score` answers on the sample inbox and on 10k volume records, with their rows."""
    folder = tmp_path_factory.mktemp("rest_expected")
    inbox = inbox_rows(ROOT / "data" / "new")
    volume = volume_corpus(10_000, seed=3)[["id", "received_at", "channel", "subject", "body"]]
    volume.to_parquet(folder / "volume.parquet", index=False)
    previous = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
        result = {
            "inbox": (inbox, cli_score(ROOT / "data" / "new", folder / "inbox.parquet", CHAMPION)),
            "volume": (
                volume,
                cli_score(folder / "volume.parquet", folder / "volume_scored.parquet", CHAMPION),
            ),
        }
    mlflow.set_tracking_uri(previous)
    return result


@pytest.fixture(scope="module", params=["mlflow", "classifier"])
def server(request, env, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp(f"server_{request.param}") / "server.log"
    if request.param == "mlflow":
        command = [
            str(BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            CHAMPION,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ]
    else:
        command = [
            str(BIN / "classifier"),
            "serve",
            "--model",
            CHAMPION,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--params",
            str(ROOT / "params.yaml"),
        ]
    process = start(command, env, port, log)
    yield {"url": f"http://127.0.0.1:{port}", "kind": request.param, "log": log}
    process.terminate()
    process.wait(timeout=30)


def test_the_serving_input_example_is_answered(server, env, tmp_path):
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=CHAMPION, dst_path=str(tmp_path), tracking_uri=env["MLFLOW_TRACKING_URI"]
        )
    )
    example = json.loads((local / "serving_input_example.json").read_text())
    status, body = request(f"{server['url']}/invocations", example)
    assert status == 200, body
    answered = answers(body)
    assert len(answered) == 1 and answered.loc[0, "error"] == "" and answered.loc[0, "topic"]
    assert answered.loc[0, "colour"] in ("red", "orange", "green")


@pytest.mark.parametrize("batch", ["inbox", "volume"])
def test_rest_answers_as_the_cli(server, expected, batch):
    rows, scored = expected[batch]
    status, body = request(f"{server['url']}/invocations", split(rows))
    assert status == 200, body
    assert_same_answers(scored, answers(body))


def test_bad_requests_are_answered_not_crashed(server):
    status, body = request(
        f"{server['url']}/invocations",
        {"dataframe_split": {"columns": ["id", "body"], "data": [["a", ""], ["b", None]]}},
    )
    assert status == 200
    assert all("body" in row["error"] for row in body["predictions"])
    status, _ = request(f"{server['url']}/invocations", {"rows": []})
    assert status == 400
    assert request(f"{server['url']}/ping")[0] == 200
    # nothing of the text goes to the server's log
    assert "届" not in server["log"].read_text(encoding="utf-8", errors="replace")
