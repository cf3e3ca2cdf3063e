"""The command line, run as a user runs it: a subprocess of the installed console script."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from conftest import ROOT, as_yaml
from mailfactory import build_mail

CLI = [sys.executable, "-m", "classifier"]


def run(*args, cwd):
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{Path(cwd) / 'mlflow.db'}"}
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)


def test_train_then_score_from_the_command_line(tmp_path, small_params, small_data):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(as_yaml(small_params)))
    trained = run("train", "--data", small_data.train, "--out", "models", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "models" / "model.skops").is_file()
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
    result = run(
        "score",
        ROOT / "data" / "sample" / "inbox.csv",
        "-o",
        "q.csv",
        "--model",
        "nowhere",
        "--params",
        ROOT / "params.yaml",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "train a model first" in result.stderr
    assert not Path(tmp_path / "q.csv").exists()


def test_train_on_invalid_data_names_the_row(tmp_path):
    bad = tmp_path / "bad.csv"
    frame = pd.read_csv(ROOT / "data" / "inquiries.csv", dtype=str, keep_default_na=False).head(5)
    frame.loc[2, "urgency"] = "asap"
    frame.to_csv(bad, index=False)
    result = run("train", "--data", bad, "--out", "m", "--params", ROOT / "params.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "row 3, field 'urgency': unknown value (allowed: high, medium, low)" in result.stderr
    assert "asap" not in result.stdout + result.stderr


NAME_AND_PHONE = "佐々木 美咲 090-1234-5678"
WRONG = "注文したのは黒のMサイズのニットですが、届いたのは白のLサイズでした。交換をお願いします。"
LATE = "10日に注文したマグカップがまだ来ません。追跡も動いていないようです。"


def score(model_dir, *args, cwd):
    return run("score", *args, "--model", model_dir, "--params", ROOT / "params.yaml", cwd=cwd)


def test_errors_and_queue_never_repeat_a_misplaced_name_or_phone(model_dir, tmp_path):
    inbox = tmp_path / "inbox.csv"
    inbox.write_text(
        "id,received_at,channel,subject,body\n"
        f"r1,{NAME_AND_PHONE},form,,{LATE}\n"
        f"r2,2026-11-18T10:05:00+09:00,{NAME_AND_PHONE},,{WRONG}\n"
        f"{NAME_AND_PHONE},r3,2026-11-18T10:06:00+09:00,form,,{LATE}\n",  # shifted by one column
        encoding="utf-8",
    )
    scored = score(model_dir, inbox, "-o", "queue.csv", cwd=tmp_path)
    assert scored.returncode == 0, scored.stdout + scored.stderr
    queue = pd.read_csv(tmp_path / "queue.csv", dtype=str, keep_default_na=False).set_index("id")
    assert queue.loc["r1", "error"] == "row 1, field 'received_at': not an ISO 8601 timestamp"
    assert queue.loc["r1", "received_at"] == "" and queue.loc["r1", "topic"] == "non_delivery"
    assert queue.loc["r2", "error"] == "row 2, field 'channel': unknown value (allowed: email, form, mall)"
    assert queue.loc["inbox.csv:row3", "error"] == "row 3: 6 fields, header has 5"
    shown = run("queue", "queue.csv", cwd=tmp_path)
    for text in (
        (tmp_path / "queue.csv").read_text(encoding="utf-8"),
        scored.stdout,
        scored.stderr,
        shown.stdout,
    ):
        assert "佐々木" not in text and "090-1234-5678" not in text


def test_cp932_export_is_scored_and_undecodable_bytes_are_refused(model_dir, tmp_path):
    (tmp_path / "sjis.csv").write_bytes(
        f"id,channel,body\r\ns1,form,{WRONG}\r\ns2,mall,{LATE}①\r\n".encode("cp932")
    )
    scored = score(model_dir, "sjis.csv", "-o", "queue.jsonl", cwd=tmp_path)
    assert scored.returncode == 0, scored.stdout + scored.stderr
    queue = pd.read_json(tmp_path / "queue.jsonl", lines=True, dtype=False)
    assert list(queue["id"]) == ["s1", "s2"] and list(queue["text_length"]) == [len(WRONG), len(LATE) + 1]
    assert list(queue["topic"]) == ["wrong_item", "non_delivery"]
    (tmp_path / "broken.csv").write_bytes(b"id,body\r\nb1,\x81\x20\xff\r\n")
    refused = score(model_dir, "broken.csv", "-o", "out.csv", cwd=tmp_path)
    assert refused.returncode == 2
    assert (
        "broken.csv: neither UTF-8 nor CP932 (Shift_JIS) text; name its encoding with --encoding"
        in refused.stderr
    )
    assert "Traceback" not in refused.stdout + refused.stderr and not (tmp_path / "out.csv").exists()


def test_mail_subfolders_are_read_with_recursive_and_never_skipped_silently(model_dir, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "a").mkdir(parents=True)
    (inbox / "b").mkdir()
    (inbox / "TOP.EML").write_bytes(build_mail(subject="商品違い", body=WRONG, message_id="top@x"))
    for folder in ("a", "b"):  # same file name, no Message-ID: the path is the id
        (inbox / folder / "mail.eml").write_bytes(build_mail(subject="配送", body=LATE, message_id=None))
    flat = score(model_dir, inbox, "-o", "flat.csv", cwd=tmp_path)
    assert flat.returncode == 0, flat.stdout + flat.stderr
    assert "2 .eml file(s) in subfolders not read (use --recursive to read them)" in flat.stderr
    assert list(pd.read_csv(tmp_path / "flat.csv")["id"]) == ["top@x"]
    deep = score(model_dir, inbox, "-o", "deep.csv", "--recursive", cwd=tmp_path)
    assert deep.returncode == 0 and "subfolders" not in deep.stderr
    assert list(pd.read_csv(tmp_path / "deep.csv")["id"]) == [
        "top@x",
        str(inbox / "a" / "mail.eml"),
        str(inbox / "b" / "mail.eml"),
    ]


def test_unusable_inputs_and_options_are_refused_without_a_traceback(tmp_path):
    inbox = tmp_path / "inbox.csv"
    inbox.write_text("id,body\nr1,返品したい\n", encoding="utf-8")
    before = inbox.read_bytes()
    (tmp_path / "text.csv").write_text("id,text\nr1,返品したい\n", encoding="utf-8")
    refusals = {
        "is the input itself": ("score", inbox, "-o", inbox),
        "is the input itself ": ("score", "inbox.csv", "-o", tmp_path / "." / "inbox.csv"),
        "text.csv: no 'body' column in the header row": (
            "score",
            "text.csv",
            "-o",
            "out.csv",
            "--params",
            ROOT / "params.yaml",
        ),
        "Invalid value for '--chunk-size': Input should be greater than or equal to 1": (
            "score",
            inbox,
            "-o",
            "out.csv",
            "--chunk-size",
            "0",
        ),
        "Invalid value for '--chunk-size': Input should be greater than or equal to 1 ": (
            "score",
            inbox,
            "-o",
            "out.csv",
            "--chunk-size",
            "-3",
        ),
        "missing.csv: No such file or directory": ("queue", "missing.csv"),
        "inbox.csv: missing column(s) queue_position, colour, route, error (not a scored queue?)": (
            "queue",
            "inbox.csv",
        ),
        "'queue.csv' does not exist": ("drift", "--current", "queue.csv"),
        "no params.yaml in": ("drift", "--current", "inbox.csv"),
        "models: no reference.json": (
            "drift",
            "--current",
            "inbox.csv",
            "--params",
            ROOT / "params.yaml",
            "--reference",
            "models",
        ),
        "nowhere.mbox: no such file or directory": (
            "score",
            "nowhere.mbox",
            "-o",
            "out.csv",
            "--params",
            ROOT / "params.yaml",
        ),
        "'xlsx' is not one of 'eml', 'mbox', 'maildir', 'csv', 'jsonl', 'parquet'": (
            "score",
            inbox,
            "-o",
            "out.csv",
            "--format",
            "xlsx",
        ),
        "missing.csv: no such file": ("train", "--data", "missing.csv", "--params", ROOT / "params.yaml"),
        "params.yaml: parameters file not found": (
            "score",
            inbox,
            "-o",
            "out.csv",
            "--params",
            "params.yaml",
        ),
        "no --model given and no project": (
            "score",
            inbox,
            "-o",
            "out.csv",
            "--params",
            ROOT / "params.yaml",
        ),
    }
    for expected, args in refusals.items():
        result = run(*args, cwd=tmp_path)
        shown = " ".join((result.stdout + result.stderr).replace("│", " ").split())
        assert result.returncode == 2, (args, shown)
        assert expected.strip() in shown, (args, shown)
        assert "Traceback" not in shown
    assert inbox.read_bytes() == before and not (tmp_path / "out.csv").exists()


# The examples and the other starts OWASP lists; the subject is written redacted (lower case).
FORMULAS = {
    "f1": '=hyperlink("<URL>"&a1,"click")',
    "f2": "+cmd|' /c calc'!a0",
    "f3": "-2+3",
    "f4": "@SUM(A1:A9)",
    "f5": "普通の件名 =1+1",  # a formula character inside a cell starts nothing
}
FORMULA_IDS = ["\ttab@x", "\rcr@x", "-minus@x"]  # ids are written verbatim: tab and CR starts survive there


def test_csv_cells_that_start_a_formula_are_neutralized_unless_turned_off(model_dir, tmp_path):
    inbox = tmp_path / "inbox.csv"
    rows = [
        {"id": key, "received_at": "2026-11-18T10:00:00+09:00", "subject": subject, "body": LATE}
        for key, subject in FORMULAS.items()
    ]
    rows += [
        {"id": key, "received_at": "2026-11-18T10:00:00+09:00", "subject": "", "body": WRONG}
        for key in FORMULA_IDS
    ]
    with inbox.open(
        "w", encoding="utf-8", newline=""
    ) as handle:  # the csv module quotes a CR, pandas does not
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    outputs = {"safe.csv": (), "raw.csv": ("--no-csv-escape",), "queue.jsonl": (), "queue.parquet": ()}
    for name, options in outputs.items():
        assert score(model_dir, inbox, "-o", name, *options, cwd=tmp_path).returncode == 0
    tables = {}
    for name in ("safe.csv", "raw.csv"):
        with (tmp_path / name).open(encoding="utf-8", newline="") as handle:
            tables[name] = list(csv.DictReader(handle))
    safe, raw = tables["safe.csv"], tables["raw.csv"]
    assert [row["id"] for row in raw] == [*FORMULAS, *FORMULA_IDS]  # --no-csv-escape: verbatim
    assert [row["id"] for row in safe] == [*FORMULAS, *("'" + key for key in FORMULA_IDS)]
    assert raw[0]["subject"].startswith('=hyperlink("') and raw[1]["subject"] == FORMULAS["f2"]
    for position in range(4):
        assert (
            raw[position]["subject"][0] in "=+-@"
            and safe[position]["subject"] == "'" + raw[position]["subject"]
        )
    assert safe[4]["subject"] == raw[4]["subject"] == FORMULAS["f5"]
    # Numbers are never escaped, so they stay numbers for Excel and for `classifier queue`.
    assert all(
        row["queue_position"].isdigit() and not row["topic_confidence"].startswith("'") for row in safe
    )
    for untouched in (
        pd.read_json(tmp_path / "queue.jsonl", lines=True, dtype=False),
        pd.read_parquet(tmp_path / "queue.parquet"),
    ):
        assert list(untouched["id"]) == [*FORMULAS, *FORMULA_IDS] and list(untouched["subject"][:4]) == [
            row["subject"] for row in raw[:4]
        ]
    shown = run("queue", "safe.csv", cwd=tmp_path)  # the escaped queue still reads back
    assert shown.returncode == 0 and "8 records:" in shown.stdout, shown.stdout + shown.stderr


def test_version_and_quiet_and_verbose(tmp_path):
    from importlib.metadata import version

    shown = run("--version", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.strip() == f"inquiry-triage {version('inquiry-triage')}"
    quiet = run("-q", "queue", "missing.csv", cwd=tmp_path)
    assert quiet.returncode == 2 and quiet.stdout == "" and "missing.csv" in quiet.stderr


def test_score_from_a_subfolder_finds_the_projects_params_and_model(model_dir, small_params, tmp_path):
    project = tmp_path / "shop"
    shutil.copytree(model_dir, project / "models")
    (project / "params.yaml").write_text(yaml.safe_dump(as_yaml(small_params)))
    (project / "inbox" / "today").mkdir(parents=True)
    (project / "inbox" / "today" / "in.csv").write_text(
        f"id,received_at,body\nr1,2026-11-18T10:00:00+09:00,{LATE}\n", encoding="utf-8"
    )
    scored = run("-v", "score", "in.csv", "-o", "out.csv", cwd=project / "inbox" / "today")
    assert scored.returncode == 0, scored.stderr
    out = pd.read_csv(project / "inbox" / "today" / "out.csv", dtype=str, keep_default_na=False)
    assert out.loc[0, "topic"] == "non_delivery" and out.loc[0, "error"] == ""
    assert str(project / "models") in out.loc[0, "model_version"]


def test_the_command_line_loads_no_data_or_model_library_until_a_command_needs_one():
    # What `classifier queue` and `--help` pay at start (docs/performance.md has the timing).
    probe = (
        "import sys, classifier.cli; "
        "print(sorted(m for m in ('pandas', 'sklearn', 'mlflow', 'fugashi', 'scipy') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_scoring_needs_neither_mlflow_nor_dvc_nor_matplotlib(model_dir, tmp_path):
    """`pip install inquiry-triage` without extras scores a model directory: the run below fails on
    any import of the training, tracking or plotting stack."""
    (tmp_path / "in.csv").write_text(
        f"id,received_at,body\nr1,2026-11-18T10:00:00+09:00,{WRONG}\n", encoding="utf-8"
    )
    blocked = "import sys\nfor name in ('mlflow', 'dvc', 'matplotlib'):\n    sys.modules[name] = None\n"
    command = blocked + "from classifier.cli import main\nsys.argv = ['classifier'] + sys.argv[1:]\nmain()\n"
    args = [
        "score",
        "in.csv",
        "-o",
        "out.csv",
        "--model",
        str(model_dir),
        "--params",
        str(ROOT / "params.yaml"),
    ]
    done = subprocess.run(
        [sys.executable, "-c", command, *args], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert out.loc[0, "topic"] == "wrong_item" and out.loc[0, "error"] == ""
