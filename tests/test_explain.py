"""Code tests of the explanations: the top terms of each row are exactly the k largest positive
contributions (equal ones in column order), whatever share of candidates is sorted."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from classifier import model
from classifier.model import explain
from classifier.model.features import CharNgramTfidf, WordNgramTfidf


@pytest.fixture(scope="module")
def fitted(corpus):
    frame = corpus.sample(500, random_state=5)
    features = FeatureUnion([("words", WordNgramTfidf(min_df=2)), ("chars", CharNgramTfidf(min_df=2))])
    X = features.fit_transform(model.inquiry_texts(frame)).tocsr()
    weights = LogisticRegression(max_iter=200).fit(X, frame["topic"]).coef_
    # Rows without features and rows with fewer positive contributions than k are explained too.
    X = sp.vstack([X, sp.csr_matrix((2, X.shape[1])), X[:5] * 1e-3], format="csr")
    return X, weights


def reference(X, weights, rows_class, k):
    explained = []
    for row in range(X.shape[0]):
        start, end = X.indptr[row], X.indptr[row + 1]
        columns = X.indices[start:end]
        contributions = X.data[start:end] * weights[rows_class[row], columns]
        ranked = sorted((-c, column) for c, column in zip(contributions, columns) if c > 0)
        explained.append([int(column) for _, column in ranked[:k]])
    return explained


@pytest.mark.parametrize("share", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("k", [1, 5, 400])
def test_top_terms_are_the_largest_positive_contributions(fitted, monkeypatch, share, k):
    X, weights = fitted
    rows_class = np.arange(X.shape[0]) % weights.shape[0]
    monkeypatch.setattr(explain, "_CANDIDATE_SHARE", share)
    columns = np.arange(X.shape[1]).astype(object)
    assert explain.top_terms(X, weights, rows_class, columns, k) == reference(X, weights, rows_class, k)


def test_equal_contributions_are_named_in_column_order(fitted):
    X, weights = fitted
    rows_class = np.zeros(X.shape[0], dtype=int)
    contributions = [
        X.data[X.indptr[r] : X.indptr[r + 1]] * weights[0, X.indices[X.indptr[r] : X.indptr[r + 1]]]
        for r in range(50)
    ]
    assert any(
        len(set(c[c > 0])) < (c > 0).sum() for c in contributions
    )  # the corpus has ties (n-grams that co-occur)
    explained = explain.top_terms(X[:50], weights, rows_class[:50], np.arange(X.shape[1]), 5)
    assert explained == reference(X[:50], weights, rows_class[:50], 5)
    assert explain.top_terms(X[:0], weights, rows_class[:0], np.arange(X.shape[1]), 5) == []


def test_rows_then_decreasing_values_keeps_equal_values_in_their_order():
    rng = np.random.default_rng(0)
    for size in (0, 1, 2, 50, 5000):
        rows = np.sort(rng.integers(0, 40, size))
        values = rng.integers(1, 6, size).astype(float)  # many equal values in a row
        expected = np.lexsort((np.arange(size), -values, rows))
        assert explain._by_row_then_decreasing(rows, values, 40).tolist() == expected.tolist()


def test_feature_names_built_per_column_are_the_readable_names_of_all_columns(corpus):
    features = FeatureUnion([("words", WordNgramTfidf(min_df=1)), ("chars", CharNgramTfidf(min_df=2))])
    features.fit(model.inquiry_texts(corpus.sample(300, random_state=3)))
    every = np.array([explain.readable(n) for n in features.get_feature_names_out()], dtype=object)
    names = explain.FeatureNames(features)
    assert len(names) == len(every)
    words = len(features.transformer_list[0][1].idf_)
    # unigrams, bigrams, the first character n-gram, repeated and unsorted columns, none
    columns = np.array([len(every) - 1, 0, words - 1, words, 5, 5, len(every) // 2, words + 1])
    assert names[columns].tolist() == every[columns].tolist()
    assert any(" " in name for name in names[columns]) and any("「" in name for name in names[columns])
    random = np.random.default_rng(0).integers(0, len(every), 2000)
    assert names[random].tolist() == every[random].tolist()
    assert names[np.array([], dtype=np.int64)].tolist() == []
