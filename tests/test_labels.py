"""`classifier import-labels`: labeled CSV / Excel / Label Studio files read back against their batch (the
bundled year-end drift batch), every bad row listed with nothing written, provenance in the store, and
`dvc add` of the store inside a temporary git + DVC repository."""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT
from openpyxl import load_workbook

from classifier.io import contract, labels

YEAR_END = ROOT / "data" / "drift" / "yearend.csv"
LABEL_STUDIO = ROOT / "tests" / "data" / "label_studio"


@pytest.fixture(scope="module")
def year_end():
    return pd.read_csv(YEAR_END, dtype=str, keep_default_na=False)


def sheet_of(rows: pd.DataFrame, labeled: bool = True) -> pd.DataFrame:
    """The labeling sheet `suggest` writes for these mails, with their true labels as staff would fill in."""
    sheet = labels.labeling_sheet(rows.assign(rank=range(1, len(rows) + 1), why="topic unsure (0.70)"))
    if labeled:
        sheet["topic"], sheet["urgency"] = rows["topic"].to_numpy(), rows["urgency"].to_numpy()
    return sheet


def run_import(label_file, store, *extra, batch=YEAR_END, cwd=None):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "classifier",
            "import-labels",
            str(label_file),
            "--batch",
            str(batch),
            "--by",
            "sato",
            "--store",
            str(store),
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_excel_round_trip_fills_the_store_with_provenance(year_end, tmp_path):
    """Staff pick labels in the drop-down cells of the workbook `suggest` writes; the store gets the
    batch's mail with those labels and where they came from."""
    rows = year_end.iloc[10:40].reset_index(drop=True)
    out = tmp_path / "to_label.xlsx"
    labels.write_labeling_file(sheet_of(rows, labeled=False), out)
    book = load_workbook(out)
    sheet = book["to_label"]
    header = [c.value for c in sheet[1]]
    for n, row in rows.iterrows():  # as a person fills the cells
        sheet.cell(n + 2, header.index("topic") + 1, row["topic"])
        sheet.cell(n + 2, header.index("urgency") + 1, row["urgency"])
    book.save(out)
    store = tmp_path / "shop" / "labels.csv"
    done = run_import(out, store)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "30 labeled mails added" in done.stdout
    stored = contract.load_inquiries(store)  # the training contract holds
    assert list(stored.columns) == list(labels.STORE_COLUMNS)
    assert stored[["id", "body", "subject", "received_at", "channel", "topic", "urgency"]].equals(
        rows[["id", "body", "subject", "received_at", "channel", "topic", "urgency"]]
    )
    assert set(stored["labeled_by"]) == {"sato"} and set(stored["source"]) == {"shop:yearend"}
    assert set(stored["batch_sha256"]) == {sha256(YEAR_END)} and set(stored["label_file_sha256"]) == {
        sha256(out)
    }
    assert (
        set(stored["label_file"]) == {"to_label.xlsx"}
        and contract.check_timestamp(stored.loc[0, "labeled_at"]) is None
    )


def test_csv_saved_by_japanese_excel_as_cp932_is_read(year_end, tmp_path):
    rows = year_end.iloc[:12].reset_index(drop=True)
    rows = rows[rows["body"].map(lambda b: _encodes(b, "cp932"))].reset_index(drop=True)
    out = tmp_path / "to_label.csv"
    sheet_of(rows).to_csv(out, index=False, encoding="cp932")
    done = run_import(out, tmp_path / "labels.csv", "--source", "shop:december")
    assert done.returncode == 0, done.stdout + done.stderr
    stored = contract.read_table(tmp_path / "labels.csv")
    assert stored["topic"].tolist() == rows["topic"].tolist() and set(stored["source"]) == {"shop:december"}


def _encodes(text: str, codec: str) -> bool:
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def test_label_studio_export_is_imported(year_end, tmp_path):
    """The full JSON export: a cancelled annotation is no answer, two agreeing ones are one."""
    done = run_import(LABEL_STUDIO / "export.json", tmp_path / "labels.csv")
    assert done.returncode == 0, done.stdout + done.stderr
    stored = contract.read_table(tmp_path / "labels.csv").set_index("id")
    assert stored["topic"].to_dict() == {
        "inq-e6b599011413": "usage",
        "inq-ff6f2bbc6408": "non_delivery",
        "inq-bb449fe4d634": "campaign",
        "inq-cd18853ce417": "non_delivery",
        "inq-8ee46fe4c586": "wrong_item",
    }
    assert stored.loc["inq-8ee46fe4c586", "urgency"] == "high"
    truth = year_end.set_index("id")
    assert (stored["body"] == truth.loc[stored.index, "body"]).all()


