"""Data tests of the labeled corpus itself (Made With ML's "data tests"): schema, labels, duplicates,
leakage between the splits, class and style shares, vocabulary, and masking of planted personal data.

The bounds are the corpus rules of docs/data.md; a shop that replaces the corpus with its own history
keeps the schema and leakage tests and adapts the share bounds to its own mix.
"""

import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT

from classifier.io import contract
from classifier.io.mail import strip_quoted
from classifier.stages import validate
from classifier.text import normalize, preprocess

ALLOWED = {
    ("wrong_item", "high"),
    *((t, u) for t in ("non_delivery", "usage", "return", "campaign", "other") for u in contract.URGENCIES),
}
OBVIOUS_KEYWORDS = {
    "wrong_item": ("違う", "違い", "間違"),
    "non_delivery": ("届かない", "届きません", "届いていない", "届いてない"),
    "usage": ("使い方",),
    "return": ("返品",),
    "campaign": ("クーポン",),
}
OTHER_SUBKINDS = {
    "cancel or change": ("キャンセル", "変更"),
    "payment": ("支払", "請求", "決済", "振込"),
    "receipts": ("領収書", "請求書", "インボイス"),
    "account": ("ログイン", "パスワード", "アカウント", "会員"),
    "restock": ("再入荷", "再販", "入荷予定"),
    "thanks": ("ありがとう", "感謝"),
    "spam": ("SEO", "ご提案", "営業", "広告"),
}


TIDY_WRITERS = [f"hand:w{n:02d}" for n in range(1, 8)]  # the first brief; w08-w12 wrote to the hard brief


@pytest.fixture(scope="module")
def everything(corpus, test_split):
    return pd.concat([corpus.assign(split="train"), test_split.assign(split="test")], ignore_index=True)


@pytest.fixture(scope="module")
def tidy(everything):
    """The first seven writers' mail (the test split was drawn from it): the style and masking bounds
    below are that brief's. The hard writers (docs/data.md) write mostly casual and hard_case texts and
    plant personal data in odd formats (spaced digits, short order numbers, room numbers), masking gaps
    that issue #18 closes."""
    return everything[everything["source"].isin(TIDY_WRITERS)]


def test_the_files_are_what_the_written_parts_and_both_passes_build(tmp_path):
    """scripts/build_corpus.py rebuilds the training file, the frozen split and the robustness set,
    byte for byte, from data/raw, data/robustness/raw and data/labels: no file drifted from its source."""
    shutil.copy(ROOT / "data" / "test.csv", tmp_path / "test.csv")  # frozen: the script keeps its ids
    built = {"--out": tmp_path / "inquiries.csv", "--robustness": tmp_path / "robustness.csv"}
    arguments = [str(a) for pair in built.items() for a in pair] + ["--test", str(tmp_path / "test.csv")]
    subprocess.run([sys.executable, "scripts/build_corpus.py", *arguments], cwd=ROOT, check=True)
    for name in ("inquiries.csv", "test.csv", "robustness.csv"):
        assert (tmp_path / name).read_bytes() == (ROOT / "data" / name).read_bytes(), name


def test_both_files_follow_the_data_contract(corpus, test_split):
    # The fixtures load through data.load_inquiries, which raises on any schema or label problem.
    assert len(corpus) >= 3000
    assert len(test_split) >= 600


def test_ids_are_unique_across_the_splits(everything):
    assert everything["id"].is_unique


def test_only_combinations_the_spec_allows(everything):
    assert set(zip(everything["topic"], everything["urgency"])) <= ALLOWED


def test_every_allowed_combination_has_40_examples_and_every_topic_350(everything, corpus):
    combos = contract.stratum(everything).value_counts()
    assert {f"{t}/{u}" for t, u in ALLOWED} == set(combos.index)
    assert combos.min() >= 40, combos.sort_values().head(3).to_dict()
    assert corpus["topic"].value_counts().min() >= 350


