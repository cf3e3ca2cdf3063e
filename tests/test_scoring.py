"""Batch scoring of new mail: every input format, one output record per input record, follow-ups,
SLA deadlines, atomic output, and the same answer for the same inquiry whatever its format."""

import json
import os
import subprocess
import sys
from datetime import datetime, time, timedelta, timezone

import pandas as pd
import pytest
from conftest import ROOT
from mailfactory import build_mail

from classifier.io.inputs import InputError, detect_format, read_chunks
from classifier.serving import sla
from classifier.serving.score import Scorer, run_batch

JST = timezone(timedelta(hours=9))
WRONG = (
    "お世話になります。\n注文したのは黒のMサイズのニットですが、届いたのは白のLサイズでした。\n"
    "交換をお願いします。"
)
LATE = "10日に注文したマグカップがまだ来ません。追跡も動いていないようです。いつ頃になりますか。"


@pytest.fixture(scope="module")
def scorer(model_dir):
    return Scorer.load(model_dir)


def score_path(scorer, params, path, output, fmt=None, size=5000):
    return run_batch(scorer, read_chunks(path, fmt, size), output, params.sla, progress=False, top=5)


def test_same_inquiry_as_csv_row_and_as_iso2022jp_mail_gets_the_same_prediction(scorer, params, tmp_path):
    when = datetime(2026, 11, 18, 10, 0, tzinfo=JST)
    csv_path = tmp_path / "one.csv"
    pd.DataFrame(
        [
            {
                "id": "a@x",
                "received_at": when.isoformat(),
                "channel": "email",
                "subject": "商品違い",
                "body": WRONG,
            }
        ]
    ).to_csv(csv_path, index=False)
    mails = tmp_path / "mails"
    mails.mkdir()
    signed = WRONG + "\n\n-- \n山田 花子\nTEL 090-1234-5678"
    (mails / "a.eml").write_bytes(
        build_mail(subject="商品違い", body=signed, charset="iso-2022-jp", message_id="a@x", date=when)
    )
    score_path(scorer, params, csv_path, tmp_path / "from_csv.csv")
    score_path(scorer, params, mails, tmp_path / "from_mail.csv")
    columns = [
        "id",
        "received_at",
        "topic",
        "topic_confidence",
        "urgency",
        "urgency_confidence",
        "explanation",
        "due_by",
    ]
    from_csv = pd.read_csv(tmp_path / "from_csv.csv")[columns]
    from_mail = pd.read_csv(tmp_path / "from_mail.csv")[columns]
    pd.testing.assert_frame_equal(from_csv, from_mail)
    assert from_csv.loc[0, "topic"] == "wrong_item"


def test_broken_records_each_yield_one_output_row_with_the_error(scorer, params, tmp_path):
    path = tmp_path / "inbox.csv"
    path.write_text(
        "id,received_at,channel,subject,body\n"
        f"r1,2026-11-18T10:00:00+09:00,form,,{LATE}\n"
        "r2,2026-11-18T10:05:00+09:00,form,,\n"
        "r3,yesterday,mall,,ポイントはいつ付きますか\n"
        "r4,2026-11-18T10:07:00+09:00,form,too,many,fields\n"
        "r5,2026-11-18T10:08:00+09:00,fax,,領収書をお願いします\n",
        encoding="utf-8",
    )
    summary = score_path(scorer, params, path, tmp_path / "out.csv", size=2)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False).set_index("id")
    assert len(out) == 5 and summary["records"] == 5
    assert out.loc["r1", "error"] == "" and out.loc["r1", "topic"] == "non_delivery"
    # Rows are counted over the whole input, not per chunk (chunks of 2 here).
    assert out.loc["r2", "error"] == "row 2, field 'body': empty body" and out.loc["r2", "topic"] == ""
    assert out.loc["r3", "error"] == "row 3, field 'received_at': not an ISO 8601 timestamp"
    assert out.loc["r3", "received_at"] == ""  # not echoed: the error says why it is empty
    assert out.loc["r3", "topic"] != ""  # flagged, still scored
    assert out.loc["inbox.csv:row4", "error"] == "row 4: 6 fields, header has 5"
    assert out.loc["r5", "error"] == "row 5, field 'channel': unknown value (allowed: email, form, mall)"
    assert summary["unscored"] == 2
    assert sorted(out["queue_position"].astype(int)) == [1, 2, 3, 4, 5]
    assert set(out.loc[["r2", "inbox.csv:row4"], "queue_position"].astype(int)) == {4, 5}


