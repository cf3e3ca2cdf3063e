"""The shop's own labeled mail in training: reading the store `classifier import-labels` writes, the
frozen held-out slice the champion gate tests on, and the combined training frame with its weights.

The held-out slice is decided per mail id (a seeded hash), not by a split of today's store: a mail
held out once stays held out however many batches are imported later, and training never sees it.
Shop rows are marked in a `shop` column so their weight (`selection.shop_weight`, chosen by
cross-validation) follows them into augmented copies.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from classifier.config import Config
from classifier.io import contract
from classifier.io.contract import LABEL_COLUMNS, TEXT_COLUMNS, InquiryDataError, Problem

SHOP_COLUMN = "shop"


def load_store(path: str | Path | None) -> pd.DataFrame | None:
    """The shop's labeled mail, validated by the data contract; None when there is no store or it
    holds no rows (training then is exactly what it is without one)."""
    if not path or not Path(path).is_file():
        return None
    frame = contract.read_table(path)
    if frame.empty:
        return None
    problems = contract.find_problems(frame)
    if problems:
        raise InquiryDataError(path, problems)
    duplicated = frame["id"][frame["id"].duplicated()].tolist()
    if duplicated:
        raise InquiryDataError(path, [Problem(None, "id", f"duplicate ids in the store: {duplicated[:10]}")])
    return frame.reset_index(drop=True)


def held_out_mask(ids: pd.Series, share: float, seed: int) -> np.ndarray:
    """True for the ids in the frozen held-out slice: about `share` of all ids, the same ones for an
    id whatever else is in the store."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"data.shop_holdout must be in [0, 1), got {share}")

    def position(mail_id: str) -> float:
        digest = hashlib.sha256(f"{seed}:{mail_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    return np.array([position(str(i)) < share for i in ids], dtype=bool)


def split(store: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows training may use, the frozen held-out rows)."""
    held = held_out_mask(store["id"], share, seed)
    return store[~held].reset_index(drop=True), store[held].reset_index(drop=True)


def combined(corpus: pd.DataFrame, shop_rows: pd.DataFrame) -> pd.DataFrame:
    """The corpus followed by the shop's training rows, marked in the `shop` column. Shop rows are
    grouped one mail per group in cross-validation (`source` = `shop:ID`): they come from one
    shop, so grouping them by their batch would put them all in one fold, where their weight
    could not be measured."""
    keep = [c for c in (*TEXT_COLUMNS, *LABEL_COLUMNS) if c in shop_rows]
    shop_part = shop_rows[keep].copy()
    shop_part["source"] = "shop:" + shop_part["id"].astype(str)
    shop_part[SHOP_COLUMN] = True
    base = corpus.copy()
    base[SHOP_COLUMN] = False
    return pd.concat([base, shop_part], ignore_index=True)


def weights(frame: pd.DataFrame, shop_weight: float | None) -> np.ndarray | None:
    """Per-row sample weights: `shop_weight` for shop rows, 1 for the rest; None without shop rows."""
    if shop_weight is None or SHOP_COLUMN not in frame:
        return None
    return np.where(frame[SHOP_COLUMN].astype(bool).to_numpy(), float(shop_weight), 1.0)


def holdout_of(config: Config, trained_ids: list[str] | None = None) -> pd.DataFrame | None:
    """The shop's frozen held-out mail under params.yaml (None without a store). With the model's
    training ids, a held-out mail the model was trained on (data.shop_holdout or seed changed since)
    is an error: its figures would not be a test."""
    if config.data.shop is None:
        return None
    path = config.path(config.data.shop)
    store = load_store(path)
    if store is None:
        return None
    _, holdout = split(store, config.data.shop_holdout, config.seed)
    leaked = sorted(set(holdout["id"].astype(str)) & set(trained_ids or []))
    if leaked:
        raise InquiryDataError(
            path,
            [Problem(None, "id", f"{len(leaked)} held-out mails were trained on ({leaked[:3]}...); retrain")],
        )
    return holdout
