"""Normalization of Japanese inquiry text: NFKC where it is stable, dashes, waves, repeated marks,
control and invisible characters, white space. A pure function of its input."""

from __future__ import annotations

import re
import unicodedata

# Control characters (C0, DEL, C1) become spaces; zero-width characters vanish. The control
# characters str.split() takes for whitespace (\t \n \x0b \x0c \r \x1c-\x1f \x85) are left to the
# final whitespace collapse: no rule in between tells them from a space, and most texts have lines.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Dash look-alikes that survive NFKC: after kana they stand for a long vowel, between digits
# (090ー1234ー5678) and elsewhere for a hyphen.
# Each pattern begins with the character it replaces and looks behind from there: the engine skips
# to that character in its native loop instead of trying a look-behind at every position.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2500\u2501"
_LONG_VOWEL = re.compile(rf"[{_DASHES}](?<=[\u3041-\u309f\u30a1-\u30fc][{_DASHES}])[{_DASHES}]*")
_DIGIT_DASH = re.compile(r"ー(?<=\dー)(?=\d)")
_DASH = re.compile(rf"[{_DASHES}]")
_WAVE = re.compile("[~\u301c\uff5e\u223c\u223e\u3030]")
_REPEATED_MARK = re.compile(r"([!?ー〜])\1+")
_MIXED_MARKS = re.compile(r"[!?]{2,}")


def _nfkc_unstable_class() -> str:
    """A regular-expression class of the characters NFKC may change, reorder or join to the character
    before them: every astral character, and the BMP characters that change alone, combining marks
    and the second characters of canonical compositions (Hangul vowel and final jamo among them)."""
    unstable = {*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)}  # Hangul jamo compose algorithmically
    for code in (*range(0xD800), *range(0xE000, 0x10000)):
        char = chr(code)
        if unicodedata.combining(char) or unicodedata.normalize("NFKC", char) != char:
            unstable.add(code)
        parts = unicodedata.decomposition(char).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            unstable.add(int(parts[1], 16))
    ranges: list[list[int]] = []
    for code in sorted(unstable):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return (
        "".join(re.escape(chr(a)) + ("" if a == b else "-" + re.escape(chr(b))) for a, b in ranges)
        + "\U00010000-\U0010ffff"
    )


_NFKC_UNSTABLE = re.compile(f"[{_nfkc_unstable_class()}]+")


def nfkc(text: str) -> str:
    """unicodedata.normalize("NFKC", text), applied only around the characters it can change.

    Japanese text is mostly kana and kanji that NFKC leaves alone; normalizing each run of other
    characters together with the character before it (which a run may compose with) gives the same
    string at a quarter of the cost. Splitting there is safe: every other character is unchanged by
    NFKC and composes with nothing before it.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    pieces: list[str] = []
    done = 0
    for run in _NFKC_UNSTABLE.finditer(text):
        start = max(run.start() - 1, done)
        pieces += (text[done:start], unicodedata.normalize("NFKC", text[start : run.end()]))
        done = run.end()
    pieces.append(text[done:])
    return "".join(pieces)


def _mixed_marks(match: re.Match[str]) -> str:
    return "!?" if "!" in match.group() and "?" in match.group() else match.group()[0]


def normalize(text: str) -> str:
    """NFKC, no control or zero-width characters, lower-case latin, one kind of dash and wave.

    Runs of the same !?ー〜 collapse to one; all whitespace (newlines too) becomes one space.
    """
    text = nfkc(text)
    text = _INVISIBLE.sub("", _CONTROL.sub(" ", text))
    if _DASH.search(text):  # the substitutions below cost a scan each; most texts need none of them
        text = _DASH.sub("-", _DIGIT_DASH.sub("-", _LONG_VOWEL.sub("ー", text)))
    elif "ー" in text:
        text = _DIGIT_DASH.sub("-", text)
    text = text.lower()
    text = _WAVE.sub("〜", text)
    if _REPEATED_MARK.search(text):
        text = _REPEATED_MARK.sub(r"\1", text)
    if "!" in text or "?" in text:
        text = _MIXED_MARKS.sub(_mixed_marks, text)
    return " ".join(text.split())  # str.split() splits at runs of the whitespace re's \\s matches
