"""Masking of personal and variable tokens (URLs, mail addresses, phones, postal codes, addresses,
order numbers, money, dates, cards) as placeholders, and of person names by their written context
(〇〇様, 〇〇と申します, company forms…). MeCab's own name tags are applied in `classifier.text.tagging`."""

from __future__ import annotations

import re
from collections.abc import Callable

from classifier.text.normalization import normalize

PLACEHOLDERS = ("URL", "EMAIL", "PHONE", "POSTAL", "ADDRESS", "ORDER", "MONEY", "DATE", "CARD")

_NUM_L = r"(?<![0-9a-z\-.])"  # not glued to a longer alphanumeric run on the left
_NUM_R = r"(?![0-9a-z\-])"
_PHONE_L = r"(?<![0-9\-])(?<!\d\.)"  # a phone may follow letters: tel090…, tel.03-…

# Addresses. The numeric part: 3丁目4番5号 (digits or kanji numerals, spaces between the parts
# allowed), 4番5号, 12番地, 1丁目2-3, or after a kanji 2-3-4 (up to four parts). Before it, the
# place it is in: a prefecture and/or up to three cities, wards, towns, villages or counties (a kanji
# run ending in 市区町村郡) and the town name after them (梅田, 自由が丘); before 丁目 the town name
# alone. After it, a building with its room (〇〇マンション302号室, ハイツ101) or a room.
_KANJI = r"\u4e00-\u9fff"
_PLACE = _KANJI + r"〇々ヶケ\u30a1-\u30faー"  # the characters of place and building names
_ANUM = r"(?:(?<!\d)\d{1,4}|[〇一二三四五六七八九十百]{1,4})"  # a number in an address
_AHYPHEN = r"(?<!\d)\d{1,4}(?:-\d{1,4}){1,3}" + _NUM_R
_ABAN = (  # 4番5号, 4 番 5 号, 十二番地, 4番地5 (not 2番目, 3番線, 3号機: 番 needs 地 or a 号 after it)
    rf"{_ANUM} ?番(?: ?{_ANUM} ?号室?|地(?: ?{_ANUM} ?号室?|\d{{1,4}}(?:-\d{{1,4}})?{_NUM_R})?)"
)
_ACHOME = rf"{_ANUM} ?丁目(?: ?(?:{_ABAN}|\d{{1,4}}(?:-\d{{1,4}}){{0,2}}{_NUM_R}))?"
_AREGION = (
    # さいたま市: a municipality may be written in hiragana
    rf"(?:(?:北海道|東京都|京都府|大阪府|[{_KANJI}]{{2,3}}県) ?(?:[{_PLACE}ぁ-ゖ]{{1,6}}?[市区町村郡] ?)?"
    rf"(?:[{_KANJI}〇][{_PLACE}]{{0,5}}?[市区町村郡] ?){{0,2}}"
    rf"|(?:[{_KANJI}〇][{_PLACE}]{{0,5}}?[市区町村郡] ?){{1,3}})"
    rf"(?:[{_PLACE}]|[がの](?=[{_KANJI}])){{0,8}}(?:(?<! ) )?"  # one space at most before the number
)
_ABUILDING = (
    rf"(?: ?[{_PLACE}a-z]{{0,12}}?"
    r"(?:マンション|ハイツ|コーポ|ハイム|メゾン|レジデンス|アパート|ビル|荘|タワー|コート"
    rf"|パレス|ヒルズ|テラス|ハウス|棟)[{_PLACE}]{{0,6}}(?: ?\d{{1,4}}(?:号室|号|f|階)?)?| ?\d{{1,4}}号室)?"
)
_ANEEDLE = (
    r"丁目|番地|号室|番 ?[\d〇一二三四五六七八九十百]|-(?:"
    + "|".join(rf"(?<=[{_PLACE}]\d{{{n}}}-)|(?<=[{_PLACE}] \d{{{n}}}-)" for n in range(1, 5))
    + r")\d"
)
# The order matters: the first pattern that matches a span wins, so specific formats
# (mall order ids, postal codes with 〒, ISO dates) are tried before the generic digit runs.
_MASK_PATTERNS: tuple[tuple[str, str, str, str], ...] = (
    # (placeholder, the characters a match can start with, a pattern every match contains (checked
    #  first: a text without it is not scanned; '' for none), pattern)
    ("URL", "hw", r"http|www\.", r"(?:https?://|www\.)[^\s<>\"'、。「」()]+"),
    ("EMAIL", r"0-9a-z._%+\-", "@", r"[0-9a-z._%+\-]+@[0-9a-z.\-]+\.[a-z]{2,}"),
    # Card numbers in groups (4111 1111 1111 1111, 4111-1111-…, amex 3782 822463 10005; a plain run
    # of digits cannot be told from a tracking number and stays an ORDER), and the last four digits
    # of a card (カード末尾 7706, 下4桁2219). The needle: from the first separator, or from 末尾 or 桁
    # (one class first: three literals cost twice as much)
    (
        "CARD",
        r"\d",
        r"[ \-末桁](?:(?<=\d{4}[ \-])\d{4}(?:\d\d)?[ \-]\d{4}|(?<=末)尾 ?\d|(?<=桁) ?\d)",
        _NUM_L
        + r"\d{4}[ \-]\d{4}[ \-]\d{4}[ \-]\d{4}"
        + _NUM_R
        + "|"
        + _NUM_L
        + r"\d{4}[ \-]\d{6}[ \-]\d{5}"
        + _NUM_R
        + "|"
        + r"(?:(?<=末尾)|(?<=下4桁)|(?<=下四桁)|(?<=末尾 )|(?<=4桁 )|(?<=四桁 ))\d{4}(?!\d)",
    ),
    ("ORDER", r"\d", r"-\d{7}-", _NUM_L + r"\d{3}-\d{7}-\d{7}" + _NUM_R),
    (
        "POSTAL",
        r"〒\d",
        r"〒|-(?<=(?<![0-9a-z\-.])\d{3}-)\d{4}(?![0-9a-z\-])",  # 〒, or the second form from its dash
        # not the end of a phone number after its area code in parentheses: (045) 123-4567
        r"〒\s?\d{3}-?\d{4}" + _NUM_R + "|" + _NUM_L + r"(?<!\))(?<!\) )\d{3}-\d{4}" + _NUM_R,
    ),
    (
        "DATE",
        r"\d",
        r"[月/\-.](?:(?<=[月/])|\d{1,2}[/\-.])",  # 月, a slash, or two separated numbers
        r"(?:\d{4}年)?\d{1,2}月\d{1,2}日"
        + "|"
        + _NUM_L
        + r"\d{4}[/\-.]\d{1,2}[/\-.]\d{1,2}"
        + _NUM_R
        + "|"
        + _NUM_L
        + r"(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])"
        + _NUM_R,
    ),
    # 090-2345-6789, 090 2345 6789, 090.2345.6789, (03) 1234-5678, 03(1234)5678, 09023456789
    (
        "PHONE",
        r"+0(",
        r"0|\+81",
        r"\+81[\s\-.]?\d{1,4}[\s\-.]?\d{1,4}[\s\-.]?\d{3,4}"
        + _NUM_R
        + "|"
        + _PHONE_L
        + r"0\d{1,4}[ \-.]\d{1,4}[ \-.]\d{3,4}"
        + _NUM_R
        + "|"
        + r"\(0\d{1,4}\) ?\d{1,4}[ \-.]?\d{3,4}"
        + _NUM_R
        + "|"
        + _PHONE_L
        + r"0\d{1,4}\(\d{1,4}\)\d{3,4}"
        + _NUM_R
        + "|"
        + _PHONE_L
        + r"0[5789]0\d{8}"
        + _NUM_R
        + "|"
        + _PHONE_L
        + r"0\d{9}"
        + _NUM_R,
    ),
    # Addresses with the place before them, scanned from each kanji (a place name's first character),
    # then the rest from their number. Both share one needle (searched once, see `mask`): 丁目, 番地,
    # 号室, a number after 番, or from the dash: a place character (and a space), up to 4 digits, the
    # dash, a digit. The place-led scan starts `_REACH` characters before it.
    (
        "ADDRESS",
        rf"{_KANJI}〇",
        _ANEEDLE,
        rf"(?:{_AREGION}(?:{_ACHOME}|{_ABAN}|{_AHYPHEN})"
        rf"|[{_KANJI}〇](?:[{_KANJI}〇々ヶケ]|が(?=[{_KANJI}])){{0,5}} ?{_ACHOME})" + _ABUILDING,
    ),
    (
        "ADDRESS",
        r"\d〇一二三四五六七八九十百",
        _ANEEDLE,
        rf"(?:{_ACHOME}|{_ABAN}|(?<=[{_KANJI}]){_AHYPHEN}|(?<!\d)\d{{1,4}}号室)" + _ABUILDING,
    ),
    (
        "ORDER",
        r"#0-9a-z",
        "",
        r"#\s?\d{4,}"
        # 6 digits or more; digits in groups of four or one by one (tracking numbers, voice input):
        # 5517 2093 6648, 9 4 1 7 0 3
        + "|"
        + _NUM_L
        + r"(?:\d{6,}(?:-\d+)*|\d{4} \d{4} \d{4}|\d(?: \d){4,})"
        + _NUM_R
        # codes of letters and digits in hyphenated parts (kz-u-0227, bh-0305-stl30, b2b-104477)
        + "|"
        + _NUM_L
        + r"(?=(?:[a-z_\-]*\d){4})[a-z0-9]+(?:[\-_][a-z0-9]+)+"
        + _NUM_R
        # member and customer ids: a short letter prefix glued to 6 digits or more (m12345678,
        # ab0012345); model numbers put letters between digits (b0c1234567) or have fewer digits
        + "|"
        + _NUM_L
        + r"[a-z]{1,3}\d{6,}"
        + _NUM_R
        # after no.: no.48217, no.qz-61538, no.2026-1104-207
        + "|"
        + r"(?:(?<=no\.)|(?<=no\. ))(?=(?:[a-z\-]*\d){4})[a-z0-9]+(?:-[a-z0-9]+)*"
        + _NUM_R,
    ),
    ("MONEY", r"¥\\$\d", r"円|¥|\\|\$", r"[¥\\$]\s?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s?(?:万|千)?円"),
)
# Each pattern P is compiled as `[first](?<=(?=(P)).)`: a character class the regular-expression
# engine skips to in its native loop, then a look-behind that steps back onto that character and
# matches P from there (group 1). The matches are those of P; without the leading class the engine
# tried every alternative and look-behind at each position of the text, which made masking cost
# almost as much as MeCab's parse. A text without a match of a pattern's needle (which begins with
# a literal or one class, for the same native skip) is not scanned at all.
_NEEDLES = {needle: re.compile(needle) for _, _, needle, _ in _MASK_PATTERNS if needle}  # one per string
_MASKS = tuple(
    (name, _NEEDLES.get(needle), re.compile(f"[{first}](?<=(?=({pattern})).)"))
    for name, first, needle, pattern in _MASK_PATTERNS
)
# How far into a match its needle can start at most, for the patterns scanned from characters that
# are everywhere (kanji): the scan for the next match starts that far before the next needle, not
# at the end of the previous match (a match holds a needle, so none can start earlier). An address
# holds its needle after at most a prefecture (5 characters with a space), three cities (8 each),
# a town (8 and a space) and 4 digits and a space: 43 characters.
_REACH = {"ADDRESS": 43}


