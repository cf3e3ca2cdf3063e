"""Code tests of the labeling rules as behaviour: the training augmentation (classifier.augment), the
hard urgency rules on top of the head (classifier.rules) and the behaviour suite's construction
(classifier.behaviour)."""

import numpy as np
import pandas as pd
import pytest

from classifier.evaluation import behaviour
from classifier.model import rules, texts_and_deadlines
from classifier.text import mask_names, preprocess
from classifier.training import augment


@pytest.mark.parametrize(
    "text",
    [
        "先週問い合わせましたが返信がありません。荷物はどうなっていますか。",
        "【再送】注文番号<ORDER>の件",
        "二度目のご連絡です。交換の件どうなりましたか",
        "自動返信しか来ないんですけど",
        "3日前にメールしたのに連絡が来ません",
        "問い合わせしたのにまだ返事ないです😡",
    ],
)
def test_repeated_contact_is_found(text):
    assert rules.repeated_contact(text)


@pytest.mark.parametrize(
    "text",
    [
        "ご返信ありがとうございます。その後まだ届いていません。",  # the shop answered (rule 6)
        "届かない場合は再送していただけますか",  # a re-shipment, not a re-sent mail
        "ワイヤレスイヤホンの使い方を教えてください",  # レス inside a word
        "特に返信は必要ありません。いつもありがとうございます。",
        "2回目の注文でクーポンが使えませんでした",
    ],
)
def test_other_mail_is_not_repeated_contact(text):
    assert not rules.repeated_contact(text)


@pytest.mark.parametrize(
    "text",
    [
        "ドライヤー使ってたら焦げ臭いにおいがして煙が出ました。こういうものですか?",
        "化粧水を使ったら顔が赤くかぶれてしまいました",
        "サプリを飲んでから動悸がします",
        "充電中にケーブルから火花が出た",
        "the charger made smoke when i plug it. is this normal?",
        "子どもが角で手を切って出血しました",
        "包丁研ぎ器つかってたら刃がすべって指切った。これ持ち方あってる？",
        "割れたグラスで手のひらを切りました",
    ],
)
def test_a_harm_that_happened_is_a_safety_risk(text):
    assert rules.safety_risk(text)


@pytest.mark.parametrize(
    "text",
    [
        "煙は出ていませんが、電源が入りません",  # denied
        "鍋を買ったんやけど、重すぎて返品したいです",  # Kansai やけど is "but"
        "おかゆモードの使い方を教えてください",
        "kids rash guard size 130 not arrived",
        "ゴム手袋でかぶれたことがあるのですが、この商品は大丈夫ですか",  # a past case, asked about
        "アレルギー表示を教えてください",  # a question about allergens, no reaction
        "リモコンの電池が切れたので交換方法を教えてください",  # a battery, no body part
        "刃が鋭くて手が切れそうで怖いです。カバーはありますか",  # a fear, nothing happened
        "孫が手を切ったりしたら大変なので、角の保護カバーはありますか",  # a hypothetical
    ],
)
def test_other_mail_is_no_safety_risk(text):
    assert not rules.safety_risk(text)


def test_rules_only_raise_and_name_what_fired():
    texts = [
        "先週問い合わせましたが返信がありません",
        "使い方を教えて",
        "荷物がまだです",
        "クーポンが使えません",
        "使い方を教えて",
        "色が違う",
        "使ったら煙が出ました",
    ]
    deadlines = ["", "DUENEAR", "DUENEAR", "DUENEAR", "", "", ""]
    topic = np.array(
        ["usage", "usage", "non_delivery", "campaign", "usage", "wrong_item", "usage"], dtype=object
    )
    urgency = np.array(["low", "low", "medium", "medium", "high", "low", "low"], dtype=object)
    raised, fired = rules.apply(texts, deadlines, topic, urgency)
    # rule 2; rule 3 low → medium; L1 late parcel → high; rule 5: another medium situation is not
    # stepped; never lowered; a wrong item is always red; a harm that happened is red
    assert raised.tolist() == ["high", "medium", "high", "medium", "high", "high", "high"]
    assert fired.tolist() == [
        "repeated_contact",
        "near_deadline",
        "near_deadline",
        "",
        "",
        "wrong_item",
        "safety",
    ]


