"""N-gram TF-IDF features computed with numpy over a whole batch of texts.

The same matrices as scikit-learn's `TfidfVectorizer` (smooth idf, optional sublinear tf, l2-normed
rows; tested against it) for character n-grams up to length 3 and word n-grams up to bigrams, without
a Python step per n-gram: a character n-gram is its code points packed into one 64-bit integer, a word
bigram the pair of its unigram ids, and the vocabulary look-up is one hash look-up for the batch.
scikit-learn's analyzer and vocabulary loop were the largest cost of scoring (docs/performance.md).
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.preprocessing import normalize
from sklearn.utils import Tags
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from classifier.text import tag

_BITS = 21  # every code point + 1 fits in 21 bits, so three of them fit in one int64
_MASK = (1 << _BITS) - 1
MAX_CHAR_NGRAM = 3
_BATCH = 10_000  # documents per step of counting and transforming (bounds the memory of large fits)


def char_ngram_keys(texts: list[str], ngram_min: int, ngram_max: int) -> tuple[np.ndarray, np.ndarray]:
    """(document index, key) of every character n-gram of the texts, n in [ngram_min, ngram_max].

    The texts are expected preprocessed (whitespace runs already one space, as scikit-learn's char
    analyzer makes them); a NUL character inside a text would end its n-grams like a text boundary.
    """
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    joined = "\0".join(texts)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64) + 1
    boundary = codes == 1
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)[: len(codes)]
    documents, keys = [], []
    for n in range(ngram_min, ngram_max + 1):
        if n > len(codes):
            break
        starts = len(codes) - n + 1
        key = codes[:starts].copy()
        for j in range(1, n):
            key |= codes[j : j + starts] << (_BITS * j)
        last = slice(n - 1, n - 1 + starts)
        # An n-gram that starts at a boundary ends in the next text: the owner test excludes it.
        inside = (owner[:starts] == owner[last]) & ~boundary[last]
        documents.append(owner[:starts][inside])
        keys.append(key[inside])
    if not keys:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(documents), np.concatenate(keys)


def char_ngram_text(key: int) -> str:
    """The n-gram a key of `char_ngram_keys` stands for."""
    chars = []
    while key:
        chars.append(chr((key & _MASK) - 1))
        key >>= _BITS
    return "".join(chars)


def document_frequency(documents: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and, for each, the number of distinct documents it occurs in."""
    distinct, inverse = np.unique(keys, return_inverse=True)
    pairs = np.sort(documents * len(distinct) + inverse.ravel())  # np.unique's hash path is 10x slower
    return distinct, np.bincount(pairs[run_starts(pairs)] % max(len(distinct), 1), minlength=len(distinct))


def run_starts(values: np.ndarray) -> np.ndarray:
    """Indices where a run of equal values begins in a sorted array."""
    first = np.ones(len(values), dtype=bool)
    first[1:] = values[1:] != values[:-1]
    return np.flatnonzero(first)