def _spans(
    pattern: re.Pattern[str], text: str, needle: re.Pattern[str] | None = None, reach: int | None = None
) -> list[tuple[int, int]]:
    """Where a `_MASKS` pattern matches, left to right and without overlaps, as `re.sub` finds them.

    With `needle` and `reach` (`_REACH`), the scan skips to `reach` characters before each needle."""
    spans, position = [], 0
    while True:
        if needle is not None and reach is not None:
            if (hit := needle.search(text, position)) is None:
                break
            position = max(position, hit.start() - reach)
        if (match := pattern.search(text, position)) is None:
            break
        spans.append(match.span(1))
        position = match.end(1)
    return spans


def mask(text: str, found: dict[str, list[str]] | None = None) -> str:
    """Replace personal and variable tokens with placeholders such as <PHONE> and <ORDER>.

    Expects normalized text (half-width digits, lower-case latin): placeholders are upper case,
    so they cannot collide with anything the customer wrote. With `found`, the masked strings are
    collected per placeholder name (the follow-up linking reads order numbers this way).
    """
    searched, hit = None, None  # the needle last searched and its result, while the text is unchanged
    for name, needle, pattern in _MASKS:
        if needle is not None:
            if needle is not searched:
                searched, hit = needle, needle.search(text)
            if hit is None:
                continue
        spans = _spans(pattern, text, needle, _REACH.get(name))
        if not spans:
            continue
        if found is not None:
            found.setdefault(name, []).extend(text[start:end] for start, end in spans)
        pieces: list[str] = []
        done = 0
        for start, end in spans:
            pieces += (text[done:start], f"<{name}>")
            done = end
        pieces.append(text[done:])
        text, searched = "".join(pieces), None
    return text


