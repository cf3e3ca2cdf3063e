"""The keyword-rule baseline: an ordered list of rules such as a shop's mail filter would use.

The first rule whose keyword occurs in the normalized text decides topic and urgency. Every report
shows it beside the model, so the model has to earn its complexity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from classifier.text import normalize

# (keywords, topic, urgency), first match wins.
RULES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("二重", "重複して請求", "2回引き落と", "二回引き落と"), "other", "high"),
    (("返信がない", "返事がない", "再度連絡", "何度も連絡", "回答がない"), "non_delivery", "high"),
    (("違う商品", "違うもの", "別の商品", "間違", "入っていな", "足りな", "不足"), "wrong_item", "high"),
    (("割れ", "破損", "壊れ", "傷", "汚れ", "不良", "故障"), "return", "high"),
    (("煙", "発火", "焦げ", "かぶれ", "火傷", "怪我"), "usage", "high"),
    (("届かな", "届きません", "届いていな", "まだ届", "追跡", "配達", "発送"), "non_delivery", "medium"),
    (("返金",), "return", "medium"),
    (("返品", "交換"), "return", "low"),
    (("キャンセル", "取り消"), "other", "medium"),
    (("クーポン", "ポイント", "キャンペーン", "セール", "割引"), "campaign", "low"),
    (("使い方", "方法", "教えて", "設定", "サイズ"), "usage", "low"),
)
DEFAULT = ("other", "low")


def apply_rules(text: str) -> tuple[str, str]:
    text = normalize(text)
    for keywords, topic, urgency in RULES:
        if any(k in text for k in keywords):
            return topic, urgency
    return DEFAULT


class KeywordBaseline(BaseEstimator, ClassifierMixin):
    """Predicts (topic, urgency) pairs from RULES; `fit` learns nothing."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> KeywordBaseline:
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        subjects = X["subject"] if "subject" in X else [""] * len(X)
        return np.array([apply_rules(f"{s} {b}") for s, b in zip(subjects, X["body"])], dtype=object)
