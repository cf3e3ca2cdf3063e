"""Code tests of mail parsing on real mail bytes: every charset and layout Japanese shops receive."""

import mailbox
import os
from datetime import datetime, timedelta, timezone

import pytest
from mailfactory import CHARSETS, build_mail, encode_iso2022jp

from classifier.io.mail import (
    RawMail,
    decode_header_value,
    decode_iso2022jp,
    html_to_text,
    parse_message,
    parse_raw,
    raw_eml,
    raw_maildir,
    raw_mbox,
    strip_quoted,
)

JST = timezone(timedelta(hours=9))
WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=JST)
SUBJECT = "【至急】注文番号KM-2026-004512の商品違い"
BODY = "お世話になります。\n黒のMサイズを注文したのに、白のLサイズが届きました。\n交換をお願いします。"


def test_windows_iso2022jp_extensions_decode():
    # The literal bytes Windows mailers send: NEC row 13 in the JIS X 0208 plane, kana by ESC ( I.
    assert decode_iso2022jp(b'\x1b$B-!-"\x1b(B') == "①②"
    assert decode_iso2022jp(b"\x1b$B-j\x1b(B") == "㈱"
    assert decode_iso2022jp(b"\x1b(I6E\x1b(B") == "ｶﾅ"
    assert decode_iso2022jp(b"\x1b$B|b\x1b(B") == "髙"
    assert decode_iso2022jp(b"abc\x0e6E\x0fdef") == "abcｶﾅdef"  # SO/SI kana


def test_the_factory_writes_what_windows_mailers_write():
    assert encode_iso2022jp("①㈱ｶﾅ") == b"\x1b$B-!-j\x1b(I6E\x1b(B"


@pytest.mark.parametrize("charset", sorted(CHARSETS))
def test_subject_body_and_date_decode_exactly_in_every_charset(charset):
    raw = build_mail(subject=SUBJECT, body=BODY, charset=charset, date=WHEN)
    record = parse_message(raw, "mail.eml")
    assert record.subject == SUBJECT
    assert record.body == BODY
    assert record.received_at == "2026-11-20T09:30:00+09:00"
    assert record.id == "m1@example.jp"
    assert record.error == ""


@pytest.mark.parametrize("charset", ["iso-2022-jp", "shift_jis", "utf-8-base64"])
def test_extension_characters_survive_in_subject_and_body(charset):
    subject = "①の件 ㈱マルシェ 髙橋様 ｻｲｽﾞ"
    body = "②番の部品が不足しています。～よろしくお願いします～ ﾃﾞｽ"
    record = parse_message(build_mail(subject=subject, body=body, charset=charset, date=WHEN), "m.eml")
    assert (record.subject, record.body) == (subject, body)


def test_html_only_mail_becomes_text():
    record = parse_message(
        build_mail(subject=SUBJECT, body=BODY, charset="utf-8-qp", html=True, date=WHEN), "m.eml"
    )
    assert record.body == BODY


def test_html_to_text_drops_scripts_and_keeps_line_breaks():
    markup = (
        "<html><head><title>t</title></head><body><div>一行目<br>二行目</div>"
        "<script>x()</script><p>&lt;注意&gt;</p></body></html>"
    )
    assert html_to_text(markup) == "一行目\n二行目\n<注意>"


def test_attachments_are_skipped_and_counted():
    raw = build_mail(
        subject=SUBJECT,
        body=BODY,
        charset="iso-2022-jp",
        date=WHEN,
        attachment=("写真.jpg", b"\xff\xd8\xff\xe0" * 10),
    )
    record = parse_message(raw, "m.eml")
    assert record.body == BODY and record.attachments == 1


def test_mail_without_date_or_message_id_is_flagged_not_dropped():
    record = parse_message(build_mail(subject=SUBJECT, body=BODY, message_id=None, date=None), "inbox/a.eml")
    assert record.body == BODY
    assert record.id == "inbox/a.eml"
    assert record.received_at == ""
    assert "no Date header" in record.error and "no Message-ID" in record.error