def test_label_studio_json_min_export_is_imported(tmp_path):
    done = run_import(LABEL_STUDIO / "export_min.json", tmp_path / "labels.csv")
    assert done.returncode == 0, done.stdout + done.stderr
    assert contract.read_table(tmp_path / "labels.csv")["urgency"].tolist() == ["low", "high"]


def test_every_bad_row_is_listed_and_nothing_changes(year_end, tmp_path):
    """Unknown label, missing label, missing id, duplicate id, an id not in the batch, empty text,
    an id labeled before: all in one error, exit 2, the store byte for byte as it was."""
    store = tmp_path / "labels.csv"
    assert run_import(LABEL_STUDIO / "export_min.json", store).returncode == 0
    before = store.read_bytes()
    rows = year_end.iloc[20:30].reset_index(drop=True)
    sheet = sheet_of(rows)
    sheet.loc[0, "topic"] = "refund"  # row 1: unknown label
    sheet.loc[1, "urgency"] = ""  # row 2: missing label
    sheet.loc[2, "id"] = ""  # row 3: missing id
    sheet.loc[3, "id"] = sheet.loc[
        4, "id"
    ]  # row 4: duplicate (of row 5? first is row 4; row 5 is the duplicate)
    sheet.loc[6, "id"] = "inq-000000000000"  # row 7: not in the batch
    sheet.loc[7, "body"] = "  "  # row 8: empty text
    sheet.loc[8, "id"] = "inq-e6b599011413"  # row 9: labeled before (in the store)
    sheet.loc[9, "urgency"] = "urgent"  # row 10: unknown label
    out = tmp_path / "bad.csv"
    labels.write_labeling_file(sheet, out)
    done = run_import(out, store)
    assert done.returncode == 2, done.stderr
    assert "8 problem(s), nothing imported" in done.stderr
    for expected in (
        "row 1, field 'topic': unknown label",
        "row 2, field 'urgency': missing label",
        "row 3, field 'id': missing id",
        "row 5, field 'id': duplicate id (first in row 4)",
        "row 7, field 'id': id not in the batch",
        "row 8, field 'body': empty text",
        "row 9, field 'id': labeled before",
        "row 10, field 'urgency': unknown label",
    ):
        assert expected in done.stderr, (expected, done.stderr)
    assert (
        "refund" not in done.stderr and "inq-000000000000" not in done.stderr
    )  # rows and fields, not values
    assert store.read_bytes() == before


def test_every_bad_label_studio_task_is_listed(tmp_path):
    store = tmp_path / "labels.csv"
    done = run_import(LABEL_STUDIO / "export_bad.json", store)
    assert done.returncode == 2 and not store.exists()
    for expected in (
        "row 1, field 'annotations': Label Studio task 51: 2 annotations disagree",
        "row 2, field 'topic': unknown label",
        "row 3, field 'topic': missing label",
        "row 3, field 'urgency': missing label",
        "row 4, field 'urgency': missing label",
        "row 5, field 'body': empty text in the labeled file",
        "row 6, field 'topic': unknown label",
        "row 7, field 'id': id not in the batch",
    ):
        assert expected in done.stderr, (expected, done.stderr)


def test_partial_leaves_unlabeled_rows_out_and_says_so(year_end, tmp_path):
    rows = year_end.iloc[:6].reset_index(drop=True)
    sheet = sheet_of(rows)
    sheet.loc[[1, 4], ["topic", "urgency"]] = ""
    out = tmp_path / "half.csv"
    labels.write_labeling_file(sheet, out)
    refused = run_import(out, tmp_path / "labels.csv")
    assert refused.returncode == 2 and "4 problem(s)" in refused.stderr
    done = run_import(out, tmp_path / "labels.csv", "--partial")
    assert done.returncode == 0, done.stdout
    assert "4 labeled mails added" in done.stdout and "2 unlabeled rows left out" in done.stdout


