"""Reading scoring inputs from real bytes: Excel's BOM, CP932 exports, undecodable files, tables
without a body, mboxes that must neither merge nor invent mails, and mail folders with subfolders."""

import json
import mailbox
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import yaml
from conftest import ROOT
from mailfactory import build_mail

from classifier.config import Limits
from classifier.io.inputs import InputError, check_not_input, materialize, read_chunks
from classifier.io.mail import parse_raw, raw_mbox

JST = timezone(timedelta(hours=9))
WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=JST)
SEPARATOR = b"From customer@example.jp Fri Nov 20 09:30:00 2026\n"
BODIES = [
    "黒のMサイズを注文しましたが白が届きました。",
    "注文した商品がまだ届きません。",
    "ポイントはいつ付きますか。",
]


def records(path, **options):
    return pd.concat([materialize(chunk) for chunk in read_chunks(path, **options)])


def mail(number, body=None):
    return build_mail(
        subject=f"件名{number}",
        body=body or BODIES[number],
        charset="utf-8-base64",
        message_id=f"m{number}@x",
        date=WHEN,
    )


def plain_mail(message_id, body):
    """A mail with an 8-bit body, as most mail in an mbox is: its lines are the mbox's lines."""
    return (
        f"Message-ID: <{message_id}>\nDate: Fri, 20 Nov 2026 09:30:00 +0900\n"
        "Content-Type: text/plain; charset=UTF-8\n"
        f"Content-Transfer-Encoding: 8bit\n\n{body}\n"
    ).encode()


def mbox_bodies(path):
    parsed = [parse_raw(raw) for raw in raw_mbox(path)]
    return [(record.id, record.body, record.error) for record in parsed]


# --- CSV and JSONL text ------------------------------------------------------------------------


def test_excel_csv_with_a_bom_keeps_its_first_column(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + "id,received_at,body\r\nr1,2026-11-18T10:00:00+09:00,返品したい\r\n".encode()
    )
    frame = records(path)
    assert list(frame["id"]) == ["r1"] and list(frame["body"]) == ["返品したい"]


def test_jsonl_with_a_bom_keeps_its_first_record(tmp_path):
    path = tmp_path / "export.jsonl"
    lines = [json.dumps({"id": f"j{i}", "body": body}, ensure_ascii=False) for i, body in enumerate(BODIES)]
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8") + b"\n")
    frame = records(path)
    assert list(frame["id"]) == ["j0", "j1", "j2"] and list(frame["input_error"]) == ["", "", ""]


def test_cp932_csv_is_read_by_auto_and_by_name(tmp_path):
    path = tmp_path / "sjis.csv"
    text = (
        "id,channel,body\r\nr1,form,①番の部品が足りません。㈱マルシェ 髙橋\r\n"
        "r2,mall,ｻｲｽﾞ交換～お願いします\r\n"
    )
    path.write_bytes(text.encode("cp932"))
    for encoding in ("auto", "cp932", "shift_jis"):
        frame = records(path, encoding=encoding)
        assert list(frame["id"]) == ["r1", "r2"]
        assert list(frame["body"]) == ["①番の部品が足りません。㈱マルシェ 髙橋", "ｻｲｽﾞ交換～お願いします"]


def test_cp932_jsonl_is_read_by_auto(tmp_path):
    path = tmp_path / "sjis.jsonl"
    path.write_bytes(
        json.dumps({"id": "j1", "body": "返品したいです"}, ensure_ascii=False).encode("cp932") + b"\n"
    )
    assert list(records(path)["body"]) == ["返品したいです"]


@pytest.mark.parametrize(
    "data",
    [b"id,body\nr1,\x81\x20broken lead byte\n", "id,body\nr1,本文\n".encode("utf-16")],
    ids=["neither-utf8-nor-cp932", "utf-16"],
)
def test_undecodable_text_is_refused_before_any_record(tmp_path, data):
    path = tmp_path / "inbox.csv"
    path.write_bytes(data)
    with pytest.raises(InputError, match="inbox.csv: neither UTF-8 nor CP932 .*--encoding"):
        read_chunks(path)


def test_a_wrong_explicit_encoding_names_the_file_and_the_option(tmp_path):
    path = tmp_path / "inbox.csv"
    path.write_bytes("id,body\nr1,本文\n".encode("cp932"))
    with pytest.raises(
        InputError, match="inbox.csv: not readable as utf-8-sig; name its encoding with --encoding"
    ):
        records(path, encoding="utf-8")
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        read_chunks(path, encoding="klingon")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_a_table_without_body_is_refused_as_a_whole(tmp_path, suffix):
    path = tmp_path / f"inbox{suffix}"
    frame = pd.DataFrame({"id": ["r1", "r2"], "text": ["本文", "本文"]})
    {
        ".csv": lambda: frame.to_csv(path, index=False),
        ".jsonl": lambda: frame.to_json(path, orient="records", lines=True),
        ".parquet": lambda: frame.to_parquet(path),
    }[suffix]()
    with pytest.raises(InputError, match=r"inbox\.\w+: no (record has a )?'body'"):
        read_chunks(path)