@pytest.fixture(scope="module")
def base():
    return pd.DataFrame(
        {
            "id": [f"x{i}" for i in range(6)],
            "received_at": ["2026-12-20T10:00:00+09:00"] * 6,
            "channel": ["form"] * 6,
            "subject": [""] * 6,
            "body": [
                "加湿器の掃除方法を教えてください。",
                "まだ届きません。",
                "割れていました。交換してください。",
                "クーポンが使えず購入できません。",
                "サイズが合わないので返品したいです。",
                "ポイントの期限は？",
            ],
            "topic": ["usage", "non_delivery", "return", "campaign", "return", "campaign"],
            "urgency": ["low", "medium", "high", "medium", "low", "low"],
            "source": ["hand:w01"] * 6,
        }
    )


def test_augmented_copies_keep_their_labels_and_writer(base):
    shares = {kind: 1.0 for kind in augment.KINDS}
    copies = augment.augmented_copies(base, shares, seed=1)
    assert list(copies.columns) == list(base.columns)
    kind = copies["id"].str.split("~").str[1]
    original = base.set_index("id").loc[copies["id"].str.split("~").str[0]]
    assert (
        original[["topic", "urgency", "source"]].to_numpy()
        == copies[["topic", "urgency", "source"]].to_numpy()
    ).all()
    assert (copies["body"].str.len().to_numpy() > original["body"].str.len().to_numpy()).all()
    assert set(kind) == set(augment.KINDS)
    # "no damage" never lands on a damaged item; the rule 5 and 6 sentences only on their situation
    assert not (kind.eq("negation") & copies["topic"].eq("return") & copies["urgency"].eq("high")).any()
    assert set(
        map(tuple, copies.loc[kind.eq("coupon_today").to_numpy(), ["topic", "urgency"]].to_numpy())
    ) == {("campaign", "medium")}
    # far deadlines stay far for the rules: none of them reads as near
    _, deadlines = texts_and_deadlines(copies[kind.eq("deadline_far").to_numpy()])
    assert len(deadlines) >= 3 and "DUENEAR" not in deadlines


def test_a_sentence_added_at_the_end_goes_above_the_closing_lines_and_the_name_stays_masked():
    body = "商品が届きません。\n注文番号 123456\n株式会社テスト 総務 雲雀"
    copy = augment._insert(body, "もう限界です。", 2)
    assert copy == "商品が届きません。\nもう限界です。\n注文番号 123456\n株式会社テスト 総務 雲雀"
    assert "雲雀" not in mask_names(preprocess(copy))
    sentences = augment._insert("届きません。\nまだですか。", "もう限界です。", 2)
    assert sentences.endswith("まだですか。\nもう限界です。")
    # a text of one line gets the sentence after it, closing or not
    assert augment._insert("届きません", "もう限界です。", 2) == "届きません\nもう限界です。"


def test_augmentation_is_reproducible(base):
    shares = {"tone": 0.5, "negation": 0.5}
    pd.testing.assert_frame_equal(
        augment.augmented_copies(base, shares, 7), augment.augmented_copies(base, shares, 7)
    )


def test_the_suite_tests_the_rules_with_words_the_training_copies_never_use():
    trained = {*augment.TONE, *augment.NEGATION, *augment.ANSWERED_LATE, *augment.COUPON_TODAY}
    trained |= {p for phrases in augment.NEED.values() for p in phrases}
    tested = {
        *behaviour.ANGRY,
        *behaviour.POLITE,
        *behaviour.NO_DAMAGE,
        *behaviour.REPEATED,
        *behaviour.ANSWERED_LATE,
        *behaviour.COUPON_TODAY,
    }
    tested |= {p for phrases in behaviour.NEED.values() for p in phrases}
    assert not trained & tested


def test_the_suite_builds_every_test_from_labeled_mail(base):
    predicted = base[["topic", "urgency"]]  # as if the model were right on every base mail
    cases = behaviour.build_suite(base, predicted, per_test=10, seed=0)
    tests = {case.test for case in cases}
    assert {
        "tone_invariance",
        "identity_invariance",
        "repeated_contact",
        "deadline_step",
        "deadline_far",
        "borderline",
    } <= tests
    steps = [c for c in cases if c.test == "deadline_step"]
    assert {(base.topic[c.base], base.urgency[c.base], c.urgency) for c in steps} <= {
        ("usage", "low", "medium"),
        ("non_delivery", "medium", "high"),
        ("return", "low", "medium"),
        ("campaign", "low", "medium"),
    }
    assert all(len(c.body) > len(base.body[c.base]) for c in cases if c.base is not None)