def test_batch_mail_must_meet_the_data_contract(year_end, tmp_path):
    """A batch without channel or timestamps is fine to score, but not to train on: named, not stored."""
    batch = tmp_path / "bare.csv"
    year_end.iloc[:3][["id", "subject", "body"]].to_csv(batch, index=False)
    out = tmp_path / "l.csv"
    labels.write_labeling_file(sheet_of(year_end.iloc[:3].reset_index(drop=True)), out)
    done = run_import(out, tmp_path / "labels.csv", batch=batch)
    assert (
        done.returncode == 2
        and "row 1, field 'received_at'" in done.stderr
        and "row 3, field 'channel'" in done.stderr
    )
    assert not (tmp_path / "labels.csv").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_store_is_dvc_tracked_inside_a_dvc_repository(year_end, tmp_path):
    repo = tmp_path / "shop"
    repo.mkdir()
    for command in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        subprocess.run(command, cwd=repo, check=True, capture_output=True)
    out = tmp_path / "l.csv"
    labels.write_labeling_file(sheet_of(year_end.iloc[:5].reset_index(drop=True)), out)
    store = repo / "data" / "shop" / "labels.csv"
    done = run_import(out, store, cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    tracked = repo / "data" / "shop" / "labels.csv.dvc"
    assert tracked.is_file() and f"md5: {hashlib.md5(store.read_bytes()).hexdigest()}" in tracked.read_text()
    assert "/labels.csv" in (repo / "data" / "shop" / ".gitignore").read_text()
    # a second batch of labels appends, and the .dvc file follows the new content
    labels.write_labeling_file(sheet_of(year_end.iloc[5:9].reset_index(drop=True)), out)
    assert run_import(out, store, cwd=repo).returncode == 0
    assert len(contract.read_table(store)) == 9
    assert f"md5: {hashlib.md5(store.read_bytes()).hexdigest()}" in tracked.read_text()
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "data/shop/labels.csv.dvc"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert status.returncode == 0 and "up to date" in status.stdout.lower() + status.stderr.lower()


def test_outside_a_dvc_repository_the_store_is_only_written(year_end, tmp_path):
    out = tmp_path / "l.csv"
    labels.write_labeling_file(sheet_of(year_end.iloc[:2].reset_index(drop=True)), out)
    done = run_import(out, tmp_path / "labels.csv")
    assert done.returncode == 0 and "dvc add" not in done.stdout
    assert not (tmp_path / "labels.csv.dvc").exists()


def test_suggested_file_labeled_and_imported_end_to_end(model_dir, params, year_end, tmp_path):
    """score → suggest → label (the batch's true labels typed into the workbook) → import."""
    from classifier.io.inputs import read_chunks
    from classifier.serving.score import Scorer, run_batch

    scored = tmp_path / "scored.csv"
    run_batch(
        Scorer.load(model_dir),
        read_chunks(YEAR_END),
        scored,
        params.sla,
        progress=False,
    )
    out = tmp_path / "to_label.xlsx"
    store = tmp_path / "labels.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "classifier",
            "suggest",
            str(scored),
            "--input",
            str(YEAR_END),
            "-o",
            str(out),
            "--model",
            str(model_dir),
            "-n",
            "25",
            "--store",
            str(store),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    book = load_workbook(out)
    sheet = book["to_label"]
    header = [c.value for c in sheet[1]]
    truth = year_end.set_index("id")
    for row in range(2, sheet.max_row + 1):
        mail = truth.loc[sheet.cell(row, header.index("id") + 1).value]
        sheet.cell(row, header.index("topic") + 1, mail["topic"])
        sheet.cell(row, header.index("urgency") + 1, mail["urgency"])
    book.save(out)
    assert run_import(out, store).returncode == 0
    stored = contract.load_inquiries(store)
    assert (
        len(stored) == 25 and (stored.set_index("id")["urgency"] == truth.loc[stored["id"], "urgency"]).all()
    )
    # the next round suggests other mail
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "classifier",
            "suggest",
            str(scored),
            "--input",
            str(YEAR_END),
            "-o",
            str(tmp_path / "next.csv"),
            "--model",
            str(model_dir),
            "-n",
            "25",
            "--store",
            str(store),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    following = pd.read_csv(tmp_path / "next.csv", dtype=str, encoding="utf-8-sig")
    assert not following["id"].isin(stored["id"]).any()


def test_a_file_that_is_no_labeling_file_is_refused_whole(year_end, tmp_path):
    no_labels = tmp_path / "no_labels.csv"
    year_end[["id", "body", "topic"]].head(3).to_csv(no_labels, index=False)
    with pytest.raises(contract.InquiryDataError, match=r"file, field 'urgency': missing column") as error:
        labels.read_labeled(no_labels)
    assert error.value.path == str(no_labels)
    (tmp_path / "labels.txt").write_text("id,topic,urgency\n", encoding="utf-8")
    with pytest.raises(contract.InquiryDataError, match=r"unknown file type '\.txt'"):
        labels.read_labeled(tmp_path / "labels.txt")
    (tmp_path / "broken.json").write_text('{"data": ', encoding="utf-8")
    with pytest.raises(contract.InquiryDataError, match="not JSON"):
        labels.read_labeled(tmp_path / "broken.json")
    done = run_import(tmp_path / "broken.json", tmp_path / "store.csv")
    assert (
        done.returncode == 2 and "nothing imported" in done.stderr and not (tmp_path / "store.csv").exists()
    )
