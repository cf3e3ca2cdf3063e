"""What to label next: active learning over a scored batch of the shop's own mail.

Each scored mail gets an informativeness score from the model's full probability vectors (margin or
entropy of the topic and urgency heads), an extra term for a mail that may be red (the binary entropy of
P(high): missing red mail is the costly error) and a novelty term (how many of the batch's new frequent
terms, `drift.new_terms`, the mail holds). The picks are then made diverse as in Zhdanov's "Diverse
mini-batch active learning" (2019): the most informative `pool × n` mails are clustered into `n`
groups by k-means on the model's own feature vectors (reduced by truncated SVD, as LSA does), weighted
by informativeness, and the most informative mail of each group is taken, so 200 picks are not 200
copies of one campaign. Tunables: the `suggest:` section of params.yaml.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize

from classifier import model
from classifier.config import SuggestConfig
from classifier.io import contract
from classifier.io.labels import unneutralized
from classifier.monitoring import drift

SUGGESTION_COLUMNS = (
    "rank",
    "id",
    "received_at",
    "channel",
    "subject",
    "body",
    "score",
    "topic_uncertainty",
    "urgency_uncertainty",
    "p_high",
    "new_terms",
    "cluster",
    "why",
)


def margin_uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """1 - (p1 - p2): 1 when the two most probable classes tie, 0 when one class has it all."""
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy_uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """Shannon entropy divided by its maximum log K, in [0, 1]."""
    p = np.clip(probabilities, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1) / math.log(probabilities.shape[1])


def high_uncertainty(p_high: np.ndarray) -> np.ndarray:
    """Binary entropy of P(high) in bits: 1 at 0.5, about 0.47 at 0.1, 0.08 at 0.01. A mail the model
    thinks may be red, either way, is worth a label: the routing threshold sits far below 0.5."""
    p = np.clip(p_high, 1e-12, 1 - 1e-12)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def novelty(tokens: Sequence[str], terms: Sequence[str]) -> tuple[np.ndarray, list[list[str]]]:
    """Per mail: how many of the batch's new terms it holds (divided by the batch's most) and which."""
    wanted = set(terms)
    found = [sorted(wanted.intersection(doc.split()), key=list(terms).index) for doc in tokens]
    counts = np.array([len(f) for f in found], dtype=float)
    return counts / max(1.0, counts.max(initial=0.0)), found


def informativeness(
    topic_p: np.ndarray, urgency_p: np.ndarray, p_high: np.ndarray, new: np.ndarray, params: SuggestConfig
) -> dict[str, np.ndarray]:
    """The weighted mean of the four terms, and each term (all in [0, 1])."""
    uncertain = margin_uncertainty if params.uncertainty == "margin" else entropy_uncertainty
    terms = {
        "topic_uncertainty": uncertain(topic_p),
        "urgency_uncertainty": uncertain(urgency_p),
        "high": high_uncertainty(p_high),
        "novelty": new,
    }
    weights = (params.weights.topic, params.weights.urgency, params.weights.high, params.weights.new_terms)
    total = sum(weights) or 1.0
    score = np.sum([w * t for w, t in zip(weights, terms.values(), strict=True)], axis=0) / total
    return {"score": score, **terms}


def diverse_pick(
    vectors: Any, scores: np.ndarray, n: int, params: SuggestConfig, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of at most `n` mails, one per k-means cluster of the most informative `pool × n`, and
    each pick's cluster. Fewer than `n` come back when the pool holds fewer distinct mails."""
    n = min(n, len(scores))
    if n == 0:
        return np.array([], dtype=int), np.array([], dtype=int)
    pool = np.argsort(-scores, kind="stable")[: max(n, math.ceil(n * params.pool))]
    reduced = _reduced(vectors[pool], params.dimensions, seed)
    distinct = len(np.unique(reduced.round(6), axis=0))
    k = min(n, distinct)
    if k == len(pool):  # as many clusters as mails: every mail is its own cluster
        labels = np.arange(len(pool))
    else:
        # Informativeness as sample weight pulls the centres towards the uncertain mails (Zhdanov 2019).
        kmeans = KMeans(n_clusters=k, n_init=3, random_state=seed)
        labels = kmeans.fit_predict(reduced, sample_weight=scores[pool] + 1e-6)
    best: dict[int, int] = {}
    for position in range(len(pool)):  # pool is in descending score: the first of a cluster is its best
        best.setdefault(int(labels[position]), position)
    positions = np.array(sorted(best.values()))
    return pool[positions], labels[positions]


