"""Code tests of person-name masking (`text.tag`): the names MeCab knows, the names only a context
shows, the words in the same shapes that are not names, and one MeCab parse for text and tokens."""

import pytest

from classifier import model
from classifier.text import mask_names, preprocess, tag, tokenize
from classifier.text import masking as text
from classifier.text.tagging import END_OF_TEXT

NAME_CASES = [
    # MeCab's 人名, family and given name as one <NAME>
    ("三宅 恭子です。", "<NAME>です。"),
    # a kana given name MeCab does not know, standing alone after a family name it knows
    ("お願いします。 田中 あかり 090-1234-5678", "お願いします。 <NAME> <PHONE>"),
    # introduced: 〇〇と申します, department + の + 〇〇です
    ("株式会社ハルタ商会 総務部の岡本と申します。", "株式会社<NAME> 総務部の<NAME>と申します。"),
    ("経理部の今村です。", "経理部の<NAME>です。"),
    ("会員の岡本と申します。", "会員の<NAME>と申します。"),
    ("資材課 山内でございます。", "資材課 <NAME>でございます。"),
    ("保育サービスの平田でございます。", "保育サービスの<NAME>でございます。"),
    ("こんにちは、やまもとと申します。", "こんにちは、<NAME>と申します。"),
    ("東京都 上田より", "東京都 <NAME>より"),
    # honorifics, kana names among them
    ("ご担当 小池様 先日は", "ご担当 <NAME>様 先日は"),
    ("たなかさん、ありがとう", "<NAME>さん、ありがとう"),
    ("娘の あかりちゃんへの贈り物", "娘の <NAME>ちゃんへの贈り物"),
    # what is written for the name: 名入れ, のし, お名前が…
    ("刺繍のお名前が「ゆうと」ではなく", "刺繍のお名前が「<NAME>」ではなく"),
    ("のしにも「御歳暮 宮川」と", "のしにも「<NAME>」と"),
    ("お名前が山元になっていました", "お名前が<NAME>になっていました"),
    ("有限会社アオバ電機の者です", "有限会社<NAME>の者です"),
    # organisations: the legal form before or after the name, hiragana names up to a particle
    ("学校法人ほしかわ学園 事務局の", "学校法人<NAME> 事務局の"),
    ("ございます。つきしろ造園株式会社の者です", "ございます。<NAME>株式会社の者です"),
    # more self-introductions and signatures
    ("いつも利用しております、鴫原です。", "いつも利用しております、<NAME>です。"),
    ("注文した梶ヶ谷と申します。", "注文した<NAME>と申します。"),
    ("長野の鴫原でございます", "長野の<NAME>でございます"),
    ("<ORDER> 鴫原 セツ 電話 <PHONE>", "<order> <NAME> 電話 <phone>"),
    ("株式会社テスト 庶務 梶ヶ谷", "株式会社<NAME> 庶務 <NAME>"),
    ("私は月城ではありません", "私は<NAME>ではありません"),
    # a family name MeCab reads as a place (三好 is a city), introduced after a past verb
    ("マウスを購入した三好です。", "マウスを購入した<NAME>です。"),
    # the name of a signature's last line: after the company, a job or department, or a place, before
    # contact data or the end; katakana names joined by ・; a katakana name glued to the verb before it
    ("株式会社テスト 総務 雲雀 tel 090-1234-5678", "株式会社<NAME> 総務 <NAME> tel <PHONE>"),
    ("株式会社テスト 空野", "株式会社<NAME> <NAME>"),
    ("ワカバ工務店 若林", "ワカバ工務店 <NAME>"),
    ("現場事務所 楠 宛", "現場事務所 <NAME> 宛"),
    ("名古屋市昭和区 丹羽 注文番号 123456", "名古屋市昭和区 <NAME> 注文番号 <ORDER>"),
    ("よろしくお願いします。 スパチャイ・ウォンサワット", "よろしくお願いします。 <NAME>"),
    ("勤務しておりますプトリと申します。", "勤務しております<NAME>と申します。"),
    ("注文番号 4410-883 仲村渠 美和 070-3318-5527", "注文番号 <ORDER> <NAME> <PHONE>"),
]

