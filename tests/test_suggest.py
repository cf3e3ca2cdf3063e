"""`classifier suggest`: the informativeness terms, the diversity step, and the command on the bundled
year-end drift batch scored by the session's model, into CSV, Excel (drop-down lists) and Label Studio."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from openpyxl import load_workbook

from classifier import model
from classifier.config import SuggestConfig, SuggestWeights
from classifier.io import contract, labels
from classifier.io.contract import TOPICS, URGENCIES
from classifier.io.inputs import read_chunks
from classifier.monitoring import suggest
from classifier.serving.score import Scorer, run_batch

YEAR_END = ROOT / "data" / "drift" / "yearend.csv"


def test_margin_entropy_and_high_terms_known_values():
    p = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.6, 0.3, 0.1]])
    assert suggest.margin_uncertainty(p) == pytest.approx([1.0, 0.0, 0.7])
    assert suggest.entropy_uncertainty(np.full((1, 4), 0.25)) == pytest.approx([1.0])
    assert suggest.entropy_uncertainty(p)[1] == pytest.approx(0.0, abs=1e-9)
    high = suggest.high_uncertainty(np.array([0.5, 0.1, 0.01, 0.99]))
    assert high[0] == pytest.approx(1.0) and high[1] == pytest.approx(0.469, abs=1e-3)
    assert high[2] == pytest.approx(high[3]) and high[2] < 0.1


def test_novelty_counts_the_new_terms_a_mail_holds():
    share, found = suggest.novelty(["福袋 予約 おせち", "福袋 届く", "返品 する"], ["おせち", "福袋"])
    assert share.tolist() == [1.0, 0.5, 0.0] and found == [["おせち", "福袋"], ["福袋"], []]


def test_settings_are_validated_with_the_key_named():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="uncertainty"):
        SuggestConfig.model_validate({"uncertainty": "random"})
    with pytest.raises(ValidationError, match="pool"):
        SuggestConfig.model_validate({"pool": 0.5})


def test_diversity_keeps_one_campaign_from_filling_the_picks(model_dir):
    """60 near-copies of one campaign mail outrank everything: top-n by score alone would be 60 copies;
    one pick per cluster takes one or two of them and fills the rest from other mail."""
    pipeline, _ = model.load(model_dir)
    others = pd.read_csv(YEAR_END, dtype=str, keep_default_na=False).head(60)
    copies = pd.DataFrame(
        {
            "subject": ["福袋の予約について"] * 60,
            "body": [f"福袋の予約はいつからですか。クーポン{n}番は使えますか。" for n in range(60)],
        }
    )
    frame = pd.concat([copies, others[["subject", "body"]]], ignore_index=True)
    vectors = pipeline.named_steps["features"].transform(model.inquiry_texts(frame))
    scores = np.r_[np.full(60, 0.9), np.linspace(0.8, 0.5, 60)]
    picked, clusters = suggest.diverse_pick(vectors, scores, 20, SuggestConfig(pool=6.0), seed=0)
    assert len(picked) == 20 and len(set(clusters.tolist())) == 20
    assert (picked < 60).sum() <= 2, picked


@pytest.fixture(scope="module")
def scored_year_end(model_dir, params, tmp_path_factory):
    path = tmp_path_factory.mktemp("suggest") / "yearend.scored.csv"
    run_batch(Scorer.load(model_dir), read_chunks(YEAR_END), path, params.sla, progress=False)
    return path


def run_suggest(scored, model_dir, output, *extra):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "classifier",
            "suggest",
            str(scored),
            "--input",
            str(YEAR_END),
            "-o",
            str(output),
            "--model",
            str(model_dir),
            "--params",
            str(ROOT / "params.yaml"),
            "--store",
            str(output.parent / "none.csv"),
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def suggested_csv(scored_year_end, model_dir):
    out = scored_year_end.parent / "to_label.csv"
    done = run_suggest(scored_year_end, model_dir, out, "-n", "40")
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done.stdout


def test_suggest_picks_uncertain_and_varied_mail(suggested_csv, scored_year_end):
    out, stdout = suggested_csv
    sheet = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    truth = pd.read_csv(YEAR_END, dtype=str, keep_default_na=False).set_index("id")
    scored = pd.read_csv(scored_year_end, dtype=str, keep_default_na=False).set_index("id")
    assert list(sheet.columns) == list(labels.SHEET_COLUMNS) and len(sheet) == 40
    assert sheet["id"].is_unique and sheet["id"].isin(truth.index).all()
    assert (sheet["topic"] == "").all() and (
        sheet["urgency"] == ""
    ).all()  # left for the person, no model guess
    assert sheet["rank"].tolist() == [str(n) for n in range(1, 41)]
    # the picks are the mail the model is least sure of: their confidence is well below the batch's
    picked = scored.loc[sheet["id"]]
    for head in ("topic", "urgency"):
        assert (
            pd.to_numeric(picked[f"{head}_confidence"]).mean()
            < pd.to_numeric(scored[f"{head}_confidence"]).mean() - 0.05
        )
    # and varied: most true topics of the batch are among them, in many clusters
    assert truth.loc[sheet["id"], "topic"].nunique() >= 4 and "40 picked from 40 clusters" in stdout
    assert sheet["body"].tolist() == truth.loc[sheet["id"], "body"].tolist()  # unredacted by default
    assert "new frequent terms:" in stdout and "unredacted" in stdout
    assert (sheet["why"] != "").all()


def test_suggest_writes_excel_with_drop_down_lists(scored_year_end, model_dir):
    out = scored_year_end.parent / "to_label.xlsx"
    done = run_suggest(scored_year_end, model_dir, out, "-n", "15")
    assert done.returncode == 0, done.stdout + done.stderr
    book = load_workbook(out)
    sheet = book["to_label"]
    header = [c.value for c in sheet[1]]
    assert header == list(labels.SHEET_COLUMNS) and sheet.max_row == 16
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    topic_col = sheet.cell(1, header.index("topic") + 1).column_letter
    urgency_col = sheet.cell(1, header.index("urgency") + 1).column_letter
    assert lists[f"{topic_col}2:{topic_col}16"] == '"' + ",".join(TOPICS) + '"'
    assert lists[f"{urgency_col}2:{urgency_col}16"] == '"' + ",".join(URGENCIES) + '"'
    assert {row[1] for row in book["labels"].iter_rows(min_row=2, values_only=True)} == set(TOPICS) | set(
        URGENCIES
    )


def test_suggest_writes_label_studio_tasks_and_config(scored_year_end, model_dir):
    out = scored_year_end.parent / "to_label.json"
    done = run_suggest(scored_year_end, model_dir, out, "-n", "10")
    assert done.returncode == 0, done.stdout + done.stderr
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert len(tasks) == 10 and all(
        set(t["data"]) >= {"inquiry_id", "subject", "body", "received_at", "why"} for t in tasks
    )
    config = ET.fromstring(labels.label_config_path(out).read_text(encoding="utf-8"))
    choices = {c.get("name"): [o.get("value") for o in c.iter("Choice")] for c in config.iter("Choices")}
    assert choices == {"topic": list(TOPICS), "urgency": list(URGENCIES)}
    assert all(c.get("toName") == "body" and c.get("required") == "true" for c in config.iter("Choices"))
    # every $variable of the config is a field of the tasks
    variables = {e.get("value")[1:] for e in config.iter() if (e.get("value") or "").startswith("$")}
    assert variables <= set(tasks[0]["data"])


def test_redact_masks_personal_data_in_the_file(scored_year_end, model_dir):
    out = scored_year_end.parent / "redacted.csv"
    done = run_suggest(scored_year_end, model_dir, out, "-n", "320", "--redact")
    assert done.returncode == 0, done.stdout + done.stderr
    text = out.read_text(encoding="utf-8-sig")
    truth = pd.read_csv(YEAR_END, dtype=str, keep_default_na=False)
    values = {
        v for cell in truth["pii"] for v in cell.split("|") if (len(v) >= 8 and "@" in v) or v.startswith("0")
    }
    assert values and not [v for v in values if v in text]
    assert "<PHONE>" in text or "<EMAIL>" in text


def test_already_labeled_mail_is_not_suggested_again(scored_year_end, model_dir, tmp_path):
    first = pd.read_csv(YEAR_END, dtype=str, keep_default_na=False).head(300)
    store = tmp_path / "labels.csv"
    first.to_csv(store, index=False)
    out = tmp_path / "rest.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "classifier",
            "suggest",
            str(scored_year_end),
            "--input",
            str(YEAR_END),
            "-o",
            str(out),
            "--model",
            str(model_dir),
            "--params",
            str(ROOT / "params.yaml"),
            "--store",
            str(store),
            "-n",
            "50",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sheet = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(sheet) <= 20 and not sheet["id"].isin(first["id"]).any()


def test_a_scored_file_of_another_batch_is_refused_naming_rows(scored_year_end, model_dir, tmp_path):
    other = pd.read_csv(scored_year_end, dtype=str, keep_default_na=False)
    other.loc[[3, 7], "id"] = ["inq-unknown-1", "inq-unknown-2"]
    other.to_csv(tmp_path / "other.csv", index=False)
    done = run_suggest(tmp_path / "other.csv", model_dir, tmp_path / "out.csv")
    assert done.returncode == 2 and not (tmp_path / "out.csv").exists()
    assert "row 4, field 'id'" in done.stderr and "row 8, field 'id'" in done.stderr
    assert "inq-unknown" not in done.stderr  # rows, not values


def test_a_batch_scored_by_another_model_is_refused(scored_year_end, model_dir, tmp_path):
    other = pd.read_csv(scored_year_end, dtype=str, keep_default_na=False)
    other["model_version"] = "models#sha256:0123456789ab"
    other.to_csv(tmp_path / "other.csv", index=False)
    done = run_suggest(tmp_path / "other.csv", model_dir, tmp_path / "out.csv")
    assert done.returncode == 2 and "scored by models#sha256:0123456789ab" in done.stderr


def test_formula_like_text_stays_text_in_csv_and_excel(tmp_path):
    sheet = labels.labeling_sheet(
        pd.DataFrame(
            {"rank": [1], "id": ["=HYPERLINK(1)"], "body": ["=1+1 届きません"], "subject": ["@件名"]}
        )
    )
    labels.write_labeling_file(sheet, tmp_path / "f.csv")
    labels.write_labeling_file(sheet, tmp_path / "f.xlsx")
    raw = pd.read_csv(tmp_path / "f.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert raw.loc[0, "body"] == "'=1+1 届きません" and raw.loc[0, "subject"] == "'@件名"
    cell = load_workbook(tmp_path / "f.xlsx")["to_label"]["F2"]
    assert cell.value == "=1+1 届きません" and cell.data_type == "s"
    # and both read back to the id as it was
    assert [r.id for r in labels.read_labeled(tmp_path / "f.csv")] == ["=HYPERLINK(1)"]
    assert [r.id for r in labels.read_labeled(tmp_path / "f.xlsx")] == ["=HYPERLINK(1)"]


def test_possible_red_and_new_terms_raise_the_score_at_equal_uncertainty():
    topic = np.array([[0.6, 0.4, 0, 0, 0, 0]] * 3)
    urgency = np.array([[0.1, 0.2, 0.7]] * 3)  # the same head outputs, P(high) read separately below
    parts = suggest.informativeness(
        topic, urgency, np.array([0.01, 0.3, 0.01]), np.array([0.0, 0.0, 1.0]), SuggestConfig()
    )
    assert parts["score"][1] > parts["score"][0] and parts["score"][2] > parts["score"][0]
    entropy = suggest.informativeness(
        topic,
        urgency,
        np.zeros(3),
        np.zeros(3),
        SuggestConfig(uncertainty="entropy", weights=SuggestWeights(high=0.0, new_terms=0.0)),
    )
    assert entropy["topic_uncertainty"][0] == pytest.approx(
        -(0.6 * np.log(0.6) + 0.4 * np.log(0.4)) / np.log(6)
    )


def test_suggest_reads_a_folder_of_mail_joined_by_message_id(model_dir, params, tmp_path):
    mail = ROOT / "data" / "new"
    scored = tmp_path / "new.scored.csv"
    run_batch(Scorer.load(model_dir), read_chunks(mail), scored, params.sla, progress=False)
    out = tmp_path / "to_label.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "classifier",
            "suggest",
            str(scored),
            "--input",
            str(mail),
            "-o",
            str(out),
            "--model",
            str(model_dir),
            "-n",
            "5",
            "--store",
            str(tmp_path / "none.csv"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tasks = json.loads(out.read_text(encoding="utf-8"))
    ids = pd.read_csv(scored, dtype=str, keep_default_na=False).query("error == ''")["id"]
    assert len(tasks) == 5 and {t["data"]["inquiry_id"] for t in tasks} <= set(ids)
    assert all(t["data"]["body"].strip() for t in tasks)
    # labeled in Label Studio and exported: the store gets the parsed mail
    for n, task in enumerate(tasks):
        task.update(
            id=n + 1,
            annotations=[
                {
                    "id": n + 1,
                    "was_cancelled": False,
                    "result": [
                        {
                            "type": "choices",
                            "from_name": "topic",
                            "to_name": "body",
                            "value": {"choices": ["other"]},
                        },
                        {
                            "type": "choices",
                            "from_name": "urgency",
                            "to_name": "body",
                            "value": {"choices": ["low"]},
                        },
                    ],
                }
            ],
        )
    (tmp_path / "export.json").write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    store = tmp_path / "labels.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "classifier",
            "import-labels",
            str(tmp_path / "export.json"),
            "--batch",
            str(mail),
            "--by",
            "sato",
            "--store",
            str(store),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    stored = contract.load_inquiries(store)
    assert len(stored) == 5 and set(stored["channel"]) == {"email"} and set(stored["source"]) == {"shop:new"}


def test_ids_the_scored_csv_quoted_as_formulas_still_join():
    batch = pd.DataFrame({"id": ["-a1", "b2"], "body": ["届きません", "返品したい"]})
    scored = pd.DataFrame({"id": ["'-a1", "b2"], "topic": ["non_delivery", "return"], "error": ["", ""]})
    assert suggest.candidates(scored, batch)["id"].tolist() == ["-a1", "b2"]
    assert suggest.candidates(scored, batch, {"b2"})["id"].tolist() == ["-a1"]
