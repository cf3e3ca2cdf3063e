"""Training-time augmentation that teaches the labeling rules as behaviour, not as wording.

A hand-written corpus ties tone to urgency by accident (angry writers wrote red mails) and to the
words around dates. Each copy made here is a training inquiry with one sentence inserted (at the
start, after the first sentence or at the end) that the labeling rules say changes nothing
(docs/labeling.md):

| kind | added sentence | rule |
|---|---|---|
| `tone` | angry, impatient or very polite words | rule 1: tone never raises urgency |
| `negation` | "no damage, nothing missing" | the situation decides, not its words |
| `deadline_far` | a need-by date 6–40 days after `received_at` | L2: a far deadline does not step up |
| `coupon_today` | on a blocked checkout, the coupon expires today | rule 5 |
| `answered_late` | on a late parcel, the shop's promised date passed | rule 6 |

The sentences that must change the triage (repeated contact, a near deadline) are left to the rules
on top of the urgency head (`classifier.rules`): copies labeled up taught the model that ordinary
mail can be red, and cost 2 to 4 points of urgency macro-F1 on every held-out set (measured, issue #13).

Only training rows are ever augmented (each cross-validation fold's training part, and the final fit);
the copies keep their original's `source`. The phrases here and the behaviour suite's
(`classifier.behaviour`) are written apart, so the suite tests the rules on words the model was not
shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta

import numpy as np
import pandas as pd

from classifier.text.dates import date_words, local_day

TONE = (
    "ふざけないでください。",
    "いい加減にしてほしいです！！",
    "本当に最悪です😡",
    "どうなってるんですか！？",
    "二度と買いません。",
    "ありえないんだけど。",
    "大至急お願いします！！！",
    "急いでます、早くしてください。",
    "正直かなりイライラしています。",
    "こういうの困るんですよね。",
    "ちゃんと対応してくださいよ。",
    "まじで意味わからん💢",
    "至急ご対応ください。",
    "がっかりしました。",
    "はよ返事ください。",
    "信じられません。",
    "もう限界です。",
    "いつも大変お世話になっております。",
    "お忙しいところ大変恐縮ですが、",
    "何卒よろしくお願い申し上げます。",
    "ご確認いただけますと幸いです。",
    "突然のご連絡失礼いたします。",
    "素敵な商品をありがとうございます。",
    "丁寧なお店だと思ってリピートしています。",
    "よろしくお願いします🙏",
    "すみません、教えてください。",
    "いつも迅速なご対応に感謝しております。",
    "お休みのところ申し訳ありません。",
    "初めて連絡させていただきます。",
    "ご面倒をおかけしますが、宜しくお願い致します。",
    "お返事お待ちしております。",
    "お忙しい中すみません。",
    "ご対応のほど、よろしくお願い申し上げます。",
    "以前から愛用しております。",
    "お手数ですがよろしくお願いします。",
    "いったいどういうことですか。",
    "ちょっとひどすぎませんか。",
    "本当に困ってます！",
    "なめてるんですか？",
    "いらいらする…",
    "こちらも暇じゃないんですけど。",
    "ほんま頼むわ。",
    "言いたくないけどがっかりです😞",
)
NEGATION = (
    "箱にも中身にも傷はありませんでした。",
    "破損などは特にありません。",
    "商品自体に不具合はないです。",
    "注文した物はちゃんと届いています。",
    "返品したいわけではありません。",
    "汚れや欠品はありませんでした。",
    "中身は無事でした。",
    "壊れてはいないです。",
    "梱包もしっかりしていました。",
    "商品に問題があるわけではないです。",
    "キズひとつありませんでした。",
    "交換してほしいわけではないです。",
)
ANSWERED_LATE = (
    "先日お返事をいただき、発送済みとのことでしたが、お知らせいただいた日を過ぎても届きません。",
    "前回のご回答で今週中にお届けと伺いましたが、まだ受け取れていません。",
    "問い合わせへのお返事はいただいたのですが、その予定日を過ぎています。",
)
COUPON_TODAY = (
    "このクーポンは今日までです。",
    "今日が期限のクーポンなんです。",
    "本日23:59までのコードです。",
)
# Need-by phrases per topic: {when} is a date expression, near or far.
NEED = {
    "non_delivery": (
        "{when}の誕生日に渡したいので",
        "{when}から旅行に持っていくので",
        "{when}までに必要なので",
        "{when}のイベントで使う予定なので",
        "{when}に来客があり、それまでに届いてほしいです。",
    ),
    "usage": (
        "{when}に使う予定なので",
        "{when}のパーティーで使いたいので",
        "{when}までに使えるようにしたいです。",
        "{when}の発表会で着る予定です。",
    ),
    "return": ("返品期限が{when}までなので", "{when}までに返送しないといけないので"),
    "campaign": ("{when}までに注文したいので", "{when}までに買いたいと思っています。"),
}


# A closing line without a sentence end: a name, a phone, 〇〇市 〇〇, よろしくお願いします.
_CLOSING_LINE = re.compile(r"[^。！？!?]{1,24}")
_CLOSING_LINES = 4  # the most lines a closing block (name, company, phone, order number) is read as


def _insert(text: str, sentence: str, where: int) -> str:
    """`sentence` at the start (0), after the first sentence (1) or at the end (2) of `text`; at the
    end means before the closing lines, as a customer writes above their name (a sentence after the
    signature would also keep the name from being masked as a signature's, docs/privacy.md)."""
    if where == 0:
        return f"{sentence}{text}"
    if where == 2:
        lines = text.rstrip("\n").split("\n")
        closing = 0
        while closing < min(_CLOSING_LINES, len(lines) - 1) and _CLOSING_LINE.fullmatch(
            lines[-1 - closing].strip()
        ):
            closing += 1
        return "\n".join([*lines[: len(lines) - closing], sentence, *lines[len(lines) - closing :]])
    first = re.search(r"[。！？!?\n]", text)
    return f"{text[: first.end()]}{sentence}{text[first.end() :]}" if first else f"{text}{sentence}"


def _far_date(received_at: str, rng: np.random.Generator) -> str | None:
    today = local_day(received_at)
    if today is None:
        return None
    return date_words(today + timedelta(days=int(rng.integers(6, 41))), today, rng)


Sentence = Callable[[pd.Series, np.random.Generator], str | None]


def _tone(row: pd.Series, rng: np.random.Generator) -> str:
    return TONE[int(rng.integers(len(TONE)))]


def _negation(row: pd.Series, rng: np.random.Generator) -> str | None:
    if row["topic"] in ("wrong_item", "return") and row["urgency"] == "high":
        return None  # "no damage" would contradict a damaged or wrong item
    return NEGATION[int(rng.integers(len(NEGATION)))]


def _deadline_far(row: pd.Series, rng: np.random.Generator) -> str | None:
    when = _far_date(row["received_at"], rng) if row["topic"] in NEED else None
    if when is None:
        return None
    phrases = NEED[row["topic"]]
    return phrases[int(rng.integers(len(phrases)))].format(when=when)


def _only(topic: str, urgency: str, phrases: tuple[str, ...]) -> Sentence:
    def sentence(row: pd.Series, rng: np.random.Generator) -> str | None:
        if (row["topic"], row["urgency"]) != (topic, urgency):
            return None
        return phrases[int(rng.integers(len(phrases)))]

    return sentence


KINDS: dict[str, Sentence] = {
    "tone": _tone,
    "negation": _negation,
    "deadline_far": _deadline_far,
    "coupon_today": _only("campaign", "medium", COUPON_TODAY),
    "answered_late": _only("non_delivery", "medium", ANSWERED_LATE),
}


def augmented_copies(frame: pd.DataFrame, shares: Mapping[str, float], seed: int) -> pd.DataFrame:
    """The augmented copies of `frame`'s rows, with its columns and labels: for each kind, about
    `shares[kind]` of the rows it applies to get one copy with its sentence inserted."""
    rng = np.random.default_rng(seed)
    copies = []
    for kind, share in shares.items():
        make = KINDS[kind]
        for _, row in frame[rng.random(len(frame)) < share].iterrows():
            sentence = make(row, rng)
            if sentence is not None:
                body = _insert(str(row["body"]), sentence, int(rng.integers(3)))
                copies.append({**row.to_dict(), "body": body, "id": f"{row['id']}~{kind}"})
    return pd.DataFrame(copies, columns=frame.columns)