def test_no_near_duplicates_within_or_across_splits(params):
    settings = params.data
    report = validate.check(
        params.path(settings.train),
        params.path(settings.test),
        settings.near_duplicate_jaccard,
        params.path(settings.robustness),
    )
    assert set(report["rows"]) == {"train", "test", "robustness"}
    assert report["problems"] == []


def test_test_split_is_stratified_like_the_corpus_it_was_drawn_from(corpus, test_split):
    shares = contract.stratum(test_split).value_counts(normalize=True)
    expected = contract.stratum(corpus[corpus["source"].isin(TIDY_WRITERS)]).value_counts(normalize=True)
    assert (shares - expected).abs().max() < 0.01


def test_test_split_holds_no_synthetic_examples(test_split):
    assert not test_split["source"].str.startswith("synthetic").any()


@pytest.mark.parametrize(
    ("style", "minimum"), [("long_mail", 0.15), ("short_form", 0.25), ("casual", 0.10), ("mixed", 0.10)]
)
def test_style_shares(tidy, style, minimum):
    assert (tidy["style"] == style).mean() >= minimum


def test_every_style_is_present_in_both_splits(corpus, test_split):
    styles = {"long_mail", "short_form", "casual", "keigo_business", "elderly", "mixed", "hard_case"}
    assert set(corpus["style"]) == styles == set(test_split["style"])


@pytest.mark.parametrize("topic", sorted(OBVIOUS_KEYWORDS))
def test_most_texts_avoid_the_obvious_keyword(everything, topic):
    texts = (everything["subject"] + everything["body"])[everything["topic"] == topic].map(normalize)
    with_keyword = texts.map(lambda t: any(k in t for k in OBVIOUS_KEYWORDS[topic]))
    assert with_keyword.mean() <= 0.5


@pytest.mark.parametrize("subkind", sorted(OTHER_SUBKINDS))
def test_other_covers_its_subkinds(everything, subkind):
    texts = (everything["subject"] + everything["body"])[everything["topic"] == "other"]
    assert texts.map(lambda t: any(k in t for k in OTHER_SUBKINDS[subkind])).sum() >= 10


def test_masking_finds_every_planted_personal_datum(tidy):
    planted = [
        (row.id, item, row.subject + " " + row.body)
        for row in tidy.itertuples()
        for item in row.pii.split("|")
        if item
    ]
    assert len(planted) >= 1000
    leaked = [(rid, item) for rid, item, text in planted if normalize(item) in preprocess(text)]
    assert leaked == []


# What masking still misses (issue #18): a house number alone (番地まちがえて、3-12じゃなくて3-21),
# member ids with fewer than 6 digits, and order numbers of 3 to 5 digits with neither # nor no.
# before them.
UNMASKED_NUMBERS = {"3-12", "3-21", "mz0715", "327", "88213", "７７０１２", "７７０１５"}


def test_masking_finds_the_numbers_every_writer_planted(everything, robustness):
    """The hard writers and the robustness set plant numbers in odd formats: phones and cards in
    spaced groups, tracking numbers digit by digit, card endings, room numbers, addresses with their
    prefecture and building. All are masked but the known gaps (names are `redact`'s, not checked)."""
    frame = pd.concat([everything, robustness], ignore_index=True)
    planted = [
        (row.id, item, row.subject + " " + row.body)
        for row in frame.itertuples()
        for item in row.pii.split("|")
        if re.search(r"\d", normalize(item))
    ]
    assert len(planted) >= 2400
    leaked = {item for _, item, text in planted if normalize(item) in preprocess(text)}
    assert leaked <= UNMASKED_NUMBERS, leaked - UNMASKED_NUMBERS


def test_long_mails_carry_greetings_and_length(everything):
    long = everything[everything["style"] == "long_mail"]
    assert long["body"].str.len().median() >= 400