def merge_frequencies(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sum the document frequencies of disjoint batches of documents."""
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    distinct, inverse = np.unique(np.concatenate([k for k, _ in parts]), return_inverse=True)
    counts = np.bincount(
        inverse.ravel(), weights=np.concatenate([f for _, f in parts]), minlength=len(distinct)
    )
    return distinct, counts.astype(np.int64)


def look_up(vocabulary: pd.Index, keys: np.ndarray) -> np.ndarray:
    """Column of each key in `vocabulary` (a hash look-up), -1 for keys not in it."""
    if not len(vocabulary):
        return np.full(len(keys), -1, dtype=np.int64)
    # pandas-stubs narrow `target` to an Index; pandas takes any array-like (documented) and wraps it.
    return vocabulary.get_indexer(keys)  # type: ignore[arg-type]


def tfidf(
    documents: np.ndarray, columns: np.ndarray, shape: tuple[int, int], idf: np.ndarray, sublinear_tf: bool
) -> sp.csr_matrix:
    """Counts of (document, column) pairs → l2-normed TF-IDF rows, as TfidfVectorizer computes them."""
    # Sorting one integer per pair and counting runs is several times faster than scipy summing
    # the duplicates of a COO matrix; 32-bit integers sort in half the time of 64-bit ones. Pairs
    # of unknown columns sort last, after a sentinel, and are cut off (cheaper than selecting first).
    cell_type = np.int32 if shape[0] * shape[1] < 2**31 - 1 else np.int64
    unknown = np.iinfo(cell_type).max
    cells: np.ndarray = documents.astype(cell_type)
    cells *= shape[1]
    np.add(cells, columns, out=cells, casting="unsafe")
    cells[columns < 0] = unknown
    cells.sort()
    cells = cells[: np.searchsorted(cells, unknown)]
    starts = run_starts(cells)
    counts = np.diff(np.append(starts, len(cells))).astype(np.float64)
    distinct = cells[starts]
    indptr = np.searchsorted(distinct, np.arange(shape[0] + 1, dtype=cell_type) * shape[1]).astype(np.int32)
    rows = np.repeat(np.arange(shape[0], dtype=cell_type), np.diff(indptr))
    indices = (distinct - rows * shape[1]).astype(np.int32)
    if sublinear_tf:
        counts = 1.0 + np.log(counts)
    matrix = sp.csr_matrix((counts * idf[indices], indices, indptr), shape=shape)
    return normalize(matrix, norm="l2", copy=False)


def smooth_idf(document_frequencies: np.ndarray, documents: int) -> np.ndarray:
    return np.log((1.0 + documents) / (1.0 + document_frequencies)) + 1.0


class _NgramTfidf(TransformerMixin, BaseEstimator):
    """What both extractors share: transforming in batches of documents (bounded memory) and look-up
    caches (hash indexes over the fitted key arrays, MeCab lines seen), built on use and never pickled.

    Like scikit-learn's text vectorizers they read an iterable of strings, not a 2-D array (tags).
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "min_df": [Interval(Integral, 1, None, closed="left")],
        "sublinear_tf": ["boolean"],
    }

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    def transform(self, X: list[str]) -> sp.csr_matrix:
        """The l2-normed TF-IDF rows of the texts `X` (n-grams not in the vocabulary are ignored).

        Raises `sklearn.exceptions.NotFittedError` before `fit`.
        """
        check_is_fitted(self)
        X = list(X)
        if len(X) <= _BATCH:
            return self._transform(X)
        return sp.vstack(
            [self._transform(X[start : start + _BATCH]) for start in range(0, len(X), _BATCH)], format="csr"
        )

    def _transform(self, X: list[str]) -> sp.csr_matrix:
        raise NotImplementedError

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The n-gram of each column."""
        check_is_fitted(self)
        return self.feature_names(np.arange(len(self.idf_)))

    def feature_names(self, columns: np.ndarray) -> np.ndarray:
        """The n-grams of these columns only: an explanation names a few dozen of the hundreds of
        thousands, and building them all costs a tenth of a second."""
        raise NotImplementedError

    def _caches(self) -> dict[str, Any]:
        return self.__dict__.setdefault("_lookups", {})

    def _index(self, attribute: str) -> pd.Index:
        caches = self._caches()
        if attribute not in caches:
            caches[attribute] = pd.Index(getattr(self, attribute))
        return caches[attribute]

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_lookups", None)  # rebuilt on first use; keeps the model file small and stable
        return state


class CharNgramTfidf(_NgramTfidf):
    """TF-IDF of character n-grams, as `TfidfVectorizer(analyzer="char", lowercase=False)`.

    Parameters
    ----------
    ngram_min : int, default=1
        Shortest n-gram, from 1 to 3.
    ngram_max : int, default=3
        Longest n-gram, from `ngram_min` to 3 (three code points fit in one 64-bit key).
    min_df : int, default=1
        Fewest training documents an n-gram must occur in to get a column.
    sublinear_tf : bool, default=True
        Use 1 + log(count) instead of the count.

    Attributes
    ----------
    vocabulary_ : ndarray of int64
        The sorted keys of the n-grams with a column (`char_ngram_text` reads one back).
    idf_ : ndarray of float64
        The smoothed inverse document frequency of each column.

    Examples
    --------
    >>> from classifier.model.features import CharNgramTfidf
    >>> tfidf = CharNgramTfidf(ngram_min=1, ngram_max=2).fit(["届かない", "届いた"])
    >>> tfidf.transform(["届かない"]).shape
    (1, 10)
    >>> list(tfidf.get_feature_names_out()[:3])
    ['い', 'か', 'た']
    """

    _parameter_constraints: dict[str, list[Any]] = {
        **_NgramTfidf._parameter_constraints,
        "ngram_min": [Interval(Integral, 1, MAX_CHAR_NGRAM, closed="both")],
        "ngram_max": [Interval(Integral, 1, MAX_CHAR_NGRAM, closed="both")],
    }

    def __init__(self, ngram_min: int = 1, ngram_max: int = 3, min_df: int = 1, sublinear_tf: bool = True):
        self.ngram_min = ngram_min
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: list[str], y: Any = None) -> CharNgramTfidf:
        """Learn the n-gram vocabulary and idf of the texts `X`; `y` is ignored."""
        if self.ngram_min > self.ngram_max:
            raise ValueError(f"ngram_min ({self.ngram_min}) must not exceed ngram_max ({self.ngram_max})")
        X = list(X)
        parts = []
        for start in range(0, len(X), _BATCH):
            documents, keys = char_ngram_keys(X[start : start + _BATCH], self.ngram_min, self.ngram_max)
            parts.append(document_frequency(documents, keys))
        keys, frequencies = merge_frequencies(parts)
        kept = frequencies >= self.min_df
        if not kept.any():
            raise ValueError("empty vocabulary: no character n-gram reaches min_df")
        self.__dict__.pop("_lookups", None)
        self.vocabulary_ = keys[kept]
        self.idf_ = smooth_idf(frequencies[kept], len(X))
        return self

    def _transform(self, X: list[str]) -> sp.csr_matrix:
        documents, keys = char_ngram_keys(X, self.ngram_min, self.ngram_max)
        columns = look_up(self._index("vocabulary_"), keys)
        return tfidf(documents, columns, (len(X), len(self.vocabulary_)), self.idf_, self.sublinear_tf)

    def feature_names(self, columns: np.ndarray) -> np.ndarray:
        return np.array([char_ngram_text(int(k)) for k in self.vocabulary_[columns]], dtype=object)


class WordNgramTfidf(_NgramTfidf):
    """TF-IDF of word uni- and bigrams of `classifier.text.tagging`, as
    `TfidfVectorizer(tokenizer=JapaneseTokenizer(), lowercase=False, ngram_range=(1, ngram_max))`.

    Parameters
    ----------
    ngram_max : int, default=2
        1 for words only, 2 for words and bigrams of adjacent words.
    min_df : int, default=1
        Fewest training documents a word or bigram must occur in to get a column.
    sublinear_tf : bool, default=True
        Use 1 + log(count) instead of the count.

    Attributes
    ----------
    terms_ : ndarray of str
        The words with a column, in alphabetical order (the first columns).
    bigrams_ : ndarray of int64
        The bigrams with a column, each as `first * len(terms_) + second` (the columns after the words).
    vocabulary_ : dict of str to int
        The column of each word.
    idf_ : ndarray of float64
        The smoothed inverse document frequency of each column.

    Examples
    --------
    >>> from classifier.model.features import WordNgramTfidf
    >>> tfidf = WordNgramTfidf(ngram_max=1).fit(["商品が届かない", "商品が届いた"])
    >>> list(tfidf.get_feature_names_out())
    ['ない', '商品', '届く']
    >>> tfidf.transform(["届かない商品"]).nnz
    3
    """

    _parameter_constraints: dict[str, list[Any]] = {
        **_NgramTfidf._parameter_constraints,
        "ngram_max": [Interval(Integral, 1, 2, closed="both")],
    }

    def __init__(self, ngram_max: int = 2, min_df: int = 1, sublinear_tf: bool = True):
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: list[str], y: Any = None) -> WordNgramTfidf:
        """Learn the vocabulary and idf of the texts `X`; `y` is ignored."""
        self._fit(self._tokens(X))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X: list[str], y: Any = None) -> sp.csr_matrix:
        """`fit(X).transform(X)`, tokenizing once."""
        tokens = self._tokens(X)  # MeCab is the cost: tokenize once for fitting and transforming
        self._fit(tokens)
        return sp.vstack(
            [self._from_tokens(tokens[i : i + _BATCH]) for i in range(0, len(tokens), _BATCH)], format="csr"
        )

    def _transform(self, X: list[str]) -> sp.csr_matrix:
        return self._from_tokens(self._tokens(X))

    def _tokens(self, X: list[str]) -> list[list[str]]:
        return [text.tokens for text in tag(X)]

    def _fit(self, tokens: list[list[str]]) -> None:
        codes, terms = pd.factorize(
            pd.Series([token for document in tokens for token in document], dtype=object)
        )
        documents = self._owners(tokens)
        _, term_df = document_frequency(documents, codes.astype(np.int64))
        kept = np.flatnonzero(term_df >= self.min_df)
        if len(kept) == 0:
            raise ValueError("empty vocabulary: no word reaches min_df")
        # Columns in alphabetical order of the terms, so that the model file is the same every time.
        kept = kept[np.argsort(np.asarray(terms[kept], dtype=object))]
        renumber = np.full(len(terms), -1, dtype=np.int64)
        renumber[kept] = np.arange(len(kept))
        bigram_documents, bigram_keys = self._bigrams(documents, renumber[codes], len(kept))
        bigrams, bigram_df = document_frequency(bigram_documents, bigram_keys)
        self.__dict__.pop("_lookups", None)
        self.terms_ = np.asarray(terms[kept], dtype=str)
        self.bigrams_ = bigrams[bigram_df >= self.min_df]
        frequencies = np.concatenate([term_df[kept], bigram_df[bigram_df >= self.min_df]])
        self.idf_ = smooth_idf(frequencies, len(tokens))

    @property
    def vocabulary_(self) -> dict[str, int]:
        """The column of each word, built from `terms_` on first use and never stored: as a dict (or
        an object array) its ten thousand strings were two thirds of the nodes skops reads one by one
        when it loads a model file; `terms_` is one fixed-width string array."""
        caches = self._caches()
        if "vocabulary" not in caches:
            caches["vocabulary"] = {term: column for column, term in enumerate(self.terms_.tolist())}
        return caches["vocabulary"]

    @staticmethod
    def _owners(tokens: list[list[str]]) -> np.ndarray:
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        return np.repeat(np.arange(len(tokens), dtype=np.int64), lengths)

    def _bigrams(self, documents: np.ndarray, ids: np.ndarray, terms: int) -> tuple[np.ndarray, np.ndarray]:
        if self.ngram_max < 2 or len(ids) < 2:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        # A bigram of an unknown word cannot be in the vocabulary: its document frequency is at most
        # the word's.
        pair = (documents[:-1] == documents[1:]) & (ids[:-1] >= 0) & (ids[1:] >= 0)
        return documents[:-1][pair], (ids[:-1] * terms + ids[1:])[pair]

    def _from_tokens(self, tokens: list[list[str]]) -> sp.csr_matrix:
        get = self.vocabulary_.get
        ids = np.array([get(token, -1) for document in tokens for token in document], dtype=np.int64)
        return self._from_ids(ids, self._owners(tokens), len(tokens))

    def _from_ids(self, ids: np.ndarray, documents: np.ndarray, count: int) -> sp.csr_matrix:
        """The matrix of `count` documents from the vocabulary column of each token (-1 unknown) and
        its document."""
        bigram_documents, bigram_keys = self._bigrams(documents, ids, len(self.terms_))
        bigram_columns = look_up(self._index("bigrams_"), bigram_keys)
        bigram_columns[bigram_columns >= 0] += len(self.terms_)
        shape = (count, len(self.terms_) + len(self.bigrams_))
        return tfidf(
            np.concatenate([documents, bigram_documents]),
            np.concatenate([ids, bigram_columns]),
            shape,
            self.idf_,
            self.sublinear_tf,
        )

    def feature_names(self, columns: np.ndarray) -> np.ndarray:
        """The word or `first second` bigram of each of these columns."""
        columns = np.asarray(columns, dtype=np.int64)
        words = columns < len(self.terms_)
        first, second = np.divmod(self.bigrams_[columns[~words] - len(self.terms_)], len(self.terms_))
        names = np.empty(len(columns), dtype=object)
        names[words] = self.terms_[columns[words]].tolist()
        pairs = zip(self.terms_[first].tolist(), self.terms_[second].tolist())
        names[~words] = [f"{a} {b}" for a, b in pairs]
        return names