def test_a_header_that_is_a_record_is_not_repeated_in_the_error(tmp_path):
    path = tmp_path / "noheader.csv"
    path.write_text("r1,佐々木 美咲 090-1234-5678,返品したい\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_chunks(path)
    assert "noheader.csv: no 'body' column" in str(caught.value) and "090" not in str(caught.value)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_ids_are_made_when_the_table_has_none(tmp_path, suffix):
    path = tmp_path / f"inbox{suffix}"
    frame = pd.DataFrame({"body": BODIES})
    {
        ".csv": lambda: frame.to_csv(path, index=False),
        ".jsonl": lambda: frame.to_json(path, orient="records", lines=True, force_ascii=False),
        ".parquet": lambda: frame.to_parquet(path),
    }[suffix]()
    unit = "line" if suffix == ".jsonl" else "row"
    assert list(records(path, size=2)["id"]) == [f"inbox{suffix}:{unit}{n}" for n in (1, 2, 3)]


def test_chunks_are_indexed_by_record_number(tmp_path):
    path = tmp_path / "inbox.csv"
    pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "body": ["x"] * 5}).to_csv(path, index=False)
    assert [list(chunk.index) for chunk in read_chunks(path, size=2)] == [[0, 1], [2, 3], [4]]


def test_a_chunk_size_below_one_is_refused(tmp_path):
    path = tmp_path / "inbox.csv"
    path.write_text("id,body\nr1,本文\n", encoding="utf-8")
    with pytest.raises(InputError, match="chunk size must be a positive number"):
        read_chunks(path, size=0)


def test_the_output_may_not_be_the_input(tmp_path):
    path = tmp_path / "inbox.csv"
    path.write_text("id,body\nr1,本文\n", encoding="utf-8")
    (tmp_path / "link.csv").symlink_to(path)
    for output in (path, tmp_path / "sub" / ".." / "inbox.csv", tmp_path / "link.csv"):
        with pytest.raises(InputError, match="is the input itself"):
            check_not_input(path, output)
    check_not_input(path, tmp_path / "queue.csv")


# --- mbox --------------------------------------------------------------------------------------


def test_mbox_written_by_the_standard_library_round_trips_with_from_quoting(tmp_path):
    # The library quotes body lines starting "From " as ">From " (mboxo); reading undoes it.
    box = mailbox.mbox(tmp_path / "inbox.mbox")
    box.add(plain_mail("p0@x", "返品の件です。\n\nFrom the shop I got the wrong size."))
    box.add(mail(1))
    box.flush()
    assert b"\n>From the shop" in (tmp_path / "inbox.mbox").read_bytes()
    assert mbox_bodies(tmp_path / "inbox.mbox") == [
        ("p0@x", "返品の件です。\n\nFrom the shop I got the wrong size.", ""),
        ("m1@x", BODIES[1], ""),
    ]


def test_mboxrd_quoting_is_undone_one_level(tmp_path):
    path = tmp_path / "rd.mbox"
    path.write_bytes(SEPARATOR + plain_mail("p0@x", "本文\n>From a line\n>>From a quoted line"))
    raw = next(iter(raw_mbox(path))).data
    assert raw.endswith(b"\nFrom a line\n>From a quoted line\n")


def test_mbox_not_starting_with_a_separator_keeps_its_first_mail(tmp_path):
    path = tmp_path / "cut.mbox"
    path.write_bytes(mail(0) + b"\n" + SEPARATOR + mail(1) + b"\n" + SEPARATOR + mail(2))
    assert mbox_bodies(path) == [(f"m{i}@x", BODIES[i], "") for i in range(3)]


def test_from_lines_in_a_body_make_no_phantom_mail(tmp_path):
    body = "ご確認ください。\n\nFrom the photo you can see the scratch.\nFrom me again\n\nFrom 山田 よろしく"
    path = tmp_path / "inbox.mbox"
    path.write_bytes(SEPARATOR + plain_mail("p@x", body) + b"\n" + SEPARATOR + mail(1))
    got = mbox_bodies(path)
    assert [i for i, _, _ in got] == ["p@x", "m1@x"]
    assert got[0][1] == body


def test_a_separator_without_date_splits_when_headers_follow(tmp_path):
    path = tmp_path / "broken.mbox"
    path.write_bytes(
        SEPARATOR + mail(0) + b"\nFrom customer@example.jp\n" + mail(1) + b"\n" + SEPARATOR + mail(2)
    )
    assert mbox_bodies(path) == [(f"m{i}@x", BODIES[i], "") for i in range(3)]


