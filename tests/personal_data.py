"""What the PII tests look for and where: the personal values the corpus's `pii` column records, and
every piece of text an artifact folder holds, model vocabularies and archive members included."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from classifier import model

_NAME_LIKE = re.compile(r"^[^\d@]+$")


def personal_values(frames: Iterable[pd.DataFrame]) -> set[str]:
    """The `pii` values of the rows; of a person's or company's name each part of two or more
    characters too ("三宅 恭子" → 三宅, 恭子), since a vocabulary holds names a word at a time, except
    the parts the corpus also writes where they are no one's name (さくら in さくらクリニック, 宮崎 in
    宮崎県, トメ in トリートメント): a vocabulary cannot tell those apart. A name of one word is such a
    part ("森" listed alone beside "森 健二" is searched as neither: 文具の森 is no one's name)."""
    values: set[str] = set()
    parts: set[str] = set()
    rows = pd.concat([frame[["subject", "body", "pii"]] for frame in frames]).fillna("")
    for value in "|".join(rows["pii"]).split("|"):
        if _NAME_LIKE.match(value):
            if len(value.split()) > 1:
                values.add(value)
            parts.update(part for part in value.split() if len(part) >= 2)
        elif (
            len(re.sub(r"\D", "", value)) >= 5 or "@" in value
        ):  # "3-12", "327": room numbers, not found as such
            values.add(value)
    ordinary = {
        part
        for subject, body, pii in rows.itertuples(index=False)
        for part in parts
        if part in f"{subject} {body}" and part not in pii
    }
    return values | (parts - ordinary)


def artifact_texts(folder: Path) -> Iterator[tuple[str, str]]:
    """(where, text) of every file under `folder`: text files as text, zip members (skops models)
    one by one, and of a model directory the vocabulary of its n-gram extractors (the model file
    stores it JSON-escaped, where no byte search would find it)."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".png":
            continue
        if path.name == model.MODEL_FILE:
            pipeline, _ = model.load(path.parent)
            for name, extractor in pipeline.named_steps["features"].transformer_list:
                yield f"{path}:{name}", "\n".join(map(str, extractor.get_feature_names_out()))
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield f"{path}:{member}", archive.read(member).decode("utf-8", errors="ignore")
        else:
            yield str(path), path.read_bytes().decode("utf-8", errors="ignore")


def _occurs(value: str, text: str) -> bool:
    if value not in text:
        return False
    # A number only counts on its own, not inside a longer one ("0.72149" holds no order 72149).
    return not value[0].isdigit() or re.search(rf"(?<![\d.]){re.escape(value)}(?!\d)", text) is not None


def leaks(values: set[str], folders: Iterable[Path]) -> list[tuple[str, str]]:
    """(value, where) for each personal value found in an artifact: as a feature or a word of a
    bigram feature of a vocabulary (one feature per line), anywhere in other text."""
    found = []
    for folder in folders:
        for where, text in artifact_texts(folder):
            words = None
            if where.endswith((":words", ":chars")):
                features = text.split("\n")
                words = {*features, *(word for feature in features for word in feature.split(" "))}
            for value in values:
                if (value in words) if words is not None else _occurs(value, text):
                    found.append((value, where))
    return sorted(found)
