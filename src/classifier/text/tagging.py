"""Tokenization with MeCab (fugashi + unidic-lite), and the one parse that also masks the person names
MeCab tags: `tag` gives each preprocessed text with names as <NAME> and its word tokens.

The tagger is a per-process, per-thread cache, so nothing native is ever pickled with a model.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from itertools import accumulate, repeat

import fugashi

from classifier.text.masking import NAME, PLACEHOLDERS, mask_name_contexts, preprocess


class TaggedText(str):
    """A preprocessed text with person names as <NAME> that carries the word tokens MeCab gave for it
    (`tokens`): the parse that finds the names also tokenizes, so the model parses each text once."""

    tokens: list[str]


def tag(texts: Iterable[str]) -> list[TaggedText]:
    """Preprocessed texts with person names (MeCab's 人名 and `mask_name_contexts`) as <NAME>, each
    with its tokens (see `tokenize`). Texts tagged already pass through."""
    tagger, tagged = _tagger(), []
    for text in texts:
        if isinstance(text, TaggedText):
            tagged.append(text)
            continue
        text = mask_name_contexts(text)
        parsed = tagger.parse(text)
        lines = parsed.split("\n")
        cached = list(map(_tokens_of_lines.get, lines))
        tokens = [token_of_line(line) if token is None else token for token, line in zip(cached, lines)]
        places = _PLACE in parsed and _SELF_INTRODUCED.search(parsed) is not None
        if NAME in tokens or places:
            text, tokens = _without_names(text, lines, tokens, places)
        result = TaggedText(text)
        result.tokens = [token for token in tokens if token]
        tagged.append(result)
    return tagged


_KANA = re.compile(r"[ぁ-ゖァ-ヺー]+")
_PLACE, _PERSON = "\t地名\t", "\t人名\t"
# A place name MeCab reads where the writer introduces themself ("…を購入した〇〇です", many family
# names are also cities): after a past verb, right before です/でございます/と申します, it is a name.
_SELF_INTRODUCED = re.compile(
    r"\nた\t助動詞\t\tた\n[^\n]*\t地名\t[^\n]*\n(?:です\t|で\t[^\n]*\nござい|と\t[^\n]*\n申し)"
)


def _without_names(text: str, lines: list[str], tokens: list[str], places: bool) -> tuple[str, list[str]]:
    """`text` (what MeCab's `lines` are of) with each run of name words as one <NAME>, and its tokens
    likewise (`places`: the text has a place name that `_SELF_INTRODUCED` makes a name).

    A kana word standing alone right after a name is the given name MeCab does not know
    ("<NAME> つきしろ" in a signature): it joins the name. Only the name lines are visited: the
    surfaces' ends come from one pass in C over the lines (a Python step per line cost a third of
    MeCab's parse on the texts with names).
    """
    words = lines[:-1]  # the last line is END_OF_TEXT
    names = [
        i
        for i, line in enumerate(words)
        if (tokens[i] == NAME and _PERSON in line) or (places and _introduced_place(lines, i))
    ]
    ends = list(accumulate(map(str.index, words, repeat("\t"))))  # %M: each surface with its white space
    pieces: list[str] = []
    dropped: set[int] = set()
    done, previous, skip_to = 0, -2, 0
    for i in names:
        if i < skip_to:
            continue
        start = ends[i - 1] if i else 0
        if i == previous + 1:  # the given name right after the family name: one <NAME>
            dropped.add(i)
        else:
            surface = text[start : ends[i]]
            pieces += (text[done:start], surface[: len(surface) - len(surface.lstrip())] + NAME)
        done, previous = ends[i], i
        skip_to = _given_name_end(lines, i + 1)
        if skip_to > i + 1:
            dropped.update(range(i + 1, skip_to))
            done, previous = ends[skip_to - 1], skip_to - 1
    pieces.append(text[done:])
    return "".join(pieces), [
        token for i, token in enumerate(tokens) if i not in dropped
    ] if dropped else tokens


def _introduced_place(lines: list[str], position: int) -> bool:
    """Whether the line at `position` is a place name in the shape `_SELF_INTRODUCED` describes."""
    return (
        _PLACE in lines[position]
        and 0 < position < len(lines) - 1
        and lines[position - 1].startswith("た\t助動詞")
        and _SELF_INTRODUCED.search("\n" + "\n".join(lines[position - 1 : position + 3])) is not None
    )


def _given_name_end(lines: list[str], start: int) -> int:
    """Where a kana noun of 2-6 characters that begins at `start` after a space ends, else `start`."""
    end, word = start, ""
    while end < len(lines) and lines[end] != END_OF_TEXT:
        surface, _, rest = lines[end].partition("\t")
        if (
            (end == start) != (surface[:1] == " ")
            or not _KANA.fullmatch(surface.lstrip())
            or not rest.startswith("名詞")
        ):
            break
        word += surface.lstrip()
        end += 1
    ends_word = end == len(lines) or lines[end] == END_OF_TEXT or lines[end][:1] in (" ", "<")
    return end if 2 <= len(word) <= 6 and ends_word else start


def mask_names(text: str) -> str:
    """Preprocessed text with each person name replaced by <NAME> (see `tag`)."""
    return str(tag([text])[0])


# --- tokenization ----------------------------------------------------------------------------

END_OF_TEXT = "EOS"  # MeCab's line after each text
# Surface with the white space before it (%M: `tag` rebuilds the text from it), part of speech,
# its subcategory (人名 marks person names) and the base form. `-O ""` clears unidic's default
# output-format-type, which would otherwise override -F.
_TAGGER_ARGS = (
    rf'-O "" -F %M\\t%f[0]\\t%f[2]\\t%f[10]\\n --unk-format=%M\\t%f[0]\\t\\t\\n -E {END_OF_TEXT}\\n'
)
_DROPPED_POS = frozenset({"補助記号", "空白", "助詞", "助動詞", "接続詞"})
_NEGATIONS = frozenset({"ない", "ぬ", "ず", "無い"})
_KEPT_AUXILIARIES = frozenset({"たい"})
_PLACEHOLDER_TOKENS = {name: f"<{name}>" for name in (*PLACEHOLDERS, "NAME")}
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
    surface = surface.lstrip()
    pos, subcategory, base = rest.split("\t")
    if subcategory == "人名":
        return NAME
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


def token_of_line(line: str) -> str:
    """The token one line of MeCab's output yields ('' for none, as for END_OF_TEXT), remembered."""
    value = _tokens_of_lines.get(line)
    if value is None:
        if len(_tokens_of_lines) >= _MAX_CACHED_LINES:
            _tokens_of_lines.clear()
        value = _tokens_of_lines[line] = _token_of(line)
    return value


def tokenize(text: str) -> list[str]:
    """Base forms of content words, negation as the token ない, placeholders and person names as
    <PHONE>, <NAME>…"""
    return tag([text])[0].tokens


def redact(text: str) -> str:
    """Text safe to show in reports and logs: masked as `preprocess` does, person names as <NAME>."""
    return mask_names(preprocess(text)) if text else ""
