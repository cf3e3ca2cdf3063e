"""Behaviour suite of the labeling rules (CheckList's minimum-functionality, invariance and directional
tests): does the model triage by the situation, as docs/labeling.md says, whatever the wording?

Each test perturbs base mails (the frozen test split) with one inserted sentence and checks the
prediction against the rule:

| test | kind | pass when |
|---|---|---|
| `tone_invariance`, `politeness_invariance` | INV | topic and urgency as unperturbed (rule 1) |
| `identity_invariance` | INV | another name, phone and order number in the signature change nothing |
| `negation_invariance` | INV | "no damage" added to a mail that is not about damage changes nothing |
| `repeated_contact` | DIR | urgency becomes high (rule 2) |
| `deadline_step` | DIR | a need-by date 0–2 days after `received_at`: urgency one step up (rule 3, L1, L21) |
| `deadline_far` | INV | the same need 8–40 days ahead changes nothing (L2) |
| `deadline_in_medium` | INV | a coupon expiring today on a blocked checkout stays medium (rule 5) |
| `answered_late` | INV | "the shop answered, the promised date passed" stays medium (rule 6) |
| `borderline` | MFT | each borderline-table row of the spec, in new words, gets its labels |

Directional tests use base mails whose unperturbed prediction is right, so that they measure the rule,
not the base error. The phrases are written apart from `classifier.augment`'s (tested disjoint).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from classifier import model
from classifier.model.rules import STEP_UP
from classifier.text import redact
from classifier.text.dates import date_words, local_day

TARGETS = {"invariance": 0.99, "repeated_contact": 0.97, "deadline_step": 0.90}

ANGRY = (
    "ほんとに腹が立ちます。",
    "あきれて物も言えません。",
    "責任者を出してください！",
    "こんな店初めてです😤",
    "ちょっと対応ひどくないですか？",
    "かなり怒ってます。",
    "早急に！！",
    "今すぐ何とかして。",
    "レビューに書きますよ。",
    "勘弁してください…",
    "むかつく。",
    "最低のお店ですね。",
    "早く！！！",
    "もう嫌になります。",
)
POLITE = (
    "平素より格別のお引き立てを賜り、誠にありがとうございます。",
    "ご多用のところ申し訳ございません。",
    "恐れ入りますが、ご教示いただけますでしょうか。",
    "お手すきの際にご返信いただければ幸いです。",
    "いつも楽しく利用させていただいております。",
    "夜分遅くに失礼します。",
    "お世話様です。",
)
IDENTITY_MARK = "-- \n"  # the usual signature delimiter, so the report can cut the signature off
# Invented, and checked absent from the corpus (its PII test would otherwise flag this file, shipped
# with the model).
IDENTITIES = (
    ("真柴 透子", "090-3141-5926", "2026110-48213"),
    ("Okonkwo Ada", "080-2718-2818", "#558102"),
    ("鴫原 澪", "03-5550-1234", "r-8830-1192"),
    ("ほしの たくみ", "070-1234-9876", "A-77120934"),
)
NO_DAMAGE = (
    "外箱もきれいで、壊れている所はありません。",
    "傷やへこみは見当たりませんでした。",
    "不良品というわけではないです。",
)
REPEATED = (
    "再送です。前回のメールにまだご返答がありません。",
    "二度目のご連絡になります。先日の件、返信をお待ちしています。",
    "この前フォームから送った件、いまだに何の連絡もないです。",
    "これで3回目の問い合わせです。返事ください。",
    "おとといメールしたのに返答なし。見てますか？",
    "前にも同じ質問を送りましたが、お返事が届いていません。",
)
NEED = {
    "non_delivery": (
        "{when}の結婚式に持って行きたいので",
        "{when}に出発するので、それまでに受け取りたいです。",
        "{when}の入学式用です。",
    ),
    "usage": ("{when}の試合で使いたいんです。", "{when}の旅行に持って行く予定です。"),
    "return": ("返品の受付が{when}までと書いてあったので",),
    "campaign": ("{when}までのセールなので", "{when}でポイントが切れてしまうので"),
}
NEAR_WORDS = ("あした", "あさって", "本日中", "今夜")
COUPON_TODAY = ("クーポンの有効期限が本日までなんです。", "このコード、今夜で使えなくなります。")
ANSWERED_LATE = (
    "前回ご回答いただいた到着予定日をもう過ぎてしまいました。",
    "お返事では昨日着くとのことでしたが、まだ来ていません。",
)
# The spec's borderline table, each row in two new wordings: (subject, body, topic, urgency).
BORDERLINE = (
    (
        "",
        "間違って届いたセーター、交換じゃなくて返金でお願いします。こっちで処分しときます",
        "wrong_item",
        "high",
    ),
    (
        "",
        "頼んだのと別の型番のプリンターが来たけど、もうそれでいいので差額だけ返してもらえますか",
        "wrong_item",
        "high",
    ),
    (
        "",
        "商品は全部届きました。ただキャンペーンのおまけのトートバッグが入ってなかったです",
        "campaign",
        "low",
    ),
    (
        "特典について",
        "注文品はそろっていましたが、先着プレゼントのステッカーが同封されていませんでした。",
        "campaign",
        "low",
    ),
    (
        "",
        "箱を開けたら知らない人の名前と住所が書いた明細書が入っていました。自分の注文品は問題ありません",
        "other",
        "high",
    ),
    ("", "納品書が他の方のものでした。氏名と電話番号が載っています。", "other", "high"),
    (
        "",
        "このヘアアイロン使ったら焦げ臭いにおいがして煙が少し出ました。こういうものなんでしょうか",
        "usage",
        "high",
    ),
    ("", "化粧水をつけたら顔が赤くかぶれてしまいました。使い方が悪かったのでしょうか。", "usage", "high"),
    ("", "写真よりだいぶ暗い色でした。イメージと違うので返品したいです。傷などはありません", "return", "low"),
    ("", "生地の手触りが思ってたのと違ってゴワゴワしてる。未使用なので返品できますか", "return", "low"),
    ("", "まだ発送前でしたら、お届け先を実家の住所に変えてもらえますか", "other", "medium"),
    ("", "発送前にギフト包装を追加でお願いできますか。", "other", "medium"),
    ("", "ギフト包装って有料ですか？これから注文するか考えてます", "other", "low"),
    ("", "購入したら領収書は発行してもらえるのでしょうか。", "other", "low"),
    ("", "配達の時間帯を夜に変えたいです。もう発送されてるみたいなんですが", "non_delivery", "medium"),
    ("", "お届け日を来週の土曜に変更できますか。", "non_delivery", "medium"),
    ("", "北海道だと注文から何日くらいで届きますか？購入前の質問です", "non_delivery", "low"),
    ("", "昨日注文したんですが、どこの運送会社で届きますか？", "non_delivery", "low"),
    ("", "充電しても電源が入りません。何か設定がいるんでしょうか、直し方を教えてください", "usage", "low"),
    ("", "電源が入らないので、交換してもらえますか。届いたばかりです", "return", "high"),
    (
        "",
        "セール価格になる前に買っちゃいました。もう支払い済みなんですが差額ってどうにかなりますか",
        "campaign",
        "low",
    ),
    ("", "タイムセールの値段が注文に反映されてませんでした（決済済み）", "campaign", "low"),
    ("", "3点セットのはずが2点しか入ってなかった", "wrong_item", "high"),
    ("", "セットに含まれるはずの計量スプーンがありませんでした。", "wrong_item", "high"),
    ("", "配達完了になってるのに荷物がどこにもありません", "non_delivery", "medium"),
    (
        "",
        "追跡では「お届け済み」ですが、受け取っていません。宅配ボックスにもなかったです",
        "non_delivery",
        "medium",
    ),
    ("", "同じ商品をうっかり2回注文してしまいました。片方キャンセルできますか", "other", "medium"),
    ("", "ダブって注文したみたいです、1個取り消してください", "other", "medium"),
)


@dataclass(frozen=True)
class Perturbed:
    """One test mail: its test name, the base row it came from (None for MFT), the text and the
    expected labels (None: the base mail's own prediction)."""

    test: str
    base: int | None
    subject: str
    body: str
    received_at: str
    topic: str | None = None
    urgency: str | None = None


def _insert(body: str, sentence: str, rng: np.random.Generator) -> str:
    where = int(rng.integers(3))
    if where == 0:
        return f"{sentence}\n{body}"
    if where == 2:
        return f"{body}\n{sentence}"
    cut = next((i + 1 for i, c in enumerate(body) if c in "。！？!?\n"), len(body))
    return f"{body[:cut]}{sentence}{body[cut:]}"


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def _when(received_at: str, near: bool, rng: np.random.Generator) -> str | None:
    today = local_day(received_at)
    if near and rng.random() < 0.4:
        return _pick(NEAR_WORDS, rng)
    if today is None:
        return None
    return date_words(
        today + timedelta(days=int(rng.integers(0, 3) if near else rng.integers(8, 41))), today, rng
    )


def build_suite(
    base: pd.DataFrame, predicted: pd.DataFrame, per_test: int = 150, seed: int = 0
) -> list[Perturbed]:
    """The suite's test mails built from `base` (labeled mails) and the model's predictions on them."""
    rng = np.random.default_rng(seed)
    right = (base["topic"].to_numpy() == predicted["topic"].to_numpy()) & (
        base["urgency"].to_numpy() == predicted["urgency"].to_numpy()
    )
    rows: list[Any] = list(base.itertuples(index=False))  # namedtuples: fields by column name
    cases: list[Perturbed] = []

    def sample(
        test: str,
        eligible: Callable[[Any], bool],
        make: Callable[[Any], Perturbed | None],
        need_right: bool = False,
    ) -> None:
        positions = [i for i, row in enumerate(rows) if eligible(row) and (right[i] or not need_right)]
        for i in rng.permutation(positions)[:per_test]:
            case = make(int(i))
            if case is not None:
                cases.append(case)

    def added(
        test: str, sentence: str, i: int, topic: str | None = None, urgency: str | None = None
    ) -> Perturbed:
        row = rows[i]
        return Perturbed(
            test, i, row.subject, _insert(row.body, sentence, rng), row.received_at, topic, urgency
        )

    sample("tone_invariance", lambda r: True, lambda i: added("tone_invariance", _pick(ANGRY, rng), i))
    sample(
        "politeness_invariance",
        lambda r: True,
        lambda i: added("politeness_invariance", _pick(POLITE, rng), i),
    )
    for i in rng.permutation(len(rows))[:per_test]:
        row, (a, b) = rows[int(i)], rng.choice(len(IDENTITIES), 2, replace=False)
        for identity in (IDENTITIES[a], IDENTITIES[b]):
            signature = "\n\n{}{}\n{}\n注文番号 {}".format(IDENTITY_MARK, *identity)
            cases.append(
                Perturbed("identity_invariance", int(i), row.subject, row.body + signature, row.received_at)
            )
    sample(
        "negation_invariance",
        lambda r: r.topic in ("usage", "campaign", "other", "non_delivery"),
        lambda i: added("negation_invariance", _pick(NO_DAMAGE, rng), i),
    )
    sample(
        "repeated_contact",
        lambda r: r.urgency != "high",
        lambda i: added("repeated_contact", _pick(REPEATED, rng), i, rows[i].topic, "high"),
        True,
    )

    def deadline(test: str, near: bool) -> Callable[[int], Perturbed | None]:
        def make(i: int) -> Perturbed | None:
            row = rows[i]
            when = _when(row.received_at, near, rng)
            if when is None:
                return None
            urgency = STEP_UP[row.urgency] if near else row.urgency
            return added(test, _pick(NEED[row.topic], rng).format(when=when), i, row.topic, urgency)

        return make

    def steppable(r: Any) -> bool:
        return r.topic in NEED and (r.urgency == "low" or (r.topic, r.urgency) == ("non_delivery", "medium"))

    sample("deadline_step", steppable, deadline("deadline_step", True), True)
    sample("deadline_far", steppable, deadline("deadline_far", False), True)
    sample(
        "deadline_in_medium",
        lambda r: (r.topic, r.urgency) == ("campaign", "medium"),
        lambda i: added("deadline_in_medium", _pick(COUPON_TODAY, rng), i, "campaign", "medium"),
        True,
    )
    sample(
        "answered_late",
        lambda r: (r.topic, r.urgency) == ("non_delivery", "medium"),
        lambda i: added("answered_late", _pick(ANSWERED_LATE, rng), i, "non_delivery", "medium"),
        True,
    )
    cases += [
        Perturbed("borderline", None, s, b, "2026-06-10T11:00:00+09:00", t, u) for s, b, t, u in BORDERLINE
    ]
    return cases


def run_suite(pipeline: Any, base: pd.DataFrame, per_test: int = 150, seed: int = 0) -> pd.DataFrame:
    """Every test mail of the suite with the model's prediction and whether it passed."""
    predicted = model.predict(pipeline, base)
    cases = build_suite(base, predicted, per_test, seed)
    frame = pd.DataFrame([c.__dict__ for c in cases])
    got = model.predict(pipeline, frame[["subject", "body", "received_at"]])
    base_topic, base_urgency = predicted["topic"].to_numpy(), predicted["urgency"].to_numpy()
    results = frame.assign(
        predicted_topic=got["topic"].to_numpy(), predicted_urgency=got["urgency"].to_numpy()
    )
    passed: list[bool | None] = []
    case: Any  # a namedtuple of the columns of `results`
    for case in results.itertuples(index=False):
        if case.test == "identity_invariance":
            passed.append(None)  # decided per pair below
        elif pd.isna(case.topic):
            origin = int(case.base)
            passed.append(
                case.predicted_topic == base_topic[origin] and case.predicted_urgency == base_urgency[origin]
            )
        elif case.test == "repeated_contact":
            passed.append(case.predicted_urgency == "high")
        else:
            passed.append(case.predicted_topic == case.topic and case.predicted_urgency == case.urgency)
    results["passed"] = passed
    pairs = results["test"].eq("identity_invariance")
    if pairs.any():
        labels = results.loc[pairs, "predicted_topic"] + "/" + results.loc[pairs, "predicted_urgency"]
        same = labels.groupby(results.loc[pairs, "base"]).transform("nunique").eq(1)
        results.loc[pairs, "passed"] = same
    return results


def summary(results: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Pass rate and count per test, and the pooled invariance rate the targets speak of."""
    rates = {
        str(test): {"pass_rate": round(float(group["passed"].astype(bool).mean()), 4), "cases": len(group)}
        for test, group in results.groupby("test", sort=False)
    }
    invariance = results[results["test"].str.endswith("_invariance")]
    rates["invariance"] = {
        "pass_rate": round(float(invariance["passed"].astype(bool).mean()), 4),
        "cases": len(invariance),
    }
    return rates


def _shown(subject: str, body: str) -> str:
    """A test mail as the report may show it: redacted, and the suite's own signatures cut off (their
    invented names are names all the same, and MeCab does not tag every one of them)."""
    return redact(f"{subject} {body.split(chr(10) * 2 + IDENTITY_MARK)[0]}")[:120]


def failures(results: pd.DataFrame, per_test: int = 3) -> pd.DataFrame:
    """A few failed cases of each test, text redacted, for the evaluation report."""
    failed = results[~results["passed"].astype(bool)].groupby("test", sort=False).head(per_test)
    return pd.DataFrame(
        {
            "test": failed["test"],
            "text": [_shown(s, b) for s, b in zip(failed["subject"], failed["body"])],
            "expected": [
                f"{t}/{u}" if isinstance(t, str) else "as unperturbed"
                for t, u in zip(failed["topic"], failed["urgency"])
            ],
            "predicted": failed["predicted_topic"] + "/" + failed["predicted_urgency"],
        }
    )