def test_undecodable_body_is_an_error_on_the_record():
    raw = build_mail(subject="件名", body="本文", charset="utf-8-base64", date=WHEN).replace(
        b"charset=UTF-8", b"charset=x-unknown-zz"
    )
    record = parse_message(raw, "m.eml")
    assert record.body == "" and "body: undecodable as x-unknown-zz" in record.error


def test_encoded_word_subject_in_two_charsets():
    raw = "=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?= and =?UTF-8?B?44OG44K544OI?="
    assert decode_header_value(raw) == "日本語 and テスト"


def test_thread_headers_are_kept():
    record = parse_message(
        build_mail(subject="Re: 件名", body=BODY, date=WHEN, in_reply_to="first@example.jp"), "m.eml"
    )
    assert record.in_reply_to == "first@example.jp" and record.references == "first@example.jp"


QUOTED_LAYOUTS = [
    (BODY + "\n\n> 先日はお問い合わせありがとうございます。\n> 確認いたします。"),
    (
        BODY
        + "\n\n-----Original Message-----\nFrom: shop@example.jp\nSubject: お問い合わせ\n\n確認いたします。"
    ),
    (BODY + "\n\n2026/11/15 10:03 くらしのマルシェ <support@example.jp>:\n> 確認いたします。"),
    (BODY + "\n\nOn Sat, Nov 15, 2026 at 10:03 AM Shop <support@example.jp> wrote:\n> ok"),
    (BODY + "\n\n--- 元のメッセージ ---\n差出人: くらしのマルシェ\n\n確認いたします。"),
    (BODY + "\n\n【お問い合わせ内容】\n商品が届きません。"),
    (BODY + "\n\n-- \n山田 花子\n〒123-4567 東京都港区1-2-3\nTEL 090-1234-5678"),
    (BODY + "\n\n-- \n星野 巧\n注文番号 A-7712"),  # after RFC 3676's "-- " any short block is a signature
    (BODY + "\n\n----------\n星野 巧\n080-2718-2818"),  # a phone number makes it contact details
    (
        BODY
        + "\n\n＝＝＝＝＝＝＝＝＝＝\n株式会社テスト 購買部\n山田 太郎\n"
        + "yamada@example.co.jp\n＝＝＝＝＝＝＝＝＝＝"
    ),
]


@pytest.mark.parametrize("body", QUOTED_LAYOUTS)
def test_quoted_messages_and_signatures_are_removed(body):
    assert strip_quoted(body) == BODY


def test_a_rule_inside_the_message_is_not_a_signature():
    body = (
        "注文内容\n----------\n・マグカップ 2個\n・ティーポット 1個\n----------\n"
        "このうちマグカップが1個足りませんでした。\n確認をお願いします。"
    )
    assert strip_quoted(body) == body
    postscript = (
        "在庫はありますか?\n--\n追伸 色違いも気になっています"  # two dashes without the space: a divider
    )
    assert strip_quoted(postscript) == postscript


def test_mbox_and_maildir_are_read(tmp_path):
    raws = [
        build_mail(
            subject=f"件名{i}", body=f"本文{i}", message_id=f"m{i}@x", date=WHEN, charset="iso-2022-jp"
        )
        for i in range(3)
    ]
    box = mailbox.mbox(tmp_path / "inbox.mbox")
    for raw in raws:
        box.add(raw)
    box.flush()
    assert [parse_raw(r).body for r in raw_mbox(tmp_path / "inbox.mbox")] == ["本文0", "本文1", "本文2"]
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    for raw in raws:
        maildir.add(raw)
    assert sorted(parse_raw(r).subject for r in raw_maildir(tmp_path / "Maildir")) == [
        "件名0",
        "件名1",
        "件名2",
    ]


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (SUBJECT.encode("utf-8"), SUBJECT),
        (SUBJECT.encode("cp932"), SUBJECT),
        ("返品 ".encode() + b"=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", "返品 日本語"),
        (b"\xe8\xbf\x94\xff", "返\ufffd"),  # neither UTF-8 nor CP932: kept with a replacement mark
    ],
    ids=["utf-8", "cp932", "8bit-and-encoded-word", "undecodable"],
)
def test_raw_8bit_subject_is_decoded_not_dropped(encoded, expected):
    raw = (
        b"From: customer@example.jp\r\nSubject: "
        + encoded
        + b"\r\nMessage-ID: <r@x>\r\nDate: Fri, 20 Nov 2026 09:30:00 +0900\r\n"
        b"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + BODY.encode("utf-8")
        + b"\r\n"
    )
    record = parse_message(raw, "m.eml")
    assert (record.subject, record.body, record.error) == (expected, BODY, "")