NOT_NAME_CASES = [
    "お店の商品です",
    "注文の商品です",
    "たくさん届いた",
    "お客様各位",
    "配達員さんが来ない",
    "ヤマトさんに聞いたら",
    "赤ちゃん用の肌着",
    "商品の様子が変です",
    "それより早く",
    "よろしく 田中 ありがとう",  # a greeting after a name is not a given name
    "以上でございます",
    "こちらの商品でございます",
    "返品 したい です",
    "株式会社 総務部 宛",  # the addressee mark ending a signature is no name
    "注文番号 123456 至急",
    "昨日行った大阪で買った",
]


@pytest.mark.parametrize(("raw", "expected"), NAME_CASES)
def test_names_are_masked(raw, expected):
    assert mask_names(preprocess(raw)) == expected


@pytest.mark.parametrize("raw", NOT_NAME_CASES)
def test_words_in_name_shapes_are_kept(raw):
    masked = mask_names(preprocess(raw))
    kept = masked.replace("<NAME>", "")
    assert [
        w
        for w in (
            "商品",
            "たくさん",
            "お客様",
            "配達員",
            "ヤマト",
            "赤ちゃん",
            "様子",
            "それより",
            "ありがとう",
            "以上",
            "商品",
            "したい",
            "大阪",
        )
        if w in raw
    ] == [
        w
        for w in (
            "商品",
            "たくさん",
            "お客様",
            "配達員",
            "ヤマト",
            "赤ちゃん",
            "様子",
            "それより",
            "ありがとう",
            "以上",
            "商品",
            "したい",
            "大阪",
        )
        if w in kept
    ]


def test_tokens_come_from_the_same_parse_and_name_no_one():
    (tagged,) = tag([preprocess("経理部の今村です。 三宅 恭子 様 商品が届きません")])
    assert tagged.tokens == tokenize(preprocess("経理部の今村です。 三宅 恭子 様 商品が届きません"))
    assert "<NAME>" in tagged.tokens and not {"今村", "三宅", "恭子"} & set(tagged.tokens)
    assert tag([tagged])[0] is tagged  # a tagged text is not parsed again


def test_no_corpus_name_reaches_the_model_input(corpus):
    # The names the corpus records for its rows (pii column): none is left in the text or the tokens
    # of the model's input, except where the writer gave no context at all (a bare name ending a mail).
    frame = corpus[corpus["pii"].fillna("").str.len() > 0]
    texts = model.inquiry_texts(frame)
    names = [
        [
            part
            for value in pii.split("|")
            if not any(c.isdigit() or c == "@" for c in value)
            for part in value.split()
        ]
        for pii in frame["pii"]
    ]
    left = [
        (part, str(t)) for t, parts in zip(texts, names) for part in parts if part in t or part in t.tokens
    ]
    total = sum(map(len, names))
    assert total > 300 and len(left) <= total // 100, left[:10]


def test_texts_without_names_come_back_unchanged():
    texts = [preprocess(t) for t in ("商品が届きません。至急確認してください!", "返品したい 🙏 サイズ違い")]
    assert [str(t) for t in tag(texts)] == texts
    assert END_OF_TEXT not in "".join(map(str, tag(texts)))


def test_windows_before_the_needles_mask_as_the_whole_patterns_would(corpus, robustness):
    # `_INTRODUCED`, `_SIGNED_OFF` and `_HONORIFIC` are only searched just before their needles; on
    # every corpus text the result must be what substituting the whole pattern everywhere gives.
    import re

    introduced = re.compile(text._INTRODUCED.pattern + "|" + text._SIGNED_OFF.pattern)
    texts = [
        preprocess(f"{s} {b}")
        for frame in (corpus, robustness)
        for s, b in zip(frame["subject"], frame["body"])
    ]
    for raw in texts:
        windowed = text._sub_before_needles(
            text._INTRODUCED, text._INTRODUCED_NEEDLE, text._INTRODUCED_REACH, raw, text._prefixed_name
        )
        ending = text._SIGNED_OFF.search(windowed, max(0, len(windowed) - text._SIGNED_OFF_REACH))
        if ending is not None:
            windowed = windowed[: ending.start()] + text._prefixed_name(ending) + windowed[ending.end() :]
        assert windowed == introduced.sub(text._prefixed_name, raw)
        honorific = text._sub_before_needles(
            text._HONORIFIC, text._HONORIFICS, text._HONORIFIC_REACH, raw, text._honorific
        )
        assert honorific == text._HONORIFIC.sub(text._honorific, raw)
