"""Code tests of the data contract: loading, validation errors that name the row and field, splitting."""

import pandas as pd
import pytest

from classifier.io import contract

GOOD = {
    "id": "a1",
    "received_at": "2026-03-02T10:15:00+09:00",
    "channel": "email",
    "subject": "",
    "body": "注文した商品と違うものが届きました。",
    "topic": "wrong_item",
    "urgency": "high",
}


def write_csv(tmp_path, rows, name="inquiries.csv"):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_valid_file_loads_with_empty_subject_as_empty_string(tmp_path):
    frame = contract.load_inquiries(write_csv(tmp_path, [GOOD]))
    assert frame.loc[0, "subject"] == ""
    assert frame.loc[0, "topic"] == "wrong_item"


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_jsonl_and_parquet_load_the_same_as_csv(tmp_path, suffix):
    path = tmp_path / f"inquiries{suffix}"
    frame = pd.DataFrame([GOOD, {**GOOD, "id": "a2"}])
    frame.to_json(
        path, orient="records", lines=True, force_ascii=False
    ) if suffix == ".jsonl" else frame.to_parquet(path)
    pd.testing.assert_frame_equal(
        contract.load_inquiries(path), contract.load_inquiries(write_csv(tmp_path, frame))
    )


def test_every_problem_is_reported_with_file_row_and_field(tmp_path):
    rows = [
        GOOD,
        {**GOOD, "id": "a2", "topic": "refund"},
        {**GOOD, "id": "a3", "urgency": "urgent", "received_at": "2026-03-02 10:15"},
        {**GOOD, "id": "a1", "body": "  "},
        {**GOOD, "id": "a5", "received_at": "yesterday", "channel": "phone"},
    ]
    path = write_csv(tmp_path, rows)
    with pytest.raises(contract.InquiryDataError) as caught:
        contract.load_inquiries(path)
    error = caught.value
    found = {(p.row, p.field) for p in error.problems}
    assert found == {
        (2, "topic"),
        (3, "urgency"),
        (3, "received_at"),
        (4, "id"),
        (4, "body"),
        (5, "received_at"),
        (5, "channel"),
    }
    message = str(error)
    assert str(path) in message
    assert "row 2, field 'topic': unknown value (allowed: wrong_item, " in message
    assert "row 4, field 'id': duplicate id (first in row 1)" in message
    assert "timestamp has no UTC offset" in message
    assert "'refund'" not in message  # values are never repeated: any field may hold personal data


def test_missing_columns_are_reported_by_name(tmp_path):
    path = write_csv(tmp_path, [{k: v for k, v in GOOD.items() if k not in ("urgency", "channel")}])
    with pytest.raises(contract.InquiryDataError) as caught:
        contract.load_inquiries(path)
    assert {(p.row, p.field) for p in caught.value.problems} == {(None, "channel"), (None, "urgency")}


def test_labels_are_optional_for_unlabeled_input(tmp_path):
    path = write_csv(tmp_path, [{k: v for k, v in GOOD.items() if k not in ("topic", "urgency")}])
    assert len(contract.load_inquiries(path, require_labels=False)) == 1


def test_unknown_file_type_is_an_error(tmp_path):
    path = tmp_path / "inquiries.xlsx"
    path.write_text("x")
    with pytest.raises(contract.InquiryDataError, match="unknown file type '.xlsx'"):
        contract.read_table(path)


def test_split_is_stratified_disjoint_and_reproducible(corpus):
    left, right = contract.split(corpus, 0.25, seed=7)
    again_left, again_right = contract.split(corpus, 0.25, seed=7)
    assert list(left["id"]) == list(again_left["id"])
    assert list(right["id"]) == list(again_right["id"])
    assert set(left["id"]).isdisjoint(right["id"])
    assert len(left) + len(right) == len(corpus)
    shares = contract.stratum(right).value_counts(normalize=True)
    expected = contract.stratum(corpus).value_counts(normalize=True)
    assert (shares - expected).abs().max() < 0.03


def test_near_duplicates_found_by_character_ngrams():
    texts = [
        "注文した商品と違うものが届きました。黒のMサイズを注文したのに白のLサイズでした。",
        "注文した商品と違うものが届きました。黒のMサイズを注文したのに白のLサイズでした!",
        "加湿器のフィルターの交換方法を教えてください。",
    ]
    pairs = contract.near_duplicate_pairs(texts)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]