def _reduced(vectors: Any, dimensions: int, seed: int) -> np.ndarray:
    """Rows as unit vectors in at most `dimensions` SVD components: k-means centres in the full
    TF-IDF space would be dense rows of some hundred thousand columns each."""
    components = min(dimensions, vectors.shape[0] - 1, vectors.shape[1] - 1)
    if components < 2:
        return normalize(vectors.toarray() if hasattr(vectors, "toarray") else np.asarray(vectors))
    return normalize(TruncatedSVD(components, random_state=seed).fit_transform(vectors))


def candidates(
    scored: pd.DataFrame, batch: pd.DataFrame, skip_ids: AbstractSet[str] = frozenset()
) -> pd.DataFrame:
    """The batch's records that were scored without error, in the scored file's order, minus `skip_ids`
    (already labeled). Every scored row must find its mail in the batch: a scored file of another batch
    is refused with each row it cannot join named (rows, not values: ids may hold addresses)."""
    problems = []
    for column in ("id", "topic", "error"):
        if column not in scored:
            problems.append(
                contract.Problem(None, column, "missing column (not a file written by `classifier score`?)")
            )
    if problems:
        raise contract.InquiryDataError("scored batch", problems)
    duplicated = batch["id"].duplicated(keep=False)
    if duplicated.any():
        rows = [
            contract.Problem(int(r) + 1, "id", "duplicate id in the input: mails cannot be joined")
            for r in np.flatnonzero(duplicated)
        ]
        raise contract.InquiryDataError("input", rows)
    # The scored CSV quotes a text cell that starts like a formula ('-id'); the input has the id as it is.
    scored = scored.assign(id=scored["id"].map(unneutralized))
    by_id = pd.Series(np.arange(len(batch)), index=batch["id"].to_numpy())
    ok = scored["error"].eq("") & scored["topic"].ne("")
    missing = ~scored["id"].isin(by_id.index)
    if missing.any():
        rows = [
            contract.Problem(
                int(r) + 1, "id", "no mail with this id in the input (scored from another batch?)"
            )
            for r in np.flatnonzero(missing)
        ]
        raise contract.InquiryDataError("scored batch", rows)
    wanted = scored.loc[ok & ~scored["id"].isin(skip_ids), "id"]
    return batch.iloc[by_id[wanted].to_numpy()].reset_index(drop=True)


def suggest(
    pipeline: Any,
    frame: pd.DataFrame,
    vocabulary: Mapping[str, int] | None,
    params: SuggestConfig,
    n: int,
    seed: int = 0,
) -> tuple[pd.DataFrame, list[tuple[str, int]]]:
    """The `n` mails of `frame` (the input records, text included) most worth labeling, in rank order,
    with why; and the batch's new frequent terms (empty without the reference `vocabulary`)."""
    texts = model.inquiry_texts(frame)
    vectors = pipeline.named_steps["features"].transform(texts)
    heads = pipeline.named_steps["heads"]
    topic_p, urgency_p = heads.predict_proba(vectors)
    p_high = urgency_p[:, list(heads.classes_[1]).index("high")]
    tokens = [" ".join(text.tokens) for text in texts]
    terms: list[tuple[str, int]] = []
    if vocabulary is not None:
        _, terms = drift.new_terms(vocabulary, pd.Series(tokens, dtype=object), params.new_terms)
    new, found = novelty(tokens, [t for t, _ in terms])
    parts = informativeness(topic_p, urgency_p, p_high, new, params)
    picked, clusters = diverse_pick(vectors, parts["score"], n, params, seed)
    order = np.argsort(-parts["score"][picked], kind="stable")
    picked, clusters = picked[order], clusters[order]
    chosen = frame.iloc[picked].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(picked) + 1),
            **{c: chosen.get(c, "") for c in ("id", "received_at", "channel", "subject", "body")},
            "score": parts["score"][picked].round(4),
            "topic_uncertainty": parts["topic_uncertainty"][picked].round(4),
            "urgency_uncertainty": parts["urgency_uncertainty"][picked].round(4),
            "p_high": p_high[picked].round(4),
            "new_terms": [" ".join(found[i]) for i in picked],
            "cluster": clusters,
        }
    )
    out["why"] = [why(row) for row in out.itertuples()]
    return out.reindex(columns=list(SUGGESTION_COLUMNS)), terms


def why(row: Any) -> str:
    """A short reason a person reads next to the mail: which uncertainty made it a pick."""
    reasons = []
    if row.topic_uncertainty >= 0.5:
        reasons.append(f"topic unsure ({row.topic_uncertainty:.2f})")
    if row.urgency_uncertainty >= 0.5:
        reasons.append(f"urgency unsure ({row.urgency_uncertainty:.2f})")
    if 0.05 <= row.p_high < 0.95:
        reasons.append(f"may be red (P(high) {row.p_high:.2f})")
    if row.new_terms:
        reasons.append(f"new terms: {row.new_terms.replace(' ', ', ')}")
    return "; ".join(reasons) or f"score {row.score:.2f}"
