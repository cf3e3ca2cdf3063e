"""Property-based tests of the readers (hypothesis): whatever bytes arrive as a mail and whatever
MIME tree a sender builds, parsing gives one record and never raises; whatever values a CSV or
JSONL row holds (commas, quotes, newlines, a BOM, NUL, CR, surrogate-free Unicode), reading gives
back exactly one record per row, with its values. Derandomized with a fixed budget, so CI runs the
same examples every time and the file stays well under a minute."""

import csv
import email.message
import io
import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier.io.inputs import InputError, materialize, read_chunks
from classifier.io.mail import RawMail, parse_raw

BUDGET = settings(
    max_examples=1000,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@BUDGET
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_as_a_mail_give_one_record_and_never_raise(data):
    record = parse_raw(RawMail(data, "x.eml"))
    assert isinstance(record.body, str) and isinstance(record.error, str)
    assert record.id  # the Message-ID, or the file for a mail without one


MAIL_BYTES = st.sampled_from(
    [
        b"Message-ID: <m@x>\r\nSubject: =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=\r\n\r\n"
        b"\xe8\xbf\x94\xe5\x93\x81\r\n",
        b'From x Fri Nov 20 09:30:00 2026\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n\n--b--\n',
        b"Content-Transfer-Encoding: base64\n\n!!!not base64",
    ]
)


@BUDGET
@given(MAIL_BYTES, st.binary(max_size=200), st.integers(min_value=0, max_value=200))
def test_real_mails_cut_or_spliced_with_garbage_never_raise(mail, garbage, cut):
    for data in (mail[:cut], mail[:cut] + garbage + mail[cut:], garbage + mail):
        assert isinstance(parse_raw(RawMail(data, "x.eml")).error, str)


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
CHARSETS = st.sampled_from(["utf-8", "iso-2022-jp", "shift_jis", "euc-jp", "us-ascii", "x-unknown", ""])
LEAF_TYPES = st.sampled_from(["text/plain", "text/html", "application/octet-stream", "image/png", "text/csv"])


@st.composite
def leaves(draw):
    part = email.message.Message()
    part["Content-Type"] = draw(LEAF_TYPES)
    if charset := draw(CHARSETS):
        part.set_param("charset", charset)
    if draw(st.booleans()):
        part["Content-Disposition"] = "attachment"
    if encoding := draw(st.sampled_from(["", "base64", "quoted-printable", "8bit", "x-bogus"])):
        part["Content-Transfer-Encoding"] = encoding
    # Bytes held as surrogates are written back as the same bytes (raw 8-bit, as senders send).
    part.set_payload(draw(st.binary(max_size=200)).decode("ascii", "surrogateescape"))
    return part


def multipart(children):
    parent = email.message.Message()
    parent["Content-Type"] = "multipart/mixed"
    for child in children:
        parent.attach(child)
    return parent


MIME_TREES = st.recursive(
    leaves(), lambda inner: st.lists(inner, min_size=0, max_size=4).map(multipart), max_leaves=12
)


@BUDGET
@given(MIME_TREES, TEXT, st.booleans())
def test_arbitrary_mime_trees_give_one_record_each(tree, subject, with_id):
    if with_id:
        tree["Message-ID"] = "<tree@x>"
    tree["Subject"] = (
        subject.replace("\r", " ").replace("\n", " ").encode("utf-8").decode("ascii", "surrogateescape")
    )
    record = parse_raw(RawMail(tree.as_bytes(), "tree.eml"))
    assert record.id == ("tree@x" if with_id else "tree.eml")
    assert record.attachments >= 0 and isinstance(record.body, str)
    frame = materialize(pd.DataFrame({"raw_mail": [RawMail(tree.as_bytes(), "tree.eml")]}))
    assert len(frame) == 1


# Values as exports hold them: separators, quotes, line breaks, a BOM inside a value, NUL, CR.
CELL = st.text(
    alphabet=st.sampled_from(list(',"\n\r\t\x00\ufeff =+-@') + list("返品の件ですabc"))
    | st.characters(blacklist_categories=("Cs",)),
    max_size=40,
)
ROWS = st.lists(st.tuples(CELL, CELL), min_size=1, max_size=12)


def written_csv(rows, bom):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["subject", "body"])
    writer.writerows(rows)
    return ("\ufeff" if bom else "") + buffer.getvalue()


def read_back(path, size):
    return pd.concat([materialize(chunk) for chunk in read_chunks(path, size=size)])


@BUDGET
@given(ROWS, st.booleans(), st.integers(min_value=1, max_value=5))
def test_any_csv_rows_read_back_as_one_record_each(tmp_path_factory, rows, bom, size):
    path = tmp_path_factory.mktemp("csv") / "inbox.csv"
    path.write_bytes(written_csv(rows, bom).encode("utf-8"))
    if any("\x00" in value for row in rows for value in row):
        # NUL is what tells binary and UTF-16 files from text: the file is refused as a whole, by name.
        with pytest.raises(InputError, match="inbox.csv: neither UTF-8 nor CP932"):
            read_chunks(path, size=size)
        return
    frame = read_back(path, size)
    assert list(frame.index) == list(range(len(rows)))
    assert list(frame["id"]) == [f"inbox.csv:row{n}" for n in range(1, len(rows) + 1)]
    assert (frame["input_error"] == "").all()
    assert (
        list(zip(frame["subject"], frame["body"])) == rows
    )  # line breaks, quotes and BOMs inside values kept


@BUDGET
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["id", "subject", "body", "extra"]), CELL | st.integers() | st.none()
        ),
        min_size=1,
        max_size=12,
    ),
    st.booleans(),
    st.integers(min_value=1, max_value=5),
)
def test_any_jsonl_records_read_back_as_one_record_each(tmp_path_factory, records, bom, size):
    records = [{**record, "body": record.get("body") or "本文"} for record in records]
    path = tmp_path_factory.mktemp("jsonl") / "inbox.jsonl"
    text = "\n".join(json.dumps(record, ensure_ascii=bool(size % 2)) for record in records) + "\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    frame = read_back(path, size)
    assert len(frame) == len(records) and (frame["input_error"] == "").all()
    assert list(frame["body"]) == [str(record["body"]) for record in records]