def test_broken_mail_and_broken_jsonl_lines_are_kept(scorer, params, tmp_path):
    mails = tmp_path / "mails"
    mails.mkdir()
    good = build_mail(
        subject="件名",
        body=LATE,
        charset="shift_jis",
        message_id="g@x",
        date=datetime(2026, 11, 18, 9, tzinfo=JST),
    )
    (mails / "good.eml").write_bytes(good)
    (mails / "bad.eml").write_bytes(
        build_mail(subject="件名", body="本文", charset="utf-8-base64", message_id="b@x").replace(
            b"charset=UTF-8", b"charset=x-unknown"
        )
    )
    (mails / "empty.eml").write_bytes(b"")
    score_path(scorer, params, mails, tmp_path / "out.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    by_id = {r["id"]: r for r in rows}
    assert len(rows) == 3
    assert by_id["g@x"]["topic"] == "non_delivery"
    assert "body: undecodable as x-unknown" in by_id["b@x"]["error"]
    assert (
        "no text part" in by_id[str(mails / "empty.eml")]["error"]
        or "no Message-ID" in by_id[str(mails / "empty.eml")]["error"]
    )
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        json.dumps({"id": "j1", "received_at": "2026-11-18T10:00:00+09:00", "body": LATE}, ensure_ascii=False)
        + "\n{broken\n",
        encoding="utf-8",
    )
    score_path(scorer, params, lines, tmp_path / "out.parquet")
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out["id"]) == ["j1", "in.jsonl:line2"]
    assert out.loc[1, "error"].startswith("line 2: unreadable JSON")


def test_chunking_does_not_change_the_result(scorer, params, tmp_path, test_split):
    path = tmp_path / "batch.parquet"
    test_split.head(23).to_parquet(path)
    score_path(scorer, params, path, tmp_path / "whole.csv", size=1000)
    score_path(scorer, params, path, tmp_path / "chunked.csv", size=4)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "whole.csv"), pd.read_csv(tmp_path / "chunked.csv"))


def test_output_is_written_atomically(scorer, params, tmp_path, test_split):
    output = tmp_path / "queue.csv"
    output.write_text("previous run\n")

    def failing_chunks():
        yield test_split.head(3)
        raise OSError("disk went away while reading the input")

    with pytest.raises(OSError):
        run_batch(scorer, failing_chunks(), output, params.sla, progress=False)
    assert output.read_text() == "previous run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["queue.csv"]


def test_thread_replies_and_same_order_follow_ups_are_raised_to_high(scorer, params, tmp_path):
    mails = tmp_path / "mails"
    mails.mkdir()
    day = datetime(2026, 11, 16, 10, 0, tzinfo=JST)
    first = "先日注文したマグカップ（注文番号 KM-2026-004236）がまだ届きません。追跡も動いていません。"
    again = "16日にお送りしたメールにお返事がありません。荷物はどうなっていますか。"
    (mails / "1.eml").write_bytes(build_mail(subject="配送について", body=first, message_id="t1@x", date=day))
    (mails / "2.eml").write_bytes(
        build_mail(
            subject="Re: 配送について",
            body=again,
            message_id="t2@x",
            date=day + timedelta(days=2),
            in_reply_to="t1@x",
        )
    )
    (mails / "3.eml").write_bytes(
        build_mail(
            subject="領収書",
            body="注文番号 KM-2026-004236 の領収書を発行してください。",
            message_id="t3@x",
            date=day + timedelta(days=1),
        )
    )
    summary = score_path(scorer, params, mails, tmp_path / "out.csv")
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False).set_index("id")
    assert out.loc["t2@x", "follow_up_of"] == "t1@x" and out.loc["t2@x", "contact_number"] == "2"
    assert out.loc["t2@x", "urgency"] == "high" and out.loc["t2@x", "colour"] == "red"
    assert out.loc["t2@x", "route_reason"] == "repeated contact: follow-up of t1@x"
    assert out.loc["t3@x", "follow_up_of"] == ""  # same order, another issue
    assert summary["follow_ups"] == 1