def test_content_length_protects_a_body_that_looks_like_mbox(tmp_path):
    body = (
        "転送します。\n\nFrom customer@example.jp Fri Nov 20 09:30:00 2026\n"
        "Subject: 以前のメール\n\n古い本文\n"
    )
    payload = body.encode("utf-8")
    first = plain_mail("cl@x", "").replace(b"\n\n\n", b"\nContent-Length: %d\n\n" % len(payload)) + payload
    path = tmp_path / "cl.mbox"
    path.write_bytes(SEPARATOR + first + b"\n" + SEPARATOR + mail(1))
    got = mbox_bodies(path)
    assert [i for i, _, _ in got] == ["cl@x", "m1@x"]
    assert "古い本文" in got[0][1]


def test_a_wrong_content_length_does_not_swallow_the_next_mail(tmp_path):
    first = b"Message-ID: <cl@x>\nContent-Length: 99999\n\n" + "本文です。".encode() + b"\n"
    path = tmp_path / "cl.mbox"
    path.write_bytes(SEPARATOR + first + b"\n" + SEPARATOR + mail(1) + b"\n" + SEPARATOR + mail(2))
    assert [i for i, _, _ in mbox_bodies(path)] == ["cl@x", "m1@x", "m2@x"]


def test_mbox_with_crlf_lines_and_an_empty_file(tmp_path):
    path = tmp_path / "crlf.mbox"
    path.write_bytes(
        SEPARATOR.replace(b"\n", b"\r\n") + mail(0) + b"\r\n" + SEPARATOR.replace(b"\n", b"\r\n") + mail(1)
    )
    assert [(i, b) for i, b, _ in mbox_bodies(path)] == [("m0@x", BODIES[0]), ("m1@x", BODIES[1])]
    (tmp_path / "empty.mbox").write_bytes(b"")
    assert mbox_bodies(tmp_path / "empty.mbox") == []


# --- mail folders ------------------------------------------------------------------------------


def folder_with_subfolders(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "2026-11" / "deep").mkdir(parents=True)
    (inbox / "2026-12").mkdir()
    no_id = build_mail(subject="件名", body=BODIES[0], message_id=None, date=WHEN)
    (inbox / "top.EML").write_bytes(mail(0))
    (inbox / "second.Eml").write_bytes(mail(1))
    (inbox / "notes.txt").write_text("not a mail", encoding="utf-8")
    (inbox / "2026-11" / "same.eml").write_bytes(no_id)
    (inbox / "2026-12" / "same.eml").write_bytes(no_id)
    (inbox / "2026-11" / "deep" / "x.eml").write_bytes(mail(2))
    return inbox


def test_eml_suffix_in_any_case_and_subfolders_left_out_with_a_warning(tmp_path, caplog):
    inbox = folder_with_subfolders(tmp_path)
    frame = records(inbox)
    assert sorted(frame["id"]) == ["m0@x", "m1@x"]
    assert "3 .eml file(s) in subfolders not read (use --recursive" in caplog.text


def test_recursive_reads_subfolders_with_distinct_ids(tmp_path, caplog):
    inbox = folder_with_subfolders(tmp_path)
    frame = records(inbox, recursive=True)
    assert list(frame["id"]) == [
        "m2@x",  # 2026-11/deep/x.eml
        str(inbox / "2026-11" / "same.eml"),  # no Message-ID: the path, distinct per subfolder
        str(inbox / "2026-12" / "same.eml"),
        "m1@x",
        "m0@x",
    ]
    assert "subfolders" not in caplog.text


# --- limits ------------------------------------------------------------------------------------


def test_a_csv_field_over_the_modules_default_limit_is_read(tmp_path):
    path = tmp_path / "inbox.csv"
    pd.DataFrame({"id": ["r1", "r2"], "body": ["あ" * 140_000, BODIES[0]]}).to_csv(path, index=False)
    assert [len(body) for body in records(path)["body"]] == [140_000, len(BODIES[0])]


def test_a_csv_field_over_max_field_chars_refuses_the_file_naming_the_row(tmp_path):
    path = tmp_path / "inbox.csv"
    pd.DataFrame({"id": ["r1", "r2"], "body": [BODIES[0], "佐々木" * 1000]}).to_csv(path, index=False)
    with pytest.raises(InputError) as caught:
        records(path, limits=Limits(max_field_chars=1000))
    assert (
        str(caught.value) == f"{path}: row 2: not readable as CSV "
        "(a field over 1,000 characters (params.yaml limits.max_field_chars))"
    )


def test_the_shipped_params_state_the_code_defaults_of_every_limit():
    shipped = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    assert Limits.model_validate(shipped["limits"]) == Limits()
    assert set(shipped["limits"]) == set(Limits.model_fields)
