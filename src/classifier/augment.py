"""Training-time augmentation that teaches the labeling rules as behaviour, not as wording.

A hand-written corpus ties tone to urgency by accident (angry writers wrote red mails) and has too few
mails where one added sentence changes the triage. Each copy made here is a training inquiry with one
sentence inserted (at the start, after the first sentence or at the end), labeled by the rule it
exercises (docs/labeling.md):

| kind | added sentence | label of the copy |
|---|---|---|
| `tone` | angry, impatient or very polite words | unchanged (rule 1: tone never raises urgency) |
| `negation` | "no damage, nothing missing" | unchanged |
| `repeated` | an earlier inquiry got no answer | urgency high (rule 2) |
| `deadline_near` | a need-by date 0–2 days after `received_at` | low → medium, late parcel medium → high (rule 3, L1); high stays |
| `deadline_far` | the same kind of need 6–40 days ahead | unchanged (L2) |
| `coupon_today` | on a blocked checkout, the coupon expires today | unchanged (rule 5) |
| `answered_late` | on a late parcel, the shop's promised date passed | unchanged (rule 6) |

Only training rows are ever augmented (each cross-validation fold's training part, and the final fit);
the copies keep their original's `source`. The phrases here and the behaviour suite's
(`classifier.behaviour`) are written apart, so the suite tests the rules on words the model was not
shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta

import numpy as np
import pandas as pd

from classifier.dates import local_day
from classifier.rules import STEP_UP


TONE = (
    "ふざけないでください。", "いい加減にしてほしいです！！", "本当に最悪です😡", "どうなってるんですか！？",
    "二度と買いません。", "ありえないんだけど。", "大至急お願いします！！！", "急いでます、早くしてください。",
    "正直かなりイライラしています。", "こういうの困るんですよね。", "ちゃんと対応してくださいよ。", "まじで意味わからん💢",
    "至急ご対応ください。", "がっかりしました。", "はよ返事ください。", "信じられません。", "もう限界です。",
    "いつも大変お世話になっております。", "お忙しいところ大変恐縮ですが、", "何卒よろしくお願い申し上げます。",
    "ご確認いただけますと幸いです。", "突然のご連絡失礼いたします。", "素敵な商品をありがとうございます。",
    "丁寧なお店だと思ってリピートしています。", "よろしくお願いします🙏", "すみません、教えてください。",
)
NEGATION = (
    "箱にも中身にも傷はありませんでした。", "破損などは特にありません。", "商品自体に不具合はないです。",
    "注文した物はちゃんと届いています。", "返品したいわけではありません。", "汚れや欠品はありませんでした。",
)
REPEATED = tuple(
    f"{when}{how}{answer}"
    for when, how, answer in (
        ("先週", "問い合わせフォームから送りました", "が、返事がありません。"),
        ("3日前に", "メールしました", "けど、まだ回答をもらっていません。"),
        ("先日", "同じ内容で連絡しています", "が、自動返信しか来ていません。"),
        ("一昨日", "問い合わせした件", "、音沙汰なしです。"),
        ("前回", "メッセージを送った", "のに返答がありません。"),
        ("10日ほど前に", "お問い合わせしました", "が、いまだご連絡がありません。"),
        ("月初めに", "ご相談のメールをした", "のですが、お返事をいただけていません。"),
        ("昨日も", "同じことを書きました", "。返信まだですか？"),
        ("以前", "ストアに質問した", "けど無視されてます。"),
        ("何度か", "連絡している", "のに一度も返事が来ません。"),
    )
)
ANSWERED_LATE = (
    "先日お返事をいただき、発送済みとのことでしたが、お知らせいただいた日を過ぎても届きません。",
    "前回のご回答で今週中にお届けと伺いましたが、まだ受け取れていません。",
    "問い合わせへのお返事はいただいたのですが、その予定日を過ぎています。",
)
COUPON_TODAY = ("このクーポンは今日までです。", "今日が期限のクーポンなんです。", "本日23:59までのコードです。")
# Need-by phrases per topic: {when} is a date expression, near or far.
NEED = {
    "non_delivery": ("{when}の誕生日に渡したいので", "{when}から旅行に持っていくので", "{when}までに必要なので",
                     "{when}のイベントで使う予定なので", "{when}に来客があり、それまでに届いてほしいです。"),
    "usage": ("{when}に使う予定なので", "{when}のパーティーで使いたいので", "{when}までに使えるようにしたいです。",
              "{when}の発表会で着る予定です。"),
    "return": ("返品期限が{when}までなので", "{when}までに返送しないといけないので"),
    "campaign": ("{when}までに注文したいので", "{when}までに買いたいと思っています。"),
}
NEAR_WORDS = ("今日", "明日", "明後日")


def _insert(text: str, sentence: str, where: int) -> str:
    """`sentence` at the start (0), after the first sentence (1) or at the end (2) of `text`."""
    if where == 0:
        return f"{sentence}{text}"
    if where == 2:
        return f"{text}\n{sentence}"
    first = re.search(r"[。！？!?\n]", text)
    return f"{text[: first.end()]}{sentence}{text[first.end():]}" if first else f"{text}{sentence}"


def date_words(day: date, today: date, rng: np.random.Generator) -> str:
    """`day` written as a customer might: 12月24日, 12/24 or 24日."""
    forms = (f"{day.month}月{day.day}日", f"{day.month}/{day.day}", f"{day.day}日")
    return forms[int(rng.integers(len(forms)))] if day.month == today.month else forms[int(rng.integers(2))]


def _when(received_at: str, near: bool, rng: np.random.Generator) -> str | None:
    today = local_day(received_at)
    if near and rng.random() < 0.5:
        return NEAR_WORDS[int(rng.integers(3))]
    if today is None:
        return None
    ahead = int(rng.integers(0, 3)) if near else int(rng.integers(6, 41))
    return date_words(today + timedelta(days=ahead), today, rng)


Labeler = Callable[[pd.Series, np.random.Generator], tuple[str, str, str] | None]


def _tone(row: pd.Series, rng: np.random.Generator) -> tuple[str, str, str]:
    return TONE[int(rng.integers(len(TONE)))], row["topic"], row["urgency"]


def _negation(row: pd.Series, rng: np.random.Generator) -> tuple[str, str, str] | None:
    if row["topic"] in ("wrong_item", "return") and row["urgency"] == "high":
        return None
    return NEGATION[int(rng.integers(len(NEGATION)))], row["topic"], row["urgency"]


def _repeated(row: pd.Series, rng: np.random.Generator) -> tuple[str, str, str]:
    return REPEATED[int(rng.integers(len(REPEATED)))], row["topic"], "high"


def _deadline(near: bool) -> Labeler:
    def label(row: pd.Series, rng: np.random.Generator) -> tuple[str, str, str] | None:
        topic, urgency = row["topic"], row["urgency"]
        if topic not in NEED or (urgency == "medium" and topic != "non_delivery"):
            return None  # a medium situation other than a late parcel: rule 5 territory, left alone
        when = _when(row["received_at"], near, rng)
        if when is None:
            return None
        phrases = NEED[topic]
        return phrases[int(rng.integers(len(phrases)))].format(when=when), topic, STEP_UP[urgency] if near else urgency

    return label


def _only(topic: str, urgency: str, phrases: tuple[str, ...]) -> Labeler:
    def label(row: pd.Series, rng: np.random.Generator) -> tuple[str, str, str] | None:
        if (row["topic"], row["urgency"]) != (topic, urgency):
            return None
        return phrases[int(rng.integers(len(phrases)))], topic, urgency

    return label


KINDS: dict[str, Labeler] = {
    "tone": _tone,
    "negation": _negation,
    "repeated": _repeated,
    "deadline_near": _deadline(near=True),
    "deadline_far": _deadline(near=False),
    "coupon_today": _only("campaign", "medium", COUPON_TODAY),
    "answered_late": _only("non_delivery", "medium", ANSWERED_LATE),
}


def augmented_copies(frame: pd.DataFrame, shares: Mapping[str, float], seed: int) -> pd.DataFrame:
    """The augmented copies of `frame`'s rows, with its columns: for each kind, about `shares[kind]`
    of the rows it applies to get one copy (the body changed and the labels set as the table above
    says)."""
    rng = np.random.default_rng(seed)
    copies = []
    for kind, share in shares.items():
        labeler = KINDS[kind]
        for _, row in frame[rng.random(len(frame)) < share].iterrows():
            made = labeler(row, rng)
            if made is None:
                continue
            sentence, topic, urgency = made
            body = _insert(str(row["body"]), sentence, int(rng.integers(3)))
            copies.append({**row.to_dict(), "body": body, "topic": topic, "urgency": urgency, "id": f"{row['id']}~{kind}"})
    return pd.DataFrame(copies, columns=frame.columns)
