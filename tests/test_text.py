"""Code tests of normalization, masking and tokenization: exact expected outputs, case by case."""

import random
import re
import unicodedata

import pytest

from classifier import model
from classifier.text import mask, nfkc, normalize, preprocess, tokenize

NORMALIZE_CASES = [
    ("ｽﾏﾎのｹｰｽ", "スマホのケース"),  # half-width katakana
    ("ﾃﾞｨｽﾌﾟﾚｲ", "ディスプレイ"),  # half-width voiced marks join
    ("ＡＢＣ１２３", "abc123"),  # full-width latin and digits, case folded
    ("iPhone ケース", "iphone ケース"),
    ("コーヒ―", "コーヒー"),  # horizontal bar after kana is a long vowel
    ("ゴ――ル", "ゴール"),
    ("ゴーーール", "ゴール"),  # repeated long vowel collapsed
    ("090ー1234ー5678", "090-1234-5678"),  # long vowel between digits is a hyphen
    ("A—B", "a-b"),  # em dash elsewhere is a hyphen
    ("まだですか？？？", "まだですか?"),
    ("ふざけるな！！！！", "ふざけるな!"),
    ("本当に！？！？", "本当に!?"),
    ("よろしく〜〜〜", "よろしく〜"),
    ("3～5日", "3〜5日"),  # full-width tilde unified to the wave dash
    ("a\u200bb", "ab"),  # zero-width space removed
    ("注文\u0007番号", "注文 番号"),  # control character removed
    ("注文\x85番号\x1f。\r\n", "注文 番号 。"),  # control characters that are whitespace too
    ("090\nー1234", "090 ー1234"),  # a line break is no digit: the long vowel stays
    ("  お世話に\n\nなります\t。 ", "お世話に なります 。"),  # whitespace collapsed
    ("㈱テスト", "(株)テスト"),  # NFKC decomposes enclosed forms
    ("①の部品", "1の部品"),
    ("ﾊﾟｿｺﾝとか\u3099", "パソコンとが"),  # a combining voiced mark joins the kana before it
    ("ｶﾞ\u1100\u1161\u11a8", "ガ각"),  # Hangul jamo compose
]