def order_numbers(found: dict[str, list[str]]) -> list[str]:
    """The order numbers that `mask` found, without the # some customers write before them."""
    return [re.sub(r"^#\s?", "", number) for number in found.get("ORDER", [])]


def preprocess(text: str, found: dict[str, list[str]] | None = None) -> str:
    """What every feature extractor reads: the normalized, masked text (see `mask` for `found`)."""
    return mask(normalize(text), found)


# --- person names ----------------------------------------------------------------------------

# A name-shaped run: up to four kanji, or a kana word. Customers write their names in kana, and
# MeCab does not know most kana names (ほしかわ parses as ほし/かわ), so contexts find those.
_NAME_RUN = r"(?:[\u4e00-\u9fff々ヶ]{1,4}|[ぁ-ゖ]{2,6}|[ァ-ヺー]{2,8})"
_AFTER = r"(?:^|(?<=[\s、。:「」()<>!?]))"  # a run begins after a boundary, not inside a word
# Words written before 様/さん that are not names (the shop, its staff, carriers, family, everyone).
_NOT_NAMES = frozenset(
    [
        "お客",
        "客",
        "皆",
        "みな",
        "赤",
        "お姉",
        "お兄",
        "姉",
        "兄",
        "ばあ",
        "じい",
        "皆々",
        "みなさ",
        "たく",
        "おじ",
        "おば",
        "おじい",
        "おばあ",
        "お母",
        "お父",
        "母",
        "父",
        "奥",
        "お子",
        "娘",
        "息子",
        "旦那",
        "主人",
        "神",
        "王",
        "担当",
        "担当者",
        "ご担当者",
        "ご担当",
        "店長",
        "店員",
        "店舗",
        "貴店",
        "御店",
        "ショップ",
        "スタッフ",
        "業者",
        "配達",
        "配達員",
        "運送屋",
        "郵便屋",
        "宅配",
        "ドライバー",
        "ヤマト",
        "佐川",
        "メーカー",
        "御社",
        "貴社",
        "各位",
        "オペレーター",
        "サポート",
        "カスタマー",
        "取引先",
        "先方",
        "相手",
        "友人",
        "友達",
        "者",
        "物",
        "もの",
        "商品",
        "件",
        "方",
        "方々",
        "以上",
        "以下",
        "本日",
        "当店",
        "弊社",
        "こちら",
        "そちら",
        "私",
        "わたし",
        "自分",
        "届いたもの",
        "宛",
    ]
)
# Legal forms before a company's or an organisation's name (株式会社テスト, 医療法人社団テスト会) and
# after it (テスト造園株式会社): the name is masked, the form kept.
_COMPANY = re.compile(
    r"(株式会社|有限会社|合同会社|\(株\)|\(有\)|(?:医療|学校|社会福祉|一般社団|一般財団|公益社団|公益財団|npo)法人(?:社団|財団)?)"
    # hiragana names too, up to a particle
    r"\s?(?:(?![のはがをにでとへも])[\u4e00-\u9fff々ァ-ヺーぁ-ゖa-z&・])+"
    r"|(?:^|(?<=[\s、。:「」()<>!?]))()[\u4e00-\u9fff々ァ-ヺーぁ-ゖa-z&・]{2,12}(?=株式会社|有限会社)"
)
# Self-introductions: 〇〇と申します; 〇〇でございます after a job or a place and の, or after 、;
# 〇〇です only after a department, a masked company or "…ております、" ("経理部の鴫原です", "資材課
# 梶ヶ谷でございます", "いつも利用しております、鴫原です"), since "店の商品です" has the same shape;
# 〇〇より ending a text, and a name alone after a department at the end of a signature.
_INTRODUCED = re.compile(
    rf"((?:部|課|係|室|担当|担当者|商事|商会|工務店|事務所|>)(?:の\s?|\s)|(?:ており|てい|しており|いたし|し)ま(?:す|した)、){_NAME_RUN}"
    rf"(?=\s?(?:です|でございます|と申し))"
    rf"|((?:[\u4e00-\u9fff々ァ-ヺー])の\s?|、){_NAME_RUN}(?=\s?(?:でございます|と申し))"
    rf"|(?:{_AFTER}|(?<=の))(){_NAME_RUN}(?=\s?(?:と申します|と申し|といいます|と言います))"
    rf"|()[\u4e00-\u9fff々ヶ]{{2,4}}(?=と申し)"
    # a katakana name glued to the verb before it ("勤務しております〇〇と申します")
    rf"|(?<=[ぁ-ゖ])()[ァ-ヺー]{{2,8}}(?=と申し)"
)
# Every match of `_INTRODUCED` ends right before one of these, at most `_INTRODUCED_REACH` characters
# after it starts: only the text just before a hit is searched (a scan of every position of every text
# cost a seventh of MeCab's parse).
_INTRODUCED_NEEDLE = re.compile(r"です|でござい|と申し|といいます|と言います")
_INTRODUCED_REACH = 24
_SIGNED_OFF = re.compile(rf"{_AFTER}(){_NAME_RUN}(?=より$)|((?:部|課|係|室|務|局)\s){_NAME_RUN}$")
_SIGNED_OFF_REACH = 16
# The name of a signature's last line, after the company or shop, a job or department word or the
# place it ends with ("株式会社<NAME> 総務 〇〇 tel <PHONE>", "〇〇工務店 〇〇", "〇〇市 〇〇"), a
# family and a given name too, at the end of the text or right before contact data; a foreign name in
# katakana parts joined by ・ there; and a kanji family and given name right before contact data.
# Searched in the last `_SIGNATURE_REACH` characters only.
_SIGNATURE = re.compile(
    # after a masked company, not when a department follows it (that branch masks the name after it)
    rf"((?:<NAME>(?!\s\S*(?:部|課|係|室|務|局|理|長|付)\s)|部|課|係|室|務|局|理|長|付|所|店|塾|ター|区|市)\s)"
    rf"{_NAME_RUN}(?:\s(?!宛){_NAME_RUN})?"
    rf"(?=\s?(?:<PHONE>|<EMAIL>|tel|電話|宛|注文番号)|\s?$)"
    rf"|{_AFTER}()[ァ-ヺー]{{2,10}}・[ァ-ヺー]{{2,12}}(?=\s?(?:<PHONE>|<EMAIL>|tel|電話)|\s?$)"
    # a family and a given name in kanji right before contact data, where MeCab split an uncommon
    # family name and took only part of it for a name (an Okinawan 〇〇〇 〇〇 <PHONE>)
    rf"|{_AFTER}()(?![\u4e00-\u9fff々ヶ]{{0,3}}(?:部|課|係|室|務|局|理|長|付|所|店|塾|区|市)\s)"
    rf"[\u4e00-\u9fff々ヶ]{{1,4}}\s[\u4e00-\u9fff々ヶ]{{1,3}}(?=\s?(?:<PHONE>|<EMAIL>|tel|電話))"
)
_SIGNATURE_REACH = 48
# A family name followed by a given name MeCab does not know: old-style katakana names (鴫原 セツ), or
# kana right before the phone or mail address of a signature.
_FAMILY_GIVEN = re.compile(
    rf"{_AFTER}[\u4e00-\u9fff々ヶ]{{1,3}} (?:[ァ-ヺ]{{2,3}}(?=[\s<]|$)"
    r"|[ぁ-ゖ]{2,4}(?=\s?(?:<PHONE>|<EMAIL>|電話|tel|$)))"
)
_HONORIFICS = re.compile("様|さま|さん|ちゃん|くん|殿|氏")  # the needle of `_HONORIFIC`
_HONORIFIC_REACH = 10
_HONORIFIC = re.compile(
    rf"{_AFTER}({_NAME_RUN})(?=\s?(?:様(?!子)|さま|さん|ちゃん|くん|殿|氏(?![\u4e00-\u9fff])))"
)
# What a customer writes in 「」 after 名前/宛名/のし/名入れ, or right after 名前が ("お名前が月城になって").
_QUOTED_NAME = re.compile(
    r"((?:名前|宛名|名義|名入れ|刺繍|のし|熨斗)(?:[がはをのに]|にも|:)?\s?「)[^」]{1,20}(?=」)"
    rf"|((?:名前|宛名|名義)[がはを:]\s?|(?:私|わたし)は){_NAME_RUN}(?=[にでとがは])"
)
NAME = "<NAME>"


