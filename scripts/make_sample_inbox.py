"""Write data/new/*.eml from the hand-written mails in data/sample/inbox_mails.jsonl.

Each mail gets a realistic encoding and layout, assigned deterministically so the inbox is
reproducible: ISO-2022-JP (with ①, ㈱, half-width katakana as Windows mailers send them),
Shift_JIS, EUC-JP, UTF-8 base64 and quoted-printable, HTML-only, attachments, quoted earlier
messages in the mailer's style, signatures and In-Reply-To threads. Expected labels stay in the
JSONL, never in the mail.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the synthetic mail builder
from mailfactory import build_mail

ENCODINGS = ("iso-2022-jp", "shift_jis", "utf-8-base64", "iso-2022-jp", "utf-8-qp", "euc-jp")
SHOP = "くらしのマルシェ <support@kurashi-marche.example.jp>"


def quote(text: str, style: str, when: str) -> str:
    lines = text.split("\n")
    if style == "gt":
        return "\n\n" + "\n".join(f"> {line}" for line in lines)
    if style == "outlook":
        return (
            f"\n\n-----Original Message-----\nFrom: {SHOP}\nSent: {when}\nSubject: Re: お問い合わせ\n\n"
            + text
        )
    if style == "wrote":
        return f"\n\n{when} {SHOP}:\n" + "\n".join(f"> {line}" for line in lines)
    if style == "jp_original":
        return f"\n\n--- 元のメッセージ ---\n差出人: {SHOP}\n送信日時: {when}\n\n" + text
    return "\n\n【お問い合わせ内容】\n" + text


def message_id(key: str) -> str:
    return f"{key}.20261116@mail.example.jp"


def main() -> None:
    source = Path("data/sample/inbox_mails.jsonl")
    out = Path("data/new")
    out.mkdir(parents=True, exist_ok=True)
    mails = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    for index, mail in enumerate(mails):
        body = mail["body"]
        date = datetime.fromisoformat(mail["date"])
        if mail.get("quoted"):
            body += quote(mail["quoted"], mail.get("quote_style") or "gt", date.strftime("%Y/%m/%d %H:%M"))
        if mail.get("signature"):
            signature = mail["signature"]
            body += "\n\n" + (
                signature if signature.startswith(("--", "＝", "=", "━", "─")) else "-- \n" + signature
            )
        charset = ENCODINGS[index % len(ENCODINGS)]
        text = body + mail["subject"]
        for fallback in (charset, "iso-2022-jp", "utf-8-base64"):
            try:
                (
                    text.encode("euc_jp")
                    if fallback == "euc-jp"
                    else text.encode("cp932")
                    if fallback != "utf-8-base64"
                    else b""
                )
                charset = fallback
                break
            except UnicodeEncodeError:
                continue
        attachment = (
            (mail["attachment"], b"\xff\xd8\xff\xe0" + bytes(range(64))) if mail.get("attachment") else None
        )
        raw = build_mail(
            subject=mail["subject"],
            body=body,
            charset=charset,
            message_id=message_id(mail["key"]),
            date=date,
            sender=f"{mail['from_addr']}",
            html=bool(mail.get("html")),
            attachment=attachment,
            in_reply_to=message_id(mail["reply_to"]) if mail.get("reply_to") else None,
        )
        (out / f"{mail['key']}.eml").write_bytes(raw)
    print(f"{len(mails)} mails → {out}/")


if __name__ == "__main__":
    main()
