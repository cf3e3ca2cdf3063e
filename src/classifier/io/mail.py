"""Mail: from raw message bytes (a `.eml` file, an mbox, a Maildir) to the text of an inquiry.

Owns charset decoding (ISO-2022-JP with the Windows extensions real Japanese mail uses, Shift_JIS as
CP932, EUC-JP, UTF-8), MIME encoded-word subjects, HTML-only mail, attachments (skipped, counted),
and the removal of quoted earlier messages and signatures, so the model reads what the customer
wrote now. Standard library `email` does the MIME work.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
import html
import mailbox
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import BinaryIO

from classifier.config import Limits

# --- charsets --------------------------------------------------------------------------------

_ESCAPE = re.compile(rb"\x1b(\$@|\$B|\$\(D|\(B|\(J|\(I)")


def _jis_pair_to_sjis(j1: int, j2: int) -> bytes:
    s1 = ((j1 - 0x21) >> 1) + 0x81
    if s1 > 0x9F:
        s1 += 0x40
    s2 = j2 + 0x1F + (1 if j2 >= 0x60 else 0) if j1 & 1 else j2 + 0x7E
    return bytes((s1, s2))


def decode_iso2022jp(data: bytes) -> str:
    """ISO-2022-JP as Windows mailers write it (CP50221): NEC special characters (①, ㈱) and IBM
    extensions in the JIS X 0208 plane, half-width katakana by ESC ( I or SO/SI. No Python codec
    decodes these, so the bytes are transcoded to CP932 (the same character table) and decoded."""
    out = bytearray()
    mode = b"(B"
    shifted = False
    position = 0
    for match in [*_ESCAPE.finditer(data), None]:
        end = match.start() if match else len(data)
        chunk = data[position:end]
        if mode in (b"$@", b"$B"):
            pairs = chunk.replace(b"\n", b"").replace(b"\r", b"")
            if len(pairs) % 2:
                raise UnicodeDecodeError("iso-2022-jp", data, position, end, "odd byte count in a JIS run")
            for i in range(0, len(pairs), 2):
                out += _jis_pair_to_sjis(pairs[i], pairs[i + 1])
        elif mode == b"(I":
            out += bytes(b + 0x80 for b in chunk)
        elif mode == b"$(D":
            raise UnicodeDecodeError("iso-2022-jp", data, position, end, "JIS X 0212 is not supported")
        else:
            for b in chunk:
                if b == 0x0E:
                    shifted = True
                elif b == 0x0F:
                    shifted = False
                else:
                    out.append(b + 0x80 if shifted and 0x21 <= b <= 0x5F else b)
        if match:
            mode, position = match.group(1), match.end()
    return out.decode("cp932")


# A declared charset and the codecs that decode what senders actually mean by it, best first.
_CHARSET_CHAIN: dict[str, tuple[str | Callable[[bytes], str], ...]] = {
    "iso-2022-jp": (decode_iso2022jp,),
    "shift_jis": ("cp932",),
    "sjis": ("cp932",),
    "x-sjis": ("cp932",),
    "cp932": ("cp932",),
    "windows-31j": ("cp932",),
    "euc-jp": ("euc_jp", "euc_jis_2004"),
    "utf-8": ("utf-8",),
    "us-ascii": ("utf-8",),
}


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset's chain; raise UnicodeDecodeError if nothing fits."""
    name = (charset or "us-ascii").lower().strip('"')
    for codec in _CHARSET_CHAIN.get(name, (name,)):
        try:
            return codec(data) if callable(codec) else data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    raise UnicodeDecodeError(name, data, 0, len(data), f"cannot decode as {name}")


def decode_8bit(data: bytes) -> str:
    """Bytes sent without any declared charset (raw 8-bit headers): UTF-8 as modern mailers write,
    else CP932 as older Japanese ones do, else UTF-8 with replacement characters so nothing is lost."""
    for codec in ("utf-8", "cp932"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def decode_header_value(raw: str | email.header.Header | None) -> str:
    """A header with MIME encoded-words (=?ISO-2022-JP?B?…?=) as text.

    The compat32 parser hands raw 8-bit bytes over as one 'unknown-8bit' chunk, encoded-words and
    all: those bytes are decoded by `decode_8bit` and the encoded-words inside them decoded after."""
    if not raw:
        return ""
    parts = []
    for value, charset in email.header.decode_header(raw):
        if isinstance(value, bytes) and charset == "unknown-8bit":
            text = decode_8bit(value)
            parts.append(_ENCODED_WORD.sub(lambda word: decode_header_value(word.group(0)), text))
        else:
            parts.append(decode_bytes(value, charset) if isinstance(value, bytes) else value)
    return re.sub(r"\s*\n\s*", " ", "".join(parts)).strip()


# --- HTML ------------------------------------------------------------------------------------

_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "hr"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in ("br", "hr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = html.unescape("".join(parser.parts))
    lines = [re.sub(r"[ \t\u3000]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- quoted text and signatures --------------------------------------------------------------

_QUOTE_HEADERS = re.compile(
    r"^\s*(?:-{2,}\s*(?:Original Message|元のメッセージ|Forwarded message|転送メッセージ)\s*-{2,}"
    r"|_{5,}\s*$"
    r"|On .+wrote:\s*$"
    r"|.+(?:wrote|書きました|のメッセージ)\s*[:：]\s*$"
    r"|\d{4}[/年\-]\d{1,2}[/月\-]\d{1,2}.*<[^>]+@[^>]+>.*[:：]?\s*$"
    r"|【お問い合わせ内容】|【お問合せ内容】|【前回のお問い合わせ】"
    r"|From:\s.+|差出人\s*[:：].+)",
    re.IGNORECASE,
)
_QUOTED_LINE = re.compile(r"^\s*(?:>|＞|&gt;)")
_SIGNATURE_RULE = re.compile(r"^\s*(?:--\s*|[-=＝━─_*~〜+]{4,}|[-=＝━─]{2,}.{0,30}[-=＝━─]{2,})\s*$")
_CONTACT = re.compile(r"(?:TEL|Tel|tel|電話|FAX|Fax|〒|@|https?://|携帯|住所|\d{2,4}-\d{2,4}-\d{3,4})")
_SIG_DASHES = re.compile(r"^-- $")  # RFC 3676's signature separator: what follows is a signature


def strip_quoted(body: str) -> str:
    """What the customer wrote now: no quoted earlier message, no signature block."""
    lines = body.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        if _QUOTE_HEADERS.match(line) and i > 0:
            lines = lines[:i]
            break
    lines = [line for line in lines if not _QUOTED_LINE.match(line)]
    lines = _strip_signature(lines)
    return "\n".join(lines).strip()


def _strip_signature(lines: list[str]) -> list[str]:
    """Cut at the separator that opens a short closing block with contact details.

    The block may be closed by a second rule (＝＝＝ … ＝＝＝), which is then part of it.
    """
    rules = [i for i, line in enumerate(lines) if _SIGNATURE_RULE.match(line)]
    content = [i for i, line in enumerate(lines) if line.strip()]
    if not rules or not content:
        return lines
    start = rules[-1]
    if start == content[-1] and len(rules) > 1:  # a closing rule: the block opens at the rule before
        start = rules[-2]
    block = [line for line in lines[start + 1 :] if line.strip() and not _SIGNATURE_RULE.match(line)]
    signed = _SIG_DASHES.match(lines[start]) is not None
    if (
        start > 0
        and len(block) <= 10
        and (signed or not block or any(_CONTACT.search(line) for line in block))
    ):
        return lines[:start]
    return lines


# --- messages --------------------------------------------------------------------------------


@dataclass
class MailRecord:
    """One mail as an inquiry row, plus what the thread linking and the error column need."""

    id: str
    received_at: str = ""
    subject: str = ""
    body: str = ""
    channel: str = "email"
    in_reply_to: str = ""
    references: str = ""
    attachments: int = 0
    source: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def error(self) -> str:
        return "; ".join(self.problems)


def _plain_header(message: email.message.Message, name: str) -> str:
    """A header as a str: with raw 8-bit bytes in it, compat32 returns a Header object instead."""
    value = message.get(name)
    if isinstance(value, email.header.Header):
        return decode_header_value(value)
    return (value or "").strip()


def _text_parts(message: email.message.Message) -> tuple[list[email.message.Message], int]:
    texts, attachments = [], 0
    for part in message.walk():
        if part.is_multipart():
            continue
        disposition = str(part.get("Content-Disposition") or "").lower()
        if disposition.startswith("attachment") or part.get_filename():
            attachments += 1
        elif part.get_content_type() in ("text/plain", "text/html"):
            texts.append(part)
        else:
            attachments += 1
    return texts, attachments


def _part_text(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    text = decode_bytes(payload if isinstance(payload, bytes) else b"", part.get_content_charset())
    return html_to_text(text) if part.get_content_type() == "text/html" else text


def parse_message(data: bytes | email.message.Message, source: str) -> MailRecord:
    """Parse one message (its bytes, or as parsed already); problems are recorded on the record."""
    message = (
        data
        if isinstance(data, email.message.Message)
        else email.message_from_bytes(data, policy=email.policy.compat32)
    )
    raw_id = _plain_header(message, "Message-ID")
    record = MailRecord(id=raw_id.strip("<>") or f"{source}", source=source)
    if not raw_id:
        record.problems.append("no Message-ID (id taken from the file)")
    try:
        record.subject = decode_header_value(message.get("Subject"))
    except UnicodeDecodeError as error:
        record.problems.append(f"subject: undecodable ({error.reason})")
    date = _plain_header(message, "Date")
    try:
        record.received_at = email.utils.parsedate_to_datetime(date).isoformat() if date else ""
    except (TypeError, ValueError):
        # The header's text is not repeated: the error column must carry no personal data.
        record.problems.append("Date: not a readable date")
    if not date:
        record.problems.append("no Date header")
    record.in_reply_to = _plain_header(message, "In-Reply-To").strip("<>")
    record.references = " ".join(r.strip("<>") for r in _plain_header(message, "References").split())
    texts, record.attachments = _text_parts(message)
    plain = [p for p in texts if p.get_content_type() == "text/plain"]
    chosen = plain[0] if plain else (texts[0] if texts else None)
    if chosen is None:
        record.problems.append("no text part")
        return record
    try:
        record.body = strip_quoted(_part_text(chosen))
    except UnicodeDecodeError as error:
        record.problems.append(f"body: undecodable as {chosen.get_content_charset()} ({error.reason})")
        return record
    if not record.body.strip():
        record.problems.append("empty body")
    return record


@dataclass(frozen=True)
class RawMail:
    """A message's bytes as read, before parsing (parsing happens where the scoring does)."""

    data: bytes
    source: str
    problem: str = ""  # why the bytes could not be read


DEFAULT_MAX_DEPTH = Limits().max_mime_depth


def mime_depth(message: email.message.Message) -> int:
    """How deeply multipart parts nest (1: not multipart), counted without recursion, as the tree
    may be deeper than Python's recursion limit."""
    deepest, stack = 0, [(message, 1)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload if isinstance(child, email.message.Message))
    return deepest


def _too_deep(source: str, max_depth: int) -> MailRecord:
    problem = (
        f"MIME parts nested deeper than {max_depth} levels (params.yaml limits.max_mime_depth): not read"
    )
    return MailRecord(id=source, source=source, problems=[problem])


def parse_raw(raw: RawMail, max_depth: int = DEFAULT_MAX_DEPTH) -> MailRecord:
    """The record of one mail; never raises, so one malformed mail cannot stop a batch. A tree
    nested deeper than `max_depth` is refused before it is walked (the walk recurses per level)."""
    if raw.problem:
        return MailRecord(id=raw.source, source=raw.source, problems=[raw.problem])
    try:
        message = email.message_from_bytes(raw.data, policy=email.policy.compat32)
        if mime_depth(message) > max_depth:
            return _too_deep(raw.source, max_depth)
        return parse_message(message, raw.source)
    except RecursionError:  # the parser itself recurses per level: a tree deeper than it can go
        return _too_deep(raw.source, max_depth)
    except Exception as error:
        return MailRecord(
            id=raw.source, source=raw.source, problems=[f"unparseable mail ({type(error).__name__})"]
        )


DEFAULT_MAX_BYTES = Limits().max_mail_bytes


def display_path(path: Path | str) -> str:
    """A path as text that can be written anywhere: a file name that is not UTF-8 keeps its bytes,
    shown as \\xNN escapes (Python would hold them as surrogates no output encoding accepts)."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def _too_large(size: int, max_bytes: int) -> str:
    return (
        f"mail of {size:,} bytes, over the limit of {max_bytes:,} "
        "(params.yaml limits.max_mail_bytes): not read"
    )


def raw_eml(paths: Iterator[Path] | list[Path], max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[RawMail]:
    """Each file's bytes; one too large is not read at all (its size is all the record carries)."""
    for path in paths:
        source = display_path(path)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                yield RawMail(b"", source, _too_large(size, max_bytes))
            else:
                yield RawMail(path.read_bytes(), source)
        except OSError as error:
            yield RawMail(b"", source, f"unreadable file ({error.strerror})")


def eml_files(directory: Path, recursive: bool = False) -> tuple[list[Path], int]:
    """The .eml files of a folder (suffix in any case: Windows tools write .EML), sorted by their
    path relative to it; and how many more lie in subfolders and were left out (none if recursive).
    A mail's fallback id (no Message-ID) is its path, the folder joined with the path below it, so
    equal file names in two subfolders stay distinct.

    Symbolic links to folders are not followed, so a link loop cannot make the walk endless."""
    found: list[Path] = []
    skipped = 0
    for folder, subfolders, names in os.walk(directory):
        subfolders.sort()
        emls = [Path(folder) / name for name in names if name.lower().endswith(".eml")]
        if recursive or Path(folder) == directory:
            found.extend(path for path in emls if path.is_file())
        else:
            skipped += len(emls)
    return sorted(found, key=lambda path: path.relative_to(directory).parts), skipped


# mbox (mboxo/mboxrd): a message starts at a "From " line after a blank line (or at the file start).
# A real separator names a sender and a date; one whose date is missing still separates when the
# next line is a header field, as a mail always starts with one. Any other "From " line is body.
_SEPARATOR = re.compile(rb"From \S+ (?=.*\b\d{1,2}:\d{2})(?=.*\b\d{4}\b)")
_HEADER_FIELD = re.compile(rb"[!-9;-~]+:")
_QUOTED_FROM = re.compile(rb">+From ")
_CONTENT_LENGTH = re.compile(rb"Content-Length:[ \t]*(\d+)[ \t]*\r?$", re.IGNORECASE)


def _is_blank(line: bytes) -> bool:
    return not line.strip(b"\r\n")


def _peek_line(handle: BinaryIO) -> bytes:
    position = handle.tell()
    line = handle.readline()
    handle.seek(position)
    return line


def _is_separator(line: bytes, handle: BinaryIO) -> bool:
    if not line.startswith(b"From "):
        return False
    return bool(_SEPARATOR.match(line) or _HEADER_FIELD.match(_peek_line(handle)))


def _declared_body_end(header_lines: list[bytes], body_start: int, handle: BinaryIO) -> int:
    """Where a Content-Length header says the body ends, if the file agrees (the declared end is
    the end of the file or, after blank lines, a "From " line); -1 when there is none to trust.
    A wrong length is ignored rather than allowed to swallow the next mails."""
    lengths = [m for line in header_lines if (m := _CONTENT_LENGTH.match(line.rstrip(b"\n")))]
    if not lengths:
        return -1
    end = body_start + int(lengths[-1].group(1))
    position = handle.tell()
    size = handle.seek(0, os.SEEK_END)
    handle.seek(end)
    following = handle.readline()
    while following and _is_blank(following):
        following = handle.readline()
    handle.seek(position)
    return end if end <= size and (not following or following.startswith(b"From ")) else -1


def _message_bytes(lines: list[bytes]) -> bytes:
    """One message as written, with mboxrd/mboxo ">From " quoting undone and without the blank line
    the mbox puts before the next separator."""
    if lines and _is_blank(lines[-1]):
        lines = lines[:-1]
    return b"".join(line[1:] if _QUOTED_FROM.match(line) else line for line in lines)


def mbox_messages(handle: BinaryIO) -> Iterator[bytes]:
    """The messages of an mbox, read line by line (memory bounded by the largest mail). Text before
    the first separator is a message too (a file cut at its start keeps its first mail)."""
    lines: list[bytes] = []
    in_headers, previous_blank = True, True  # the start of the file counts as after a blank line
    offset, body_end = 0, -1
    while line := handle.readline():
        start, offset = offset, offset + len(line)
        if start >= body_end and previous_blank and _is_separator(line, handle):
            if any(not _is_blank(kept) for kept in lines):
                yield _message_bytes(lines)
            lines, in_headers, previous_blank, body_end = [], True, False, -1
            continue
        if in_headers and _is_blank(line):
            in_headers = False
            body_end = _declared_body_end(lines, offset, handle)
        lines.append(line)
        previous_blank = _is_blank(line)
    if any(not _is_blank(kept) for kept in lines):
        yield _message_bytes(lines)


def _within(data: bytes, source: str, max_bytes: int) -> RawMail:
    return (
        RawMail(data, source)
        if len(data) <= max_bytes
        else RawMail(b"", source, _too_large(len(data), max_bytes))
    )


def raw_mbox(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[RawMail]:
    """The messages of an mbox file, numbered from 1 (`path#n`). Never raises: a read failure
    becomes one record carrying it, after the messages read before it."""
    number, shown = 0, display_path(path)
    try:
        with path.open("rb") as handle:
            for data in mbox_messages(handle):
                number += 1
                yield _within(data, f"{shown}#{number}", max_bytes)
    except OSError as error:
        yield RawMail(
            b"", f"{shown}#{number + 1}", f"unreadable mbox after message {number} ({error.strerror})"
        )


def raw_maildir(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[RawMail]:
    box = mailbox.Maildir(path, create=False)
    for key in sorted(box.iterkeys()):
        yield _within(box.get_bytes(key), display_path(f"{path}/{key}"), max_bytes)
