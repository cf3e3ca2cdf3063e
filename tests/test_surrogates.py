"""A lone surrogate escape (\\ud800) in JSONL input or in a serving request: an error row naming the
line/row and field, never a crash of the whole batch (the bug of issue 14)."""

import pandas as pd
from conftest import ROOT
from typer.testing import CliRunner

from classifier.cli import app
from classifier.serving.score import Scorer, score_request

LINES = (
    '{"id": "a", "received_at": "2026-11-17T10:00:00+09:00", "body": "\\ud800 届きません"}\n'
    '{"id": "b\\udc00", "received_at": "2026-11-17T10:00:00+09:00", "body": "返品したいです"}\n'
    '{"id": "c", "received_at": "2026-11-17T10:00:00+09:00", "body": "注文した商品が届きません"}\n'
)


def test_cli_scores_the_other_records_of_a_jsonl_with_a_lone_surrogate(model_dir, tmp_path):
    source = tmp_path / "inbox.jsonl"
    source.write_text(LINES, encoding="utf-8")
    output = tmp_path / "queue.jsonl"
    done = CliRunner().invoke(
        app,
        [
            "score",
            str(source),
            "-o",
            str(output),
            "--model",
            str(model_dir),
            "--show",
            "0",
            "--params",
            str(ROOT / "params.yaml"),
            "--jobs",
            "1",
        ],
    )
    assert done.exit_code == 0, done.output
    scored = pd.read_json(output, lines=True, dtype=False)
    assert scored["id"].tolist() == ["inbox.jsonl:line1", "inbox.jsonl:line2", "c"]
    assert scored["error"].tolist()[:2] == [
        "line 1: field 'body': not valid Unicode (a lone surrogate escape such as \\ud800)",
        "line 2: field 'id': not valid Unicode (a lone surrogate escape such as \\ud800)",
    ]
    assert scored.loc[2, "error"] == "" and scored.loc[2, "topic"]


def test_a_request_row_with_a_lone_surrogate_is_an_error_row(model_dir, params):
    scorer = Scorer.load(model_dir)
    # object columns, as the JSON server builds them: pandas' Arrow strings refuse a surrogate outright
    request = pd.DataFrame(
        {"id": ["a", "b"], "body": ["\ud800 届きません", "注文した商品が届きません"]}, dtype=object
    )
    answered = score_request(scorer, request, params.sla)
    assert (
        answered.loc[0, "error"].startswith("row 1, field 'body': not valid Unicode")
        and answered.loc[0, "topic"] == ""
    )
    assert answered.loc[1, "topic"] and "not valid Unicode" not in answered.loc[1, "error"]
    assert not any(isinstance(value, str) and "\ud800" in value for value in answered.to_numpy().ravel())
