"""Japanese text processing: normalization, masking of personal and variable tokens, tokenization.

Everything the model learns from passes through `preprocess` (normalize, then mask) and then
`tokenize` (MeCab via fugashi + unidic-lite). Both are pure functions of their input; the tagger is
a per-process, per-thread cache, so nothing native is ever pickled with a model.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

import fugashi

T = TypeVar("T")

# --- normalization ---------------------------------------------------------------------------

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
    return "".join(re.escape(chr(a)) + ("" if a == b else "-" + re.escape(chr(b))) for a, b in ranges) + "\U00010000-\U0010ffff"


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
    pieces, done = [], 0
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


# --- masking ---------------------------------------------------------------------------------

PLACEHOLDERS = ("URL", "EMAIL", "PHONE", "POSTAL", "ADDRESS", "ORDER", "MONEY", "DATE")

_NUM_L = r"(?<![0-9a-z\-.])"  # not glued to a longer alphanumeric run on the left
_NUM_R = r"(?![0-9a-z\-])"
# The order matters: the first pattern that matches a span wins, so specific formats
# (mall order ids, postal codes with 〒, ISO dates) are tried before the generic digit runs.
_MASK_PATTERNS: tuple[tuple[str, str, str, str], ...] = (
    # (placeholder, the characters a match can start with, a pattern every match contains (checked
    #  first: a text without it is not scanned; '' for none), pattern)
    ("URL", "hw", r"http|www\.", r"(?:https?://|www\.)[^\s<>\"'、。「」()]+"),
    ("EMAIL", r"0-9a-z._%+\-", "@", r"[0-9a-z._%+\-]+@[0-9a-z.\-]+\.[a-z]{2,}"),
    ("ORDER", r"\d", r"-\d{7}-", _NUM_L + r"\d{3}-\d{7}-\d{7}" + _NUM_R),
    ("POSTAL", r"〒\d", r"〒|-(?<=(?<![0-9a-z\-.])\d{3}-)\d{4}(?![0-9a-z\-])",  # 〒, or the second form from its dash
        r"〒\s?\d{3}-?\d{4}" + _NUM_R + "|" + _NUM_L + r"\d{3}-\d{4}" + _NUM_R),
    ("DATE", r"\d", r"[月/\-.](?:(?<=[月/])|\d{1,2}[/\-.])",  # 月, a slash, or two separated numbers
        r"(?:\d{4}年)?\d{1,2}月\d{1,2}日"
        + "|" + _NUM_L + r"\d{4}[/\-.]\d{1,2}[/\-.]\d{1,2}" + _NUM_R
        + "|" + _NUM_L + r"(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])" + _NUM_R),
    ("PHONE", r"+0", r"0|\+81",
        r"\+81[\s\-]?\d{1,4}[\s\-]?\d{1,4}[\s\-]?\d{3,4}" + _NUM_R
        + "|" + _NUM_L + r"0\d{1,4}-\d{1,4}-\d{3,4}" + _NUM_R
        + "|" + _NUM_L + r"0[5789]0\d{8}" + _NUM_R
        + "|" + _NUM_L + r"0\d{9}" + _NUM_R),
    # 丁目, or from the dash: a kanji, up to 4 digits, the dash, a digit
    ("ADDRESS", r"\d", "丁目|-(?:" + "|".join(rf"(?<=[\u4e00-\u9fff]\d{{{n}}}-)" for n in range(1, 5)) + r")\d",
        r"\d{1,4}丁目\d{1,4}番地?(?:\d{1,4}号)?"
        + "|" + r"(?<=[\u4e00-\u9fff])\d{1,4}(?:-\d{1,4}){1,2}" + _NUM_R),
    ("ORDER", r"#0-9a-z", "",
        r"#\s?\d{4,}"
        + "|" + _NUM_L + r"\d{6,}(?:-\d+)*" + _NUM_R
        # codes of letters and digits in hyphenated parts (kz-u-0227, bh-0305-stl30, b2b-104477)
        + "|" + _NUM_L + r"(?=(?:[a-z_\-]*\d){4})[a-z0-9]+(?:[\-_][a-z0-9]+)+" + _NUM_R),
    ("MONEY", r"¥\\$\d", r"円|¥|\\|\$", r"[¥\\$]\s?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s?(?:万|千)?円"),
)
# Each pattern P is compiled as `[first](?<=(?=(P)).)`: a character class the regular-expression
# engine skips to in its native loop, then a look-behind that steps back onto that character and
# matches P from there (group 1). The matches are those of P; without the leading class the engine
# tried every alternative and look-behind at each position of the text, which made masking cost
# almost as much as MeCab's parse. A text without a match of a pattern's needle (which begins with
# a literal or one class, for the same native skip) is not scanned at all.
_MASKS = tuple(
    (name, re.compile(needle) if needle else None, re.compile(f"[{first}](?<=(?=({pattern})).)"))
    for name, first, needle, pattern in _MASK_PATTERNS
)


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    """Where a `_MASKS` pattern matches, left to right and without overlaps, as `re.sub` finds them."""
    spans, position = [], 0
    while (match := pattern.search(text, position)) is not None:
        spans.append(match.span(1))
        position = match.end(1)
    return spans


def mask(text: str, found: dict[str, list[str]] | None = None) -> str:
    """Replace personal and variable tokens with placeholders such as <PHONE> and <ORDER>.

    Expects normalized text (half-width digits, lower-case latin): placeholders are upper case,
    so they cannot collide with anything the customer wrote. With `found`, the masked strings are
    collected per placeholder name (the follow-up linking reads order numbers this way).
    """
    for name, needle, pattern in _MASKS:
        if needle is not None and needle.search(text) is None:
            continue
        spans = _spans(pattern, text)
        if not spans:
            continue
        if found is not None:
            found.setdefault(name, []).extend(text[start:end] for start, end in spans)
        pieces, done = [], 0
        for start, end in spans:
            pieces += (text[done:start], f"<{name}>")
            done = end
        pieces.append(text[done:])
        text = "".join(pieces)
    return text


def order_numbers(found: dict[str, list[str]]) -> list[str]:
    """The order numbers that `mask` found, without the # some customers write before them."""
    return [re.sub(r"^#\s?", "", number) for number in found.get("ORDER", [])]


