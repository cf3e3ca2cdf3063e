"""Builds real mail bytes the way Japanese mailers write them, for tests and the sample inbox.

ISO-2022-JP is written as Windows mailers do (CP50221: NEC special characters such as ① and ㈱ in
the JIS X 0208 plane, half-width katakana by ESC ( I); Shift_JIS as CP932; EUC-JP; UTF-8 in base64
or quoted-printable. Bytes are assembled by hand where the standard library would refuse a
character, so the parser is tested on what real senders send, not on what Python would write.
"""

from __future__ import annotations

import base64
import quopri
import urllib.parse
from datetime import datetime
from email.utils import format_datetime

HALF_WIDTH_KANA = range(0xA1, 0xE0)


def encode_iso2022jp(text: str) -> bytes:
    """CP50221: CP932 bytes transcoded to JIS, escape sequences around each run."""
    out = bytearray()
    mode = "ascii"
    data = text.encode("cp932")
    i = 0
    while i < len(data):
        b = data[i]
        if b < 0x80:
            if mode != "ascii":
                out += b"\x1b(B"
                mode = "ascii"
            out.append(b)
            i += 1
        elif b in HALF_WIDTH_KANA:
            if mode != "kana":
                out += b"\x1b(I"
                mode = "kana"
            out.append(b - 0x80)
            i += 1
        else:
            if mode != "jis":
                out += b"\x1b$B"
                mode = "jis"
            s1, s2 = b, data[i + 1]
            j1 = ((s1 - (0x81 if s1 <= 0x9F else 0xC1)) << 1) + 0x21
            if s2 >= 0x9F:
                j1 += 1
                j2 = s2 - 0x7E
            else:
                j2 = s2 - (0x20 if s2 >= 0x80 else 0x1F)
            out += bytes((j1, j2))
            i += 2
    if mode != "ascii":
        out += b"\x1b(B"
    return bytes(out)


CHARSETS = {
    "iso-2022-jp": ("ISO-2022-JP", encode_iso2022jp, "7bit"),
    "shift_jis": ("Shift_JIS", lambda t: t.encode("cp932"), "base64"),
    "euc-jp": ("EUC-JP", lambda t: t.encode("euc_jp"), "base64"),
    "utf-8-base64": ("UTF-8", lambda t: t.encode("utf-8"), "base64"),
    "utf-8-qp": ("UTF-8", lambda t: t.encode("utf-8"), "quoted-printable"),
}


def encoded_word(text: str, charset: str) -> str:
    """A header value as MIME encoded-words, short enough for one line each."""
    name, encode, _ = CHARSETS[charset]
    chunks = [text[i : i + 8] for i in range(0, len(text), 8)] or [""]
    return "\r\n ".join(f"=?{name}?B?{base64.b64encode(encode(c)).decode()}?=" for c in chunks)


def transfer(payload: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        return base64.encodebytes(payload)
    if encoding == "quoted-printable":
        return quopri.encodestring(payload)
    return payload.replace(b"\n", b"\r\n") + b"\r\n"


def text_part(text: str, charset: str, subtype: str = "plain") -> bytes:
    name, encode, encoding = CHARSETS[charset]
    head = f"Content-Type: text/{subtype}; charset={name}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
    return head.encode() + transfer(encode(text.replace("\r\n", "\n")), encoding)


def build_mail(
    *,
    subject: str,
    body: str,
    charset: str = "iso-2022-jp",
    message_id: str | None = "m1@example.jp",
    date: datetime | None = None,
    sender: str = "customer@example.jp",
    html: bool = False,
    attachment: tuple[str, bytes] | None = None,
    in_reply_to: str | None = None,
) -> bytes:
    """One complete message: headers, a text (or HTML-only) part, optionally an attachment."""
    headers = [
        f"From: {sender}",
        "To: support@shop.example.jp",
        f"Subject: {encoded_word(subject, charset)}",
        "MIME-Version: 1.0",
    ]
    if message_id:
        headers.append(f"Message-ID: <{message_id}>")
    if date:
        headers.append(f"Date: {format_datetime(date)}")
    if in_reply_to:
        headers += [f"In-Reply-To: <{in_reply_to}>", f"References: <{in_reply_to}>"]
    content = body
    if html:
        escaped = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        paragraphs = "".join(f"<p>{line}</p>" for line in escaped.split("\n"))
        content = f"<html><head><style>p {{margin:0}}</style></head><body>{paragraphs}</body></html>"
    part = text_part(content, charset, "html" if html else "plain")
    if attachment is None:
        return ("\r\n".join(headers) + "\r\n").encode() + part
    boundary = "=_boundary_42"
    name, data = attachment
    quoted_name = "UTF-8''" + urllib.parse.quote(name)  # RFC 2231, as mailers write non-ASCII file names
    attached = (
        f"Content-Type: application/octet-stream; name*={quoted_name}\r\n"
        f"Content-Disposition: attachment; filename*={quoted_name}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + base64.encodebytes(data)
    headers.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
    return (
        ("\r\n".join(headers) + f"\r\n\r\n--{boundary}\r\n").encode()
        + part
        + f"\r\n--{boundary}\r\n".encode()
        + attached
        + f"\r\n--{boundary}--\r\n".encode()
    )
