"""The urgency rules the labeling spec states as hard rules, applied on top of the urgency head.

A linear model over n-grams weighs one added sentence against the rest of the mail, so "I asked last
week and got no answer" in a long mail, or a gift needed the day after tomorrow, does not reliably
move its urgency; the spec says it must (docs/labeling.md):

- **repeated contact** (rule 2, L4): an earlier inquiry to the shop that got no answer, or only an
  auto-reply → `high`, whatever the topic;
- **wrong item** (the urgency table, rule 4): the shop sent something other than what was ordered:
  always `high`, so a `wrong_item` topic is never left orange or green by the separate urgency head;
- **safety** (the urgency table, the borderline table's "a rash, burn smell, smoke or injury, even
  when phrased as a question"): a harm to the customer's body or home named as having happened
  (smoke, sparks, a burn, a rash, palpitations…), not denied ("煙は出ていません") → `high`;
- **near deadline** (rule 3, L1, L21): a need-by date within two days of `received_at` (the text's
  deadline marker, `classifier.dates`) → `low` becomes `medium`, and a late parcel (`non_delivery`,
  `medium`) becomes `high`; a deadline inside another medium situation is not stepped again (rule 5).

The rules only ever raise urgency (the cost of a red mail read late is higher than that of an orange
one read early) and say which of them fired. They read the model's input text (normalized, masked),
so quoted earlier messages and signatures are already gone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

# A no-answer statement: the customer says the shop did not reply.
_REPLY = r"(?:返信|返事|返答|回答|お返事|ご返信|ご返答|ご回答|(?<![\u30a0-\u30ff])レス|音沙汰|反応)"
_NOT_YET = (
    r"(?:ない|無い|なし|無し|ありません|ございません|来ない|こない|来ません|きません|届かない|届きません|届いてい(?:ない|ません)|"
    r"いただけてい|いただけておりません|頂けてい|もらえてい|もらってない|もらっていません|ゼロ)"
)
# An earlier message of the customer's own to the shop.
_ASKED = (
    r"(?:問い?合わ?せ(?:た|まし|して|を|の)|問合せ(?:た|まし|して|を)"
    r"|メール(?:した|しまし|して|を送|送っ|を差し上げ)|質問(?:した|しまし|して|を送)"
    r"|連絡(?:した|しまし|して|を差し上げ|を入れ)|送った|送りました|送信し|ご相談し|相談し|フォームから)"
)
_REPEATED = re.compile(
    # 再送 of the customer's own message, not a re-shipment (再送していただけますか)
    r"再送(?:です|します|いたします|させて|で失礼|\]|】|\))|^\s*\[?【?\(?再送"
    r"|(?:二|2|3|三|4|四|何)(?:度|回)目の(?:ご)?(?:連絡|問い?合わ?せ|メール|お?問合せ|質問)"
    r"|再度の(?:ご)?(?:連絡|問い?合わ?せ|メール)"
    rf"|{_REPLY}[^。!?必不]{{0,12}}?{_NOT_YET}"
    rf"|{_ASKED}[^。!?]{{0,40}}?(?:連絡|メール|お?返し)(?:が|は|も|すら)?[^。!?]{{0,8}}?(?:ない|ありません|来ない|こない|来ません|きません)"
    r"|自動返信(?:メール)?(?:のみ|だけ|しか)|無視され|放置されて"
)
# Not the shop's silence: the shop answered (rule 6), or the customer thanks it for a reply.
_ANSWERED = re.compile(
    r"(?:返信|返事|回答|お返事|ご返信|ご回答|ご連絡)(?:を)?(?:いただき|頂き|ありがとう|もらい|もらった|いただいた|頂いた)"
)

# A harm that happened: smoke, fire, heat, a burn, an injury (a cut finger or hand; a battery that 切れた
# is none), a skin reaction, a bodily symptom. Kansai やけど ("but"), おかゆ, a rash guard and
# "かぶれたことがある" (a past case, asked about) are not.
_HARM = (
    r"(?:煙|発煙|発火|火花|火が出|焦げ臭|こげ臭|焦げ(?:た|て)|燃え(?:た|て)|やけどし|やけどを|火傷|怪我|けがをし|けがし|ケガ"
    r"|出血|血が出|かぶれ(?!た(?:こと|経験))|発疹|湿疹|腫れ|じんましん|蕁麻疹|かゆい|かゆく|かゆみ|痒|ヒリヒリ|ただれ"
    r"|動悸|吐き気|嘔吐|めまい|感電|ビリっと|ビリッと|破裂|爆発|漏電|異常に熱|熱くなっ"
    r"|切り傷|(?:指|手|手のひら|足|口|唇)(?:を|が)?切(?:って|った(?!り)|っちゃ|れた|れて|れちゃ|れまし|りまし)"
    r"|smoke|sparks?|caught fire|burn(?:ed|t|s|ing)?|rash(?! guard)|injur)"
)
_HARMS = re.compile(_HARM)
_DENIED = re.compile(_HARM + r"[^。!?]{0,10}?(?:ない|ません|なかった|なし|無し|無い)")

STEP_UP = {"low": "medium", "medium": "high", "high": "high"}
NEAR = "DUENEAR"


# Every match of `_REPEATED` contains one of these: a text without any is not scanned (most are not).
_NEEDLE = re.compile(r"再送|目の|再度|返|回答|レス|音沙汰|反応|連絡|メール|無視|放置")


def repeated_contact(text: str) -> bool:
    """Whether the (preprocessed) text says an earlier inquiry to the shop got no answer."""
    return (
        _NEEDLE.search(text) is not None
        and _REPEATED.search(text) is not None
        and _ANSWERED.search(text) is None
    )


def safety_risk(text: str) -> bool:
    """Whether the (preprocessed) text names a harm to body or home that happened and is not denied."""
    return any(_DENIED.match(text, harm.start()) is None for harm in _HARMS.finditer(text))


def apply(
    texts: Sequence[str], deadlines: Sequence[str], topic: np.ndarray, urgency: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Urgency after the rules, and per row the rule that raised it ('' where none did); `deadlines`
    are the rows' deadline markers (`model.texts_and_deadlines`)."""
    raised = np.asarray(urgency, dtype=object).copy()
    fired = np.full(len(raised), "", dtype=object)
    for row, text in enumerate(texts):
        if raised[row] == "high":
            continue
        if topic[row] == "wrong_item":
            raised[row], fired[row] = "high", "wrong_item"
        elif safety_risk(text):
            raised[row], fired[row] = "high", "safety"
        elif repeated_contact(text):
            raised[row], fired[row] = "high", "repeated_contact"
        elif deadlines[row] == NEAR and (
            raised[row] == "low" or (topic[row], raised[row]) == ("non_delivery", "medium")
        ):
            raised[row], fired[row] = STEP_UP[raised[row]], "near_deadline"
    return raised, fired