def test_formats_are_detected_and_can_be_overridden(tmp_path):
    (tmp_path / "maildir" / "cur").mkdir(parents=True)
    (tmp_path / "maildir" / "new").mkdir()
    (tmp_path / "maildir" / "tmp").mkdir()
    (tmp_path / "box").write_bytes(b"From someone@example.jp Mon Nov 16 10:00:00 2026\n")
    (tmp_path / "export.txt").write_text("id,body\nx,本文\n", encoding="utf-8")
    assert detect_format(tmp_path / "maildir") == "maildir"
    assert detect_format(tmp_path) == "eml"
    assert detect_format(tmp_path / "box") == "mbox"
    with pytest.raises(InputError, match="use --format"):
        detect_format(tmp_path / "export.txt")
    assert list(next(read_chunks(tmp_path / "export.txt", "csv"))["body"]) == ["本文"]
    with pytest.raises(InputError, match="no such file"):
        detect_format(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("received", "hours", "expected"),
    [
        ("2026-11-18T10:00:00+09:00", 4, "2026-11-18T14:00:00+09:00"),  # inside one business day
        ("2026-11-18T16:00:00+09:00", 4, "2026-11-19T11:00:00+09:00"),  # over the evening
        ("2026-11-20T17:00:00+09:00", 4, "2026-11-24T12:00:00+09:00"),  # weekend and 勤労感謝の日 (Mon 23rd)
        ("2026-11-21T23:30:00+09:00", 1, "2026-11-24T10:00:00+09:00"),  # received on Saturday night
        ("2026-11-18T01:00:00+00:00", 2, "2026-11-18T12:00:00+09:00"),  # 10:00 JST given in UTC
        ("2026-05-01T17:00:00+09:00", 2, "2026-05-07T10:00:00+09:00"),  # Golden Week, substitute holiday 6th
    ],
)
def test_due_by_counts_business_hours(received, hours, expected):
    assert (
        sla.add_business_hours(datetime.fromisoformat(received), hours, time(9), time(18)).isoformat()
        == expected
    )


def test_score_command_on_the_sample_inbox(model_dir, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "classifier",
            "score",
            str(ROOT / "data" / "new"),
            "-o",
            str(tmp_path / "queue.csv"),
            "--model",
            str(model_dir),
            "--params",
            str(ROOT / "params.yaml"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    queue = pd.read_csv(tmp_path / "queue.csv", dtype=str, keep_default_na=False)
    assert len(queue) == len(list((ROOT / "data" / "new").glob("*.eml"))) >= 50
    assert set(queue["colour"]) == {"red", "orange", "green"}
    assert f"{len(queue)} records → " in result.stdout and "follow-ups" in result.stdout


def test_tampered_model_is_refused_by_the_command(model_dir, tmp_path):
    copy = tmp_path / "model"
    copy.mkdir()
    for f in model_dir.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    with (copy / "model.skops").open("ab") as handle:
        handle.write(b"tampered")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "classifier",
            "score",
            str(ROOT / "data" / "new"),
            "-o",
            str(tmp_path / "q.csv"),
            "--model",
            str(copy),
            "--params",
            str(ROOT / "params.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "does not match" in result.stderr
    assert not (tmp_path / "q.csv").exists()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_parallel_scoring_gives_the_same_output_in_the_same_order(
    scorer, params, tmp_path, test_split, suffix
):
    path = tmp_path / "batch.csv"
    test_split.head(60).to_csv(path, index=False)
    summaries = [
        run_batch(
            scorer,
            read_chunks(path, size=7),
            tmp_path / f"{jobs}{suffix}",
            params.sla,
            progress=False,
            top=5,
            jobs=jobs,
        )
        for jobs in (1, 2)
    ]
    read = {
        ".csv": pd.read_csv,
        ".jsonl": lambda f: pd.read_json(f, lines=True),
        ".parquet": pd.read_parquet,
    }[suffix]
    one, two = read(tmp_path / f"1{suffix}"), read(tmp_path / f"2{suffix}")
    pd.testing.assert_frame_equal(one, two)
    assert list(one["id"]) == list(test_split.head(60)["id"])
    assert (
        list(summaries[0]["top"]["id"])
        == list(summaries[1]["top"]["id"])
        == list(one.sort_values("queue_position")["id"][:5])
    )


def test_spawned_workers_give_the_output_of_forked_ones(scorer, params, tmp_path, test_split):
    """Workers that start from nothing (spawn: Windows, macOS) receive the scorer pickled and write
    byte for byte what forked workers write."""
    path = tmp_path / "batch.csv"
    test_split.head(30).to_csv(path, index=False)
    for method in ("fork", "spawn"):
        run_batch(
            scorer,
            read_chunks(path, size=7),
            tmp_path / f"{method}.csv",
            params.sla,
            progress=False,
            jobs=2,
            start_method=method,
        )
    assert (tmp_path / "fork.csv").read_bytes() == (tmp_path / "spawn.csv").read_bytes()