def _prefixed_name(match: re.Match[str]) -> str:
    """The context the name pattern matched before the name (its one non-empty group), then <NAME>."""
    before = next((group for group in match.groups() if group), "")
    return match.group() if match.group()[len(before) :] in _NOT_NAMES else before + NAME


def _honorific(match: re.Match[str]) -> str:
    return match.group() if match.group(1) in _NOT_NAMES else NAME


def _sub_before_needles(
    pattern: re.Pattern[str],
    needle: re.Pattern[str],
    reach: int,
    text: str,
    replace: Callable[[re.Match[str]], str],
) -> str:
    """`pattern.sub(replace, text)` for a pattern whose matches end right before a `needle` hit
    and start at most `reach` characters before it: only those windows are searched (a look-behind
    still sees the text before a window)."""
    pieces: list[str] = []
    done = 0
    for hit in needle.finditer(text):
        if hit.start() < done:
            continue
        for match in pattern.finditer(text, max(done, hit.start() - reach), hit.end() + 6):
            pieces += (text[done : match.start()], replace(match))
            done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def mask_name_contexts(text: str) -> str:
    """Preprocessed text with the names its contexts show replaced by <NAME>: company names after
    株式会社, names introduced (〇〇と申します), names before 様/さん and names written in 「」 after
    名前/宛名. The names MeCab knows are masked by `tag`; these are the ones it does not."""
    if "会社" in text or "法人" in text or "(株)" in text or "(有)" in text:
        text = _COMPANY.sub(_prefixed_name, text)
    text = _sub_before_needles(_INTRODUCED, _INTRODUCED_NEEDLE, _INTRODUCED_REACH, text, _prefixed_name)
    if (ending := _SIGNED_OFF.search(text, max(0, len(text) - _SIGNED_OFF_REACH))) is not None:
        text = text[: ending.start()] + _prefixed_name(ending) + text[ending.end() :]
    tail = max(0, len(text) - _SIGNATURE_REACH)
    if signed := list(_SIGNATURE.finditer(text, tail)):
        pieces: list[str] = []
        done = 0
        for match in signed:
            pieces += (text[done : match.start()], _prefixed_name(match))
            done = match.end()
        text = "".join(pieces) + text[done:]
    if " " in text:
        text = _FAMILY_GIVEN.sub(NAME, text)
    text = _sub_before_needles(_HONORIFIC, _HONORIFICS, _HONORIFIC_REACH, text, _honorific)
    if "名" in text or "のし" in text or "熨斗" in text or "刺繍" in text or "しは" in text or "私は" in text:
        text = _QUOTED_NAME.sub(_prefixed_name, text)
    return text