MASK_CASES = [
    ("電話は03-1234-5678です", "電話は<PHONE>です"),
    ("090-1234-5678まで", "<PHONE>まで"),
    ("連絡先 09012345678", "連絡先 <PHONE>"),
    ("+81 90-1234-5678", "<PHONE>"),
    ("+81-3-1234-5678へ", "<PHONE>へ"),
    ("yamada.taro@example.jp に返信", "<EMAIL> に返信"),
    ("〒123-4567 東京都", "<POSTAL> 東京都"),
    ("住所 150-0001 渋谷区", "住所 <POSTAL> 渋谷区"),
    ("注文番号 123-4567890-1234567", "注文番号 <ORDER>"),
    ("受注番号 20260312-0001234", "受注番号 <ORDER>"),
    ("注文#10234の件", "注文<ORDER>の件"),
    ("受注番号 a-58821", "受注番号 <ORDER>"),
    ("伝票番号 4012345678901", "伝票番号 <ORDER>"),
    ("¥1,980の商品", "<MONEY>の商品"),
    ("1980円でした", "<MONEY>でした"),
    ("3万円", "<MONEY>"),
    ("3月15日に注文", "<DATE>に注文"),
    ("2026年3月15日", "<DATE>"),
    ("2026/3/15着", "<DATE>着"),
    ("2026-03-15", "<DATE>"),
    ("12/24までに", "<DATE>までに"),
    ("詳細は https://shop.example.com/item?id=1 を", "詳細は <URL> を"),
    ("サイズは2個とMサイズ", "サイズは2個とmサイズ"),  # short numbers are not personal data
    # issue #18: card numbers in groups, phones with spaces, dots and parentheses
    ("カード番号 4111 1111 1111 1111 です", "カード番号 <CARD> です"),
    ("4111-1111-1111-1111で決済", "<CARD>で決済"),
    ("アメックス3782 822463 10005", "アメックス<CARD>"),
    ("カード番号 4111111111111111", "カード番号 <ORDER>"),  # a plain run: a tracking number looks the same
    ("カード末尾 7706", "カード末尾 <CARD>"),
    ("カードは下4桁2219のもの", "カードは下4桁<CARD>のもの"),
    ("追跡番号 5517 2093 6648", "追跡番号 <ORDER>"),  # spaced digit groups that are no card
    ("注文番号は9 4 1 7 0 3です", "注文番号は<ORDER>です"),  # voice input, digit by digit
    ("注文番号 No.48217 の件", "注文番号 no.<ORDER> の件"),
    ("会員ID：M20881356", "会員id:<ORDER>"),  # member ids: a letter prefix glued to 6+ digits
    ("会員番号 TH0047721 です", "会員番号 <ORDER> です"),
    ("型番はRTX4090とB0C1234567", "型番はrtx4090とb0c1234567"),  # model numbers are no member ids
    ("請求書(No.2026-1104-207)", "請求書(no.<ORDER>)"),
    ("サイズは1 2 3です no.12", "サイズは1 2 3です no.12"),
    ("(045) 123-4567", "<PHONE>"),  # not a postal code after the area code
    ("090 2345 6789まで", "<PHONE>まで"),
    ("電話 03 1234 5678", "電話 <PHONE>"),
    ("(03) 1234-5678", "<PHONE>"),
    ("03(1234)5678", "<PHONE>"),
    ("090.2345.6789", "<PHONE>"),
    ("TEL.090-2345-6789", "tel.<PHONE>"),
    ("tel09023456789", "tel<PHONE>"),
    ("+81 90 2345 6789", "<PHONE>"),
    # addresses with kanji numerals and spaces, with the place before them and the building after them
    ("梅田三丁目4番5号", "<ADDRESS>"),
    ("梅田 三 丁目 4 番 5 号です", "<ADDRESS>です"),
    ("三丁目十二番地", "<ADDRESS>"),
    ("1丁目2-3", "<ADDRESS>"),
    ("4番5号", "<ADDRESS>"),
    ("住所は12番地です", "住所は<ADDRESS>です"),
    ("大阪府大阪市北区梅田三丁目4番5号", "<ADDRESS>"),
    ("住所は東京都世田谷区北沢2-3-4です", "住所は<ADDRESS>です"),
    ("東京都 世田谷区 北沢 2-3-4", "<ADDRESS>"),
    ("神奈川県横浜市中区本町4番5号の倉庫", "<ADDRESS>の倉庫"),
    ("東京都世田谷区北沢2-3-4 〇〇マンション302号室に", "<ADDRESS>に"),
    ("北沢2-3-4-302", "北沢<ADDRESS>"),  # the town alone stays before a dashed address
    ("梅田1-2-3ハイツ101へ", "梅田<ADDRESS>へ"),
    ("部屋番号は302号室です", "部屋番号は<ADDRESS>です"),
    ("自由が丘2丁目3番地", "<ADDRESS>"),
    ("商品が3個届いた", "商品が3個届いた"),  # counted, ordinal, numbered things are no addresses
    ("2番目の商品", "2番目の商品"),
    ("3号機が故障", "3号機が故障"),
    ("一番安いもの", "一番安いもの"),
    ("1番人気 3番線 台風10号 5号サイズ", "1番人気 3番線 台風10号 5号サイズ"),
    ("東京都の倉庫から3個", "東京都の倉庫から3個"),
]

TOKENIZE_CASES = [
    ("届きません", ["届く", "ない"]),
    ("届かない", ["届く", "ない"]),
    ("届いてない", ["届く", "ない"]),
    ("届いた", ["届く"]),
    ("在庫がない", ["在庫", "ない"]),
    ("使えず困っています", ["使える", "ない", "困る", "いる"]),
    ("返品したいです", ["返品", "する", "たい"]),
    ("割れていました。", ["割れる", "いる"]),
    ("電話は<PHONE>まで", ["電話", "<PHONE>"]),
    ("注文<ORDER>の件", ["注文", "<ORDER>", "件"]),
    ("カード番号<CARD>です", ["カード", "番号", "<CARD>"]),
    ("住所は<ADDRESS>です", ["住所", "<ADDRESS>"]),
    ("!?、。「」()", []),
    ("スマホのケース", ["スマホ", "ケース"]),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZE_CASES)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), MASK_CASES)
def test_mask(raw, expected):
    assert mask(normalize(raw)) == expected


@pytest.mark.parametrize(("raw", "expected"), TOKENIZE_CASES)
def test_tokenize(raw, expected):
    assert tokenize(raw) == expected


def test_negation_changes_the_tokens():
    assert tokenize(preprocess("荷物が届いた")) != tokenize(preprocess("荷物が届かない"))


def test_half_width_and_full_width_give_the_same_tokens():
    assert tokenize(preprocess("ｻｲｽﾞが合わない")) == tokenize(preprocess("サイズが合わない"))


