"""Japanese text processing: normalization, masking of personal and variable tokens, tokenization.

Everything the model learns from passes through `preprocess` (normalize, then mask) and then
`tokenize` (MeCab via fugashi + unidic-lite). Both are pure functions of their input; the tagger is
a per-process, per-thread cache, so nothing native is ever pickled with a model.
"""

from __future__ import annotations

import re
import threading
import unicodedata

import fugashi

# --- normalization ---------------------------------------------------------------------------

# Control characters (C0, DEL, C1) become spaces; zero-width characters vanish.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Dash look-alikes that survive NFKC: after kana they stand for a long vowel, between digits
# (090ー1234ー5678) and elsewhere for a hyphen.
# Patterns that do not begin with a character class begin with a look-ahead for their first
# character: the same matches, without trying the whole pattern at every position of the text.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2500\u2501"
_LONG_VOWEL = re.compile(rf"(?=[{_DASHES}])(?<=[\u3041-\u309f\u30a1-\u30fc])[{_DASHES}]+")
_DIGIT_DASH = re.compile(r"(?=ー)(?<=\d)ー(?=\d)")
_DASH = re.compile(rf"[{_DASHES}]")
_WAVE = re.compile("[~\u301c\uff5e\u223c\u223e\u3030]")
_REPEATED_MARK = re.compile(r"([!?ー〜])\1+")
_MIXED_MARKS = re.compile(r"[!?]{2,}")


def normalize(text: str) -> str:
    """NFKC, no control or zero-width characters, lower-case latin, one kind of dash and wave.

    Runs of the same !?ー〜 collapse to one; all whitespace (newlines too) becomes one space.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", _CONTROL.sub(" ", text))
    text = _LONG_VOWEL.sub("ー", text)
    text = _DASH.sub("-", _DIGIT_DASH.sub("-", text))
    text = text.lower()
    text = _WAVE.sub("〜", text)
    text = _REPEATED_MARK.sub(r"\1", text)
    text = _MIXED_MARKS.sub(lambda m: "!?" if "!" in m.group() and "?" in m.group() else m.group()[0], text)
    return " ".join(text.split())  # str.split() splits at runs of the whitespace re's \\s matches


# --- masking ---------------------------------------------------------------------------------

PLACEHOLDERS = ("URL", "EMAIL", "PHONE", "POSTAL", "ADDRESS", "ORDER", "MONEY", "DATE")

_NUM_L = r"(?<![0-9a-z\-.])"  # not glued to a longer alphanumeric run on the left
_NUM_R = r"(?![0-9a-z\-])"
# The order matters: the first pattern that matches a span wins, so specific formats
# (mall order ids, postal codes with 〒, ISO dates) are tried before the generic digit runs.
_MASK_PATTERNS: tuple[tuple[str, str, str], ...] = (
    # (placeholder, the characters a match can start with, pattern)
    ("URL", "hw", r"(?:https?://|www\.)[^\s<>\"'、。「」()]+"),
    ("EMAIL", r"0-9a-z._%+\-", r"[0-9a-z._%+\-]+@[0-9a-z.\-]+\.[a-z]{2,}"),
    ("ORDER", r"\d", _NUM_L + r"\d{3}-\d{7}-\d{7}" + _NUM_R),
    ("POSTAL", r"〒\d", r"〒\s?\d{3}-?\d{4}" + _NUM_R + "|" + _NUM_L + r"\d{3}-\d{4}" + _NUM_R),
    ("DATE", r"\d",
        r"(?:\d{4}年)?\d{1,2}月\d{1,2}日"
        + "|" + _NUM_L + r"\d{4}[/\-.]\d{1,2}[/\-.]\d{1,2}" + _NUM_R
        + "|" + _NUM_L + r"(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])" + _NUM_R),
    ("PHONE", r"+0",
        r"\+81[\s\-]?\d{1,4}[\s\-]?\d{1,4}[\s\-]?\d{3,4}" + _NUM_R
        + "|" + _NUM_L + r"0\d{1,4}-\d{1,4}-\d{3,4}" + _NUM_R
        + "|" + _NUM_L + r"0[5789]0\d{8}" + _NUM_R
        + "|" + _NUM_L + r"0\d{9}" + _NUM_R),
    ("ADDRESS", r"\d",
        r"\d{1,4}丁目\d{1,4}番地?(?:\d{1,4}号)?"
        + "|" + r"(?<=[\u4e00-\u9fff])\d{1,4}(?:-\d{1,4}){1,2}" + _NUM_R),
    ("ORDER", r"#0-9a-z",
        r"#\s?\d{4,}"
        + "|" + _NUM_L + r"\d{6,}(?:-\d+)*" + _NUM_R
        # codes of letters and digits in hyphenated parts (kz-u-0227, bh-0305-stl30, b2b-104477)
        + "|" + _NUM_L + r"(?=(?:[a-z_\-]*\d){4})[a-z0-9]+(?:[\-_][a-z0-9]+)+" + _NUM_R),
    ("MONEY", r"¥\\$\d", r"[¥\\$]\s?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s?(?:万|千)?円"),
)
# The look-ahead for a possible first character changes no match; it spares the engine trying every
# alternative and look-behind at each position of the text, which made masking cost almost as much
# as MeCab's parse.
_MASKS = tuple((name, re.compile(f"(?=[{first}])(?:{pattern})")) for name, first, pattern in _MASK_PATTERNS)


def mask(text: str, found: dict[str, list[str]] | None = None) -> str:
    """Replace personal and variable tokens with placeholders such as <PHONE> and <ORDER>.

    Expects normalized text (half-width digits, lower-case latin): placeholders are upper case,
    so they cannot collide with anything the customer wrote. With `found`, the masked strings are
    collected per placeholder name (the follow-up linking reads order numbers this way).
    """
    for name, pattern in _MASKS:
        matches = pattern.findall(text)  # most patterns match nothing: one scan, no substitution
        if matches:
            if found is not None:
                found.setdefault(name, []).extend(matches)
            text = pattern.sub(f"<{name}>", text)
    return text


def order_numbers(found: dict[str, list[str]]) -> list[str]:
    """The order numbers that `mask` found, without the # some customers write before them."""
    return [re.sub(r"^#\s?", "", number) for number in found.get("ORDER", [])]


