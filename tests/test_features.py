"""Code tests of the numpy n-gram extractors: the same TF-IDF matrices as scikit-learn's
TfidfVectorizer on the corpus's own texts, in any batch size, and picklable into a new process."""

import io
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier import model
from classifier.model import features
from classifier.model.features import (
    CharNgramTfidf,
    WordNgramTfidf,
    char_ngram_keys,
    char_ngram_text,
)
from classifier.text import tagging, tokenize


@pytest.fixture(scope="module")
def texts(corpus):
    return model.inquiry_texts(corpus.sample(400, random_state=3))


def assert_same_matrix(ours, reference, fit_texts, apply_texts):
    expected = reference.fit(fit_texts).transform(apply_texts)
    actual = ours.fit(fit_texts).transform(apply_texts)
    names = list(ours.get_feature_names_out())
    assert sorted(names) == sorted(reference.get_feature_names_out())
    column = {name: i for i, name in enumerate(names)}
    aligned = actual[:, [column[name] for name in reference.get_feature_names_out()]]
    assert abs(aligned - expected).max() < 1e-12


@pytest.mark.parametrize("ngrams,min_df", [((1, 3), 2), ((2, 3), 1), ((1, 1), 3)])
def test_char_ngrams_equal_scikit_learn(texts, ngrams, min_df):
    reference = TfidfVectorizer(
        analyzer="char", lowercase=False, ngram_range=ngrams, min_df=min_df, sublinear_tf=True
    )
    ours = CharNgramTfidf(ngram_min=ngrams[0], ngram_max=ngrams[1], min_df=min_df, sublinear_tf=True)
    assert_same_matrix(ours, reference, texts[:300], texts[300:])


@pytest.mark.parametrize("ngram_max,min_df,sublinear", [(2, 1, True), (2, 2, False), (1, 1, True)])
def test_word_ngrams_equal_scikit_learn(texts, ngram_max, min_df, sublinear):
    reference = TfidfVectorizer(
        tokenizer=tokenize,
        token_pattern=None,
        lowercase=False,
        ngram_range=(1, ngram_max),
        min_df=min_df,
        sublinear_tf=sublinear,
    )
    ours = WordNgramTfidf(ngram_max=ngram_max, min_df=min_df, sublinear_tf=sublinear)
    assert_same_matrix(ours, reference, texts[:300], texts[300:])


def test_fit_transform_equals_fit_then_transform(texts):
    extractor = WordNgramTfidf()
    assert abs(extractor.fit_transform(texts) - WordNgramTfidf().fit(texts).transform(texts)).max() == 0


def test_batches_do_not_change_the_result(texts, monkeypatch):
    whole = [CharNgramTfidf(min_df=2).fit(texts), WordNgramTfidf().fit(texts)]
    monkeypatch.setattr(features, "_BATCH", 37)
    for fitted, extractor in zip(whole, [CharNgramTfidf(min_df=2).fit(texts), WordNgramTfidf().fit(texts)]):
        assert np.array_equal(fitted.idf_, extractor.idf_)
        assert abs(fitted.transform(texts) - extractor.transform(texts)).max() == 0


def test_a_full_line_cache_is_cleared_without_changing_the_result(texts, monkeypatch):
    plain = [str(t) for t in texts]  # tagged texts carry their tokens: these must be parsed again
    expected = WordNgramTfidf().fit(plain).transform(plain)
    monkeypatch.setattr(tagging, "_tokens_of_lines", {})
    monkeypatch.setattr(tagging, "_MAX_CACHED_LINES", 7)
    again = WordNgramTfidf().fit(plain)
    assert abs(again.transform(plain) - expected).max() == 0
    assert 0 < len(tagging._tokens_of_lines) <= 7


def test_char_keys_round_trip_and_stop_at_text_boundaries():
    documents, keys = char_ngram_keys(["ab", "", "c😀"], 1, 3)
    grams = [(int(d), char_ngram_text(int(k))) for d, k in zip(documents, keys)]
    assert sorted(grams) == sorted([(0, "a"), (0, "b"), (2, "c"), (2, "😀"), (0, "ab"), (2, "c😀")])


def test_unknown_text_and_empty_documents_give_zero_rows(texts):
    chars, words = CharNgramTfidf().fit(texts), WordNgramTfidf().fit(texts)
    for extractor in (chars, words):
        X = extractor.transform(["", "ＺＺＺ" if extractor is chars else "ｑｑｑｑ"])
        assert X.shape[0] == 2 and X.nnz == 0


def test_bad_settings_are_clear_errors(texts):
    with pytest.raises(ValueError, match="'ngram_max' parameter of CharNgramTfidf"):
        CharNgramTfidf(ngram_max=4).fit(texts)
    with pytest.raises(ValueError, match="empty vocabulary"):
        WordNgramTfidf(min_df=10_000).fit(texts)


def test_fitted_extractors_pickle_without_their_lookup_tables_and_work_in_a_new_process(texts, tmp_path):
    fitted = [CharNgramTfidf(min_df=2).fit(texts), WordNgramTfidf().fit(texts)]
    before = [len(pickle.dumps(e)) for e in fitted]
    expected = [e.transform(texts[:20]) for e in fitted]  # fills the look-up caches
    assert [len(pickle.dumps(e)) for e in fitted] == before
    path = tmp_path / "extractors.pkl"
    path.write_bytes(pickle.dumps((fitted, texts[:20])))
    code = (
        "import pickle, sys, scipy.sparse as sp\n"
        f"extractors, texts = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "sp.save_npz(sys.argv[1], sp.hstack([e.transform(texts) for e in extractors]).tocsr())\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.npz")], check=True)
    import scipy.sparse as sp

    assert abs(sp.load_npz(tmp_path / "x.npz") - sp.hstack(expected)).max() == 0


def test_a_model_file_holds_the_words_as_one_array_and_loads_the_same_vocabulary(texts):
    import skops.io

    fitted = WordNgramTfidf().fit(texts)
    vocabulary = dict(fitted.vocabulary_)
    data = model.pipeline.reproducible_skops(fitted)
    schema = zipfile.ZipFile(io.BytesIO(data)).read("schema.json").decode()
    # skops reads its nodes one by one, so a node per word made loading a model take 0.24 s.
    assert schema.count('"__class__"') < 20 < len(vocabulary)
    loaded = skops.io.loads(data, trusted=model.pipeline.TRUSTED_TYPES)
    assert loaded.vocabulary_ == vocabulary
    assert abs(loaded.transform(texts[:50]) - fitted.transform(texts[:50])).max() == 0
