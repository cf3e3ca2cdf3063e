"""Deadlines in the customer's words: the day an inquiry says something is needed by, counted in days
from its `received_at`.

The labeling rules make a near deadline (today, tomorrow, the day after) raise urgency by one step and
a far one not (rule 3, L1, L2, L21 of docs/labeling.md), so "24日までに" means red on the 22nd and
green on the 10th: the text alone cannot know. `deadline_days` finds a date expression followed closely
by a need-by cue (まで, 間に合う, 必要, 使う, 誕生日, 必着…) and counts the days to it; `deadline_marker`
turns that into a token the model reads beside the text. It expects normalized text (`text.normalize`:
half-width digits, lower-case latin) and reads dates before masking hides them as <DATE>.

Hand-written rather than ja-timex: that library parses far more than deadlines and measured 0.5 to
70 ms per text here, several times the whole scoring cost of a record.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import numpy as np

# Japan has had no daylight saving since 1951: a fixed offset gives the local calendar day.
JST_OFFSET = timedelta(hours=9)
NEAR_DAYS = 2  # "near" is today, tomorrow or the day after (L2)

_RELATIVE = {
    "今日中": 0,
    "本日中": 0,
    "今日": 0,
    "本日": 0,
    "きょう": 0,
    "今夜": 0,
    "今晩": 0,
    "今宵": 0,
    "こんや": 0,
    "明日中": 1,
    "明日": 1,
    "あした": 1,
    "あす": 1,
    "明晩": 1,
    "明朝": 1,
    "明後日": 2,
    "あさって": 2,
    "明々後日": 3,
    "しあさって": 3,
    "昨日": -1,
    "きのう": -1,
    "一昨日": -2,
    "おととい": -2,
}
_WEEKDAYS = "月火水木金土日"
# Fixed-date events customers name as deadlines (month, day), and the ones on the nth Sunday of a month.
_EVENTS = {
    "クリスマスイブ": (12, 24),
    "クリスマス・イブ": (12, 24),
    "クリスマス": (12, 25),
    "大晦日": (12, 31),
    "大みそか": (12, 31),
    "元旦": (1, 1),
    "元日": (1, 1),
    "正月": (1, 1),
    "バレンタイン": (2, 14),
    "ホワイトデー": (3, 14),
    "ハロウィン": (10, 31),
    "七夕": (7, 7),
}
_SUNDAYS = {"母の日": (5, 2), "父の日": (6, 3)}
_DATE = re.compile(
    r"(?P<md>(?:(?P<y>\d{4})[年/.\-])?(?P<m>1[0-2]|0?[1-9])(?:月|/)(?P<d>3[01]|[12]\d|0?[1-9])(?:日)?)"
    r"|(?<![\d/月])(?P<dom>3[01]|[12]\d|0?[1-9])日(?!間|後|前|ほど|くらい|ぐらい|以上|以内|経)"
    r"|(?P<after>\d{1,2})日後"
    r"|(?P<rel>" + "|".join(sorted(_RELATIVE, key=len, reverse=True)) + ")"
    r"|(?P<next>来週|再来週)?(?:の)?(?P<wd>[" + _WEEKDAYS + r"])曜(?:日)?"
    r"|(?P<nextweekend>来週末)|(?P<weekend>今週末|今度の週末|週末|土日)"
    r"|(?P<event>" + "|".join(sorted(_EVENTS, key=len, reverse=True)) + r"|" + "|".join(_SUNDAYS) + ")"
)
# What follows a date when it is a need-by date. Within a short window after the date expression.
_CUE = re.compile(
    r"まで|迄|間に合|必要|いる(?:ん|の)|要る|使い|使う|使用|着たい|着る|渡し|渡す|贈|プレゼント|ギフト|誕生日|"
    r"結婚式|式(?:で|に|が|の)|出発|旅行|期限|締め切|締切|〆切|必着|着で|着指定|当日|イベント|パーティ|会で|大会|試合|本番|"
    r"引っ越|引越|入学|入園|卒業|法事|帰省|発表会|運動会|お祝い|祝い|お供え|来客|迄に|に欲し|にほし|切れ|失効|終わ"
)
_CUE_WINDOW = 14
_LONGEST_DATE = (
    16  # characters of the longest date expression (2026年12月24日, クリスマス・イブ, 再来週の金曜日)
)
# Dates of what already happened (ordered, shipped, asked): not a deadline even if a cue follows later.
# Not a need-by date: "until now" (今日まで5日間…, 本日に至るまで), a range (13日から16日まで),
# "from then on" (17日以降).
_NOT_DEADLINE_AFTER = re.compile(
    r"^(?:に至る|にいたる)?まで(?:の)?\s?(?:\d+日間|ずっと|何の|何も|表示|状態|変わ|更新|連絡|音沙汰|届いて|動き|返事|返信|待)"
    r"|^(?:\(.\))?(?:から|〜|-)|^(?:\(.\))?(?:以降|以後|より後|過ぎ)"
)
_PAST_EVENT = re.compile(
    r"^(?:に|の|、|頃|ごろ)?\s?(?:注文|購入|買|頼|発送|出荷|到着|届きま|届いた|受け取|受取|問い合わせ|問合|連絡|申し込|お願いし|返送|送りまし|送った)"
)


def local_day(received_at: str) -> date | None:
    """The calendar day of a timestamp in Japan (a naive one taken as Japan time); None if unparsable."""
    try:
        moment = datetime.fromisoformat(received_at)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return moment.date()
    return (moment - moment.utcoffset() + JST_OFFSET).date()  # type: ignore[operator]


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def _upcoming(today: date, month: int, day: int) -> date | None:
    """The date (month, day) nearest to `today` in the year before, of or after it: customers name
    the coming 24th, or the past one they missed."""
    candidates = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue
    return min(candidates, key=lambda d: abs((d - today).days)) if candidates else None


def _resolve(match: re.Match[str], today: date) -> date | None:
    groups = match.groupdict()
    if groups["md"]:
        if groups["y"]:
            try:
                return date(int(groups["y"]), int(groups["m"]), int(groups["d"]))
            except ValueError:
                return None
        return _upcoming(today, int(groups["m"]), int(groups["d"]))
    if groups["dom"]:
        day = int(groups["dom"])
        # A bare day of the month: this month's, or next month's when that is nearer ahead.
        this_month = _upcoming(today, today.month, day)
        following = today.replace(day=1) + timedelta(days=32)
        try:
            next_month = date(following.year, following.month, day)
        except ValueError:
            next_month = None
        options = [d for d in (this_month, next_month) if d is not None]
        return (
            min(options, key=lambda d: (d < today - timedelta(days=3), abs((d - today).days)))
            if options
            else None
        )
    if groups["after"]:
        return today + timedelta(days=int(groups["after"]))
    if groups["rel"]:
        return today + timedelta(days=_RELATIVE[groups["rel"]])
    if groups["wd"]:
        ahead = (_WEEKDAYS.index(groups["wd"]) - today.weekday()) % 7
        return today + timedelta(
            days=ahead + (7 if groups["next"] == "来週" else 14 if groups["next"] else 0)
        )
    if groups["nextweekend"]:
        return today + timedelta(days=(5 - today.weekday()) % 7 + 7)
    if groups["weekend"]:
        return today + timedelta(days=(5 - today.weekday()) % 7 if today.weekday() != 6 else 0)
    event = groups["event"]
    if event in _SUNDAYS:
        month, nth = _SUNDAYS[event]
        return next(
            d
            for d in (_nth_weekday(y, month, 6, nth) for y in (today.year, today.year + 1))
            if d >= today - timedelta(days=3)
        )
    return _upcoming(today, *_EVENTS[event])


def deadline_days(text: str, received_at: str) -> int | None:
    """Days from the day `received_at` (Japan time) to the nearest need-by date in `text`: 0 for
    today, negative for a deadline already passed (when no date ahead is named); None when the
    text names no need-by date or `received_at` is not a timestamp."""
    if _CUE.search(text) is None:  # most texts name no need at all: one scan instead of a parse
        return None
    today = local_day(received_at)
    if today is None:
        return None
    found: list[int] = []
    seen: set[tuple[int, int]] = set()
    # Dates are looked for only shortly before each cue (most of a text is neither): a date counts
    # when a cue lies wholly within `_CUE_WINDOW` characters after it.
    for cue in _CUE.finditer(text):
        for match in _DATE.finditer(text, max(0, cue.end() - _CUE_WINDOW - _LONGEST_DATE), cue.start() + 1):
            if match.span() in seen or not (
                match.end() <= cue.start() and cue.end() - match.end() <= _CUE_WINDOW
            ):
                continue
            seen.add(match.span())
            after = text[match.end() : match.end() + _CUE_WINDOW]
            before = text[max(0, match.start() - 2) : match.start()]
            if (
                _PAST_EVENT.match(after)
                or _NOT_DEADLINE_AFTER.match(after)
                or before.endswith(("から", "〜", "-"))
                or _CUE.search(after) is None
            ):
                continue
            when = _resolve(match, today)
            if when is not None:
                found.append((when - today).days)
    if not found:
        return None
    ahead = [days for days in found if days >= 0]
    return min(ahead) if ahead else max(found)


def deadline_marker(text: str, received_at: str) -> str:
    """The token the model reads for the deadline of `text`: DUENEAR (within `NEAR_DAYS`), DUELATER,
    DUEPAST, or '' for none. Upper case: normalized text is lower case, so it cannot collide."""
    days = deadline_days(text, received_at)
    if days is None:
        return ""
    if days < 0:
        return "DUEPAST"
    return "DUENEAR" if days <= NEAR_DAYS else "DUELATER"


def date_words(day: date, today: date, rng: np.random.Generator) -> str:
    """`day` written as a customer might: 12月24日, 12/24 or 24日."""
    forms = (f"{day.month}月{day.day}日", f"{day.month}/{day.day}", f"{day.day}日")
    return forms[int(rng.integers(len(forms)))] if day.month == today.month else forms[int(rng.integers(2))]