def preprocess(text: str, found: dict[str, list[str]] | None = None) -> str:
    """What every feature extractor reads: the normalized, masked text (see `mask` for `found`)."""
    return mask(normalize(text), found)


def redact(text: str) -> str:
    """Text safe to show in reports and logs: masked as `preprocess` does, person names as <NAME>."""
    if not text:
        return ""
    pieces = []
    for line in _tagger(_REDACT_ARGS).parse(preprocess(text)).split("\n"):
        if line == "EOS":
            continue
        surface, _, pos = line.partition("\t")
        if pos == "人名":
            if not pieces or pieces[-1] != "<NAME>":
                pieces.append(surface[: len(surface) - len(surface.lstrip())] + "<NAME>")
        else:
            pieces.append(surface)
    return "".join(pieces)


# --- tokenization ----------------------------------------------------------------------------

# `-O ""` clears unidic's default output-format-type, which would otherwise override -F.
_TAGGER_ARGS = r'-O "" -F %m\\t%f[0]\\t%f[10]\\n --unk-format=%m\\t%f[0]\\t\\n -E EOS\\n'
_DROPPED_POS = frozenset({"補助記号", "空白", "助詞", "助動詞", "接続詞"})
_NEGATIONS = frozenset({"ない", "ぬ", "ず", "無い"})
_KEPT_AUXILIARIES = frozenset({"たい"})
_PLACEHOLDER_TOKENS = {name: f"<{name}>" for name in PLACEHOLDERS}
# For redaction only: the part-of-speech subcategory marks person names (名詞,固有名詞,人名).
_REDACT_ARGS = r'-O "" -F %M\\t%f[2]\\n --unk-format=%M\\t\\n -E EOS\\n'
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


# MeCab's output lines repeat (the same word in the same role): the token of each line seen is kept,
# so most lines cost one dictionary look-up instead of the rules above. Cleared when it grows large.
_tokens_of_lines: dict[str, str] = {}
_MAX_LINES = 1 << 18


def _decide(line: str) -> str:
    if len(_tokens_of_lines) >= _MAX_LINES:
        _tokens_of_lines.clear()
    token = _tokens_of_lines[line] = _token_of(line)
    return token


def tokenize(text: str) -> list[str]:
    """Base forms of content words, negation as the token ない, placeholders as <NAME>."""
    lines = _tagger().parse(text).split("\n")
    tokens = list(map(_tokens_of_lines.get, lines))
    if None in tokens:
        tokens = [_tokens_of_lines.get(line) or _decide(line) for line in lines]
    return [token for token in tokens if token]