def test_8bit_thread_headers_and_an_unreadable_date_do_not_break_the_mail():
    raw = (
        "Subject: 件名\r\nMessage-ID: <注文@x>\r\nIn-Reply-To: <前回@x>\r\n"
        "Date: 佐々木 美咲 090-1234-5678\r\n\r\n本文です\r\n"
    ).encode()
    record = parse_message(raw, "m.eml")
    assert (record.id, record.in_reply_to, record.subject, record.body) == (
        "注文@x",
        "前回@x",
        "件名",
        "本文です",
    )
    assert record.error == "Date: not a readable date"  # the header's text is not repeated


def nested_mail(levels: int) -> bytes:
    opening = "".join(f'Content-Type: multipart/mixed; boundary="b{n}"\n\n--b{n}\n' for n in range(levels))
    closing = "".join(f"--b{n}--\n" for n in reversed(range(levels)))
    return (
        f"Message-ID: <n{levels}@x>\n{opening}Content-Type: text/plain; charset=utf-8\n\n"
        f"返品したいです\n{closing}"
    ).encode()


@pytest.mark.parametrize("levels", [51, 2000, 20000])
def test_mime_nesting_past_the_limit_is_the_records_error_not_a_crash(levels):
    record = parse_raw(RawMail(nested_mail(levels), "deep.eml"), max_depth=50)
    assert (record.id, record.body) == ("deep.eml", "")
    assert (
        record.error
        == "MIME parts nested deeper than 50 levels (params.yaml limits.max_mime_depth): not read"
    )


def test_nesting_within_the_limit_is_read():
    record = parse_raw(RawMail(nested_mail(49), "ok.eml"), max_depth=50)
    assert (record.id, record.body) == ("n49@x", "返品したいです")


def test_a_mail_over_the_size_limit_is_one_record_and_is_not_read(tmp_path):
    raw = build_mail(subject="件名", body="本文" * 100, message_id="big@x", date=WHEN)
    (tmp_path / "big.eml").write_bytes(raw)
    (tmp_path / "small.eml").write_bytes(raw[:200])
    read = list(raw_eml([tmp_path / "big.eml", tmp_path / "small.eml"], max_bytes=len(raw) - 1))
    assert read[0] == RawMail(
        b"",
        str(tmp_path / "big.eml"),
        f"mail of {len(raw):,} bytes, over the limit of {len(raw) - 1:,} "
        "(params.yaml limits.max_mail_bytes): not read",
    )
    assert read[1].data == raw[:200] and read[1].problem == ""
    box = mailbox.mbox(tmp_path / "inbox.mbox")
    box.add(raw)
    box.add(build_mail(subject="件名", body="短い", message_id="s@x", date=WHEN))
    box.flush()
    assert [
        parse_raw(r).error.startswith("mail of ")
        for r in raw_mbox(tmp_path / "inbox.mbox", max_bytes=len(raw) - 1)
    ] == [True, False]


def test_a_file_name_that_is_not_utf8_keeps_its_bytes_escaped(tmp_path):
    name = os.fsdecode(b"\x82\xa0-\xff.eml")  # a CP932 name copied from Windows: not UTF-8
    (tmp_path / name).write_bytes(build_mail(subject="件名", body="本文", message_id=None, date=WHEN))
    [raw] = raw_eml([tmp_path / name])
    assert raw.source == str(tmp_path) + "/\\x82\\xa0-\\xff.eml"
    assert raw.source.encode("utf-8")  # writable as UTF-8 (the surrogate form is not)
    assert parse_raw(raw).id == raw.source and parse_raw(raw).body == "本文"