def preprocess(text: str, found: dict[str, list[str]] | None = None) -> str:
    """What every feature extractor reads: the normalized, masked text (see `mask` for `found`)."""
    return mask(normalize(text), found)


def redact(text: str) -> str:
    """Text safe to show in reports and logs: masked as `preprocess` does, person names as <NAME>."""
    return mask_names(preprocess(text)) if text else ""


def mask_names(text: str) -> str:
    """Preprocessed text with each person name (MeCab's 人名) replaced by <NAME>."""
    pieces = []
    for line in _tagger(_REDACT_ARGS).parse(text).split("\n"):
        if line == END_OF_TEXT:
            continue
        surface, _, pos = line.partition("\t")
        if pos == "人名":
            if not pieces or pieces[-1] != "<NAME>":
                pieces.append(surface[: len(surface) - len(surface.lstrip())] + "<NAME>")
        else:
            pieces.append(surface)
    return "".join(pieces)


# --- tokenization ----------------------------------------------------------------------------

END_OF_TEXT = "EOS"  # MeCab's line after each text
# `-O ""` clears unidic's default output-format-type, which would otherwise override -F.
_TAGGER_ARGS = rf'-O "" -F %m\\t%f[0]\\t%f[10]\\n --unk-format=%m\\t%f[0]\\t\\n -E {END_OF_TEXT}\\n'
_DROPPED_POS = frozenset({"補助記号", "空白", "助詞", "助動詞", "接続詞"})
_NEGATIONS = frozenset({"ない", "ぬ", "ず", "無い"})
_KEPT_AUXILIARIES = frozenset({"たい"})
_PLACEHOLDER_TOKENS = {name: f"<{name}>" for name in (*PLACEHOLDERS, "NAME")}  # NAME: see `mask_names`
# For redaction only: the part-of-speech subcategory marks person names (名詞,固有名詞,人名).
_REDACT_ARGS = rf'-O "" -F %M\\t%f[2]\\n --unk-format=%M\\t\\n -E {END_OF_TEXT}\\n'
_local = threading.local()


def _tagger(args: str = _TAGGER_ARGS) -> fugashi.Tagger:
    """One tagger per process, thread and format: a tagger's buffers are overwritten by its next call."""
    taggers = _local.__dict__.setdefault("taggers", {})
    if args not in taggers:
        taggers[args] = fugashi.Tagger(args)
    return taggers[args]


def _is_punctuation(token: str) -> bool:
    return all(unicodedata.category(c)[0] == "P" for c in token)


def _token_of(line: str) -> str:
    """The token one line of MeCab's output yields ('' for none)."""
    surface, _, rest = line.partition("\t")
    if not rest:  # EOS
        return ""
    pos, _, base = rest.partition("\t")
    base = base or surface
    if base in _NEGATIONS and pos in ("助動詞", "形容詞"):
        return "ない"
    if pos in _DROPPED_POS or _is_punctuation(surface):
        return base if base in _KEPT_AUXILIARIES else ""
    return _PLACEHOLDER_TOKENS.get(surface, base)


# MeCab's output lines repeat (the same word in the same role): what each line seen yields is kept,
# so most lines cost one dictionary look-up instead of the rules above.
_tokens_of_lines: dict[str, str] = {}
_MAX_CACHED_LINES = 1 << 18


def remember(cache: dict[str, T], line: str, value_of: Callable[[str], T]) -> T:
    """`value_of(line)`, kept in `cache` (a cache of MeCab lines, cleared when it grows large)."""
    value = cache.get(line)
    if value is None:
        if len(cache) >= _MAX_CACHED_LINES:
            cache.clear()
        value = cache[line] = value_of(line)
    return value


def token_of_line(line: str) -> str:
    """The token one line of `parse_lines` yields ('' for none, as for END_OF_TEXT)."""
    return remember(_tokens_of_lines, line, _token_of)


def parse_lines(texts: Iterable[str]) -> list[str]:
    """MeCab's output for a batch of texts as one list of lines: each text's lines, then END_OF_TEXT
    (one split for the batch instead of one per text)."""
    return "\n".join(map(_tagger().parse, texts)).split("\n")  # fugashi strips each text's last newline


def tokenize(text: str) -> list[str]:
    """Base forms of content words, negation as the token ない, placeholders as <NAME>."""
    lines = _tagger().parse(text).split("\n")
    tokens = list(map(_tokens_of_lines.get, lines))
    if None in tokens:
        tokens = [token_of_line(line) if token is None else token for token, line in zip(tokens, lines)]
    return [token for token in tokens if token]