def test_robustness_set_is_large_written_by_other_hands_and_never_trained_on(robustness, corpus, test_split):
    assert len(robustness) >= 600
    assert robustness["id"].is_unique
    assert not set(robustness["source"]) & set(corpus["source"])
    assert not set(robustness["id"]) & (set(corpus["id"]) | set(test_split["id"]))
    assert set(zip(robustness["topic"], robustness["urgency"])) <= ALLOWED
    assert robustness["topic"].value_counts().min() >= 60


@pytest.mark.parametrize("path", sorted((ROOT / "data" / "probe").glob("*.csv")), ids=lambda p: p.name)
def test_probe_sets_are_other_hands_and_in_no_other_file(path, corpus, test_split, robustness):
    """A probe (docs/data.md) is written after the model by writers who saw neither the corpus nor the
    project's docs, and is read only by scripts/probe.py: no writer, id or text it shares with the
    files that train, select or evaluate the model."""
    probe = contract.load_inquiries(path)
    others = pd.concat([corpus, test_split, robustness], ignore_index=True)
    assert probe["id"].is_unique
    assert not set(probe["source"]) & set(others["source"])
    assert not set(probe["id"]) & set(others["id"])
    # A one-line question can coincide by chance (「コンビニ受け取りってできますか？」 does): only
    # longer texts count as copied.
    shared = {normalize(t) for t in probe["body"]} & {normalize(t) for t in others["body"]}
    assert not [text for text in shared if len(text) >= 20]
    assert set(zip(probe["topic"], probe["urgency"])) <= ALLOWED


@pytest.mark.parametrize("path", sorted((ROOT / "data" / "probe").glob("*.csv")), ids=lambda p: p.name)
def test_probe_labels_are_the_blind_second_pass_or_its_adjudication(path):
    """Each probe row has the label a second annotator gave blind, from the spec and docs/labeling.md,
    or, where the writer and that annotator disagreed, the adjudicated one."""
    labels = ROOT / "data" / "labels"
    probe = contract.load_inquiries(path).set_index("id")[["topic", "urgency"]]
    second = pd.read_csv(labels / f"probe_{path.stem}_second_pass.csv", dtype=str).set_index("id")
    decided = pd.read_csv(labels / f"probe_{path.stem}_adjudicated.csv", dtype=str).set_index("id")
    assert sorted(second.index) == sorted(probe.index)
    final = second[["topic", "urgency"]].copy()
    final.loc[decided.index] = decided[["final_topic", "final_urgency"]].to_numpy()
    assert probe.sort_index().equals(final.sort_index())


def test_new_writers_date_their_mail_so_deadlines_can_be_judged(corpus, robustness):
    # The writers who name dates give received_at themselves (docs/labeling.md L21): their timestamps
    # are not the hash-derived ones (always on a whole minute between 07:00 and 23:59).
    new = pd.concat([corpus[corpus["source"].isin([f"hand:w{n:02d}" for n in range(8, 21)])], robustness])
    hours = pd.to_datetime(new["received_at"], format="ISO8601").dt.hour
    assert hours.lt(7).any()


def test_filler_sentences_are_cut_from_training_mail_and_doubt_counts_as_content(corpus):
    """The sentence labels of the "sentences read apart" experiment (docs/performance.md): each
    sentence is cut from a training mail as the model reads it (masked), and a sentence two annotators
    labeled differently is content, as their brief says."""
    path = ROOT / "data" / "labels" / "filler_sentences.csv"
    sentences = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert sentences["id"].is_unique and set(sentences["label"]) == {"filler", "content"}

    training = "\n".join(preprocess(strip_quoted(body)) for body in corpus["body"])
    assert all(sentence in training for sentence in sentences["sentence"])
    annotators = sentences["annotators"].str.split("|")
    assert annotators.map(len).value_counts().to_dict() == {1: 2800, 2: 400}
    assert annotators.map(lambda names: len(set(names)) == len(names)).all()
    votes = sentences["labels"].str.split("|")
    assert votes.map(len).equals(annotators.map(len))
    assert sentences["label"].equals(votes.map(lambda v: "content" if "content" in v else "filler"))