def test_placeholders_are_upper_case_and_never_come_from_customer_text():
    # Customer text is lower-cased before masking, so "PHONE" typed by a customer stays a word.
    assert tokenize(preprocess("PHONEを落としました")) == ["phone", "落とす"]


def test_tagger_is_created_once_per_thread():
    # One MeCab tagger per thread: reused by the same thread, never shared with another (MeCab's
    # tagger is not thread-safe), and each thread's tokens are the same.
    import threading

    from classifier.text import tagging

    tokenize("一回目")
    first = tagging._tagger()
    tokenize("二回目")
    assert tagging._tagger() is first
    both_running = threading.Barrier(2, timeout=30)  # two threads alive at once, not one after the other
    results = {}

    def in_a_thread(name):
        tokens = tokenize("注文した商品がまだ届きません")
        tagger = tagging._tagger()
        both_running.wait()
        results[name] = (tagger, tagging._tagger() is tagger, tokens)

    threads = [threading.Thread(target=in_a_thread, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (one, same_one, tokens_one), (two, same_two, tokens_two) = results[0], results[1]
    assert same_one and same_two and one is not two and first not in (one, two)
    assert tokens_one == tokens_two == tokenize("注文した商品がまだ届きません")


# Characters NFKC changes, reorders or composes, mixed with kana, kanji and ASCII it leaves alone.
NFKC_POOL = (
    "ｶﾞｷﾞﾊﾟﾟﾞ゛゜か\u3099は\u309aＡＢ１２！？　〜～ーｰ①㈱㍿アイ가\u1100\u1161\u11a8e\u0301\u0327c\u0300\u0323"
    "ﬁ\u00bd\u2126Å\u212b😀𝐀\U0002f800漢字。、0a-! \u0b47\u0b3e\u0cc6\u0cd5"
)


def test_nfkc_equals_unicodedata_on_corpus_texts_and_random_mixtures(corpus):
    texts = model.inquiry_texts(corpus.head(300)) + corpus["body"].head(300).tolist()
    rng = random.Random(0)
    texts += ["".join(rng.choice(NFKC_POOL) for _ in range(rng.randint(0, 16))) for _ in range(20_000)]
    assert [nfkc(t) for t in texts] == [unicodedata.normalize("NFKC", t) for t in texts]


def test_every_text_a_mask_pattern_matches_has_its_needle(corpus):
    from classifier.text.masking import _MASKS, _spans

    texts = [normalize(t) for t in corpus["body"].tolist()] + [normalize(raw) for raw, _ in MASK_CASES]
    for name, needle, pattern in _MASKS:
        matched = [t for t in texts if _spans(pattern, t)]
        assert matched, name  # each pattern is exercised
        if needle is not None:
            assert all(needle.search(t) for t in matched), name


# Digits, separators and the strings the mask patterns look for, to be mixed at random.
MASK_POOL = (
    *"0123456789-/.#@_ab xyz〒円¥$万年月日東京都市:,+",
    "090",
    "2024",
    "1234567",
    "-12",
    "1-2-3",
    "丁目",
    "番地",
    "号",
    "@ex.com",
    "+81 ",
    "http://",
    "www.",
    "(",
    ")",
    "1111 ",
    "4111-",
    "三",
    "十二",
    "番",
    "号室",
    "区",
    "大阪府",
    "梅田",
    "が",
    "マンション",
    "ハイツ",
)


def test_mask_equals_substituting_the_plain_patterns_in_order(corpus):
    """The compiled patterns and the needles only make masking faster: the result is each plain
    pattern substituted in turn, and `found` lists what each one replaced."""
    from classifier.text.masking import _MASK_PATTERNS

    def reference(text: str) -> tuple[str, dict[str, list[str]]]:
        found: dict[str, list[str]] = {}
        for name, _, _, pattern in _MASK_PATTERNS:
            found.setdefault(name, []).extend(m.group() for m in re.finditer(pattern, text))
            text = re.sub(pattern, f"<{name}>", text)
        return text, {name: matches for name, matches in found.items() if matches}

    rng = random.Random(0)
    texts = [normalize(t) for t in corpus["body"].tolist()] + [normalize(raw) for raw, _ in MASK_CASES]
    texts += ["".join(rng.choice(MASK_POOL) for _ in range(rng.randint(0, 30))) for _ in range(20_000)]
    for text in texts:
        found: dict[str, list[str]] = {}
        assert (mask(text, found), found) == reference(text), text
        assert mask(text) == reference(text)[0]
