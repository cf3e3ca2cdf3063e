"""The labeling round trip: files staff label (CSV, Excel with drop-down lists, Label Studio tasks) and
reading them back into the shop's own labeled data (`data/shop/labels.csv`) with provenance.

Reading back validates everything before anything is written: every bad row of the labeled file
(unknown or missing label, missing or duplicate id, an id not in the batch or labeled before, empty
text, Label Studio annotations that disagree) is listed in one `InquiryDataError`, and the store is left
as it was. The store takes the mail from the batch file (not from the labeled sheet, which may be
redacted or edited) and checks each record against the data contract, so training reads it like the corpus.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pandas as pd

from classifier.io import contract
from classifier.io.contract import TOPICS, URGENCIES, InquiryDataError, Problem
from classifier.io.inputs import materialize as materialized
from classifier.io.inputs import read_chunks, text_encoding

SHEET_COLUMNS = (
    "rank",
    "id",
    "received_at",
    "channel",
    "subject",
    "body",
    "topic",
    "urgency",
    "comment",
    "why",
)
LABEL_FORMATS = (".csv", ".xlsx", ".json")
STORE_COLUMNS = (
    *contract.TEXT_COLUMNS,
    *contract.LABEL_COLUMNS,
    "source",
    "labeled_by",
    "labeled_at",
    "batch",
    "batch_sha256",
    "label_file",
    "label_file_sha256",
)
TOPIC_NAMES = {
    "wrong_item": "商品違い・誤配送・不足",
    "non_delivery": "未着・配送遅延",
    "usage": "使い方・商品説明",
    "return": "返品・交換・返金",
    "campaign": "キャンペーン・クーポン・ポイント",
    "other": "その他",
}
URGENCY_NAMES = {"high": "大至急 (red)", "medium": "至急 (orange)", "low": "通常 (green)"}
# OWASP's CSV injection rule, as the scored queue applies it (serving/score.py); io sits below serving,
# so the three lines are repeated here rather than imported upwards.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralized(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unneutralized(value: str) -> str:
    """What `neutralized` wrote, back: a leading quote before a formula start is ours."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


# --- writing the file to label ---------------------------------------------------------------


def labeling_sheet(suggestions: pd.DataFrame, redactor: Any = None) -> pd.DataFrame:
    """The rows staff label: the mail, empty `topic`, `urgency` and `comment` cells, and why it was picked.
    The model's own guess is left out on purpose: these are the mails it is least sure of, and a
    pre-filled answer anchors the person to it. `redactor` (text → text) masks subject and body."""
    sheet = pd.DataFrame({c: suggestions[c].astype(str) if c in suggestions else "" for c in SHEET_COLUMNS})
    if redactor is not None:
        for column in ("subject", "body"):
            sheet[column] = [redactor(text) for text in sheet[column].tolist()]
    return sheet


def write_labeling_file(sheet: pd.DataFrame, path: Path) -> list[Path]:
    """Write the sheet as .csv, .xlsx or Label Studio .json (with its labeling config beside it),
    each file atomically; returns the files written."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = sheet.map(neutralized).to_csv(index=False, lineterminator="\r\n")
        # UTF-8 with a BOM: Japanese Excel reads a CSV without one as CP932 and garbles it.
        _atomic_write(path, text.encode("utf-8-sig"))
        return [path]
    if suffix == ".xlsx":
        _atomic_write(path, xlsx_bytes(sheet))
        return [path]
    if suffix == ".json":
        config = label_config_path(path)
        _atomic_write(
            path, json.dumps(label_studio_tasks(sheet), ensure_ascii=False, indent=1).encode("utf-8")
        )
        _atomic_write(config, label_studio_config().encode("utf-8"))
        return [path, config]
    raise ValueError(f"{path}: unknown labeling file type '{suffix}' (use {', '.join(LABEL_FORMATS)})")


def xlsx_bytes(sheet: pd.DataFrame) -> bytes:
    """An Excel workbook: the sheet with drop-down lists of the allowed labels on `topic` and `urgency`
    (data validation refuses anything else), and a second sheet naming the labels in Japanese."""
    try:
        from openpyxl import Workbook  # the `labeling` extra
    except ImportError:
        raise ImportError("Excel files need openpyxl: pip install 'classifier[labeling]'") from None
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    ws = book.active
    ws.title = "to_label"
    ws.append(list(sheet.columns))
    for row in sheet.itertuples(index=False):
        ws.append(list(row))
    for cells in ws.iter_rows(min_row=2):
        for cell in cells:
            cell.data_type = "s"  # openpyxl takes a text starting with '=' for a formula: keep it text
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    last = max(2, len(sheet) + 1)
    for name, allowed, title in (("topic", TOPICS, "topic"), ("urgency", URGENCIES, "urgency")):
        letter = ws.cell(1, list(sheet.columns).index(name) + 1).column_letter
        check = DataValidation(
            type="list",
            formula1='"' + ",".join(allowed) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle=f"unknown {title}",
            error=f"choose one of: {', '.join(allowed)} (docs/labeling.md)",
        )
        check.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(check)
    widths = {"body": 80, "subject": 30, "why": 40, "id": 22, "received_at": 26, "topic": 14, "urgency": 10}
    for index, column in enumerate(sheet.columns, start=1):
        ws.column_dimensions[ws.cell(1, index).column_letter].width = widths.get(column, 10)
    body = list(sheet.columns).index("body") + 1
    for (cell,) in ws.iter_rows(min_row=2, min_col=body, max_col=body):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    guide = book.create_sheet("labels")
    guide.append(["field", "label", "日本語"])
    for name, names in (("topic", TOPIC_NAMES), ("urgency", URGENCY_NAMES)):
        for label, japanese in names.items():
            guide.append([name, label, japanese])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def label_studio_tasks(sheet: pd.DataFrame) -> list[dict[str, Any]]:
    """Label Studio's import format: one task per mail, the fields under `data`. Our id travels as
    `inquiry_id`, as Label Studio numbers tasks with its own `id`."""
    fields = [c for c in SHEET_COLUMNS if c not in ("topic", "urgency", "comment")]
    return [
        {"data": {("inquiry_id" if c == "id" else c): value for c, value in zip(fields, row, strict=True)}}
        for row in sheet[fields].itertuples(index=False)
    ]


def label_config_path(tasks: Path) -> Path:
    return tasks.with_name(tasks.stem + ".label_config.xml")


def label_studio_config() -> str:
    """The labeling interface (Settings → Labeling Interface → Code): the mail, one required single
    choice per field with the labels of the spec, the reason it was picked."""

    def choices(name: str, labels: dict[str, str]) -> str:
        options = "\n".join(
            f"    <Choice value={quoteattr(label)} hint={quoteattr(hint)}/>" for label, hint in labels.items()
        )
        return (
            f'  <Header value="{name}"/>\n  <Choices name="{name}" toName="body" choice="single" '
            f'required="true" showInline="true">\n{options}\n  </Choices>'
        )

    return "\n".join(
        [
            "<View>",
            '  <Header value="$subject"/>',
            '  <Text name="received_at" value="$received_at"/>',
            '  <Text name="body" value="$body"/>',
            choices("topic", TOPIC_NAMES),
            choices("urgency", URGENCY_NAMES),
            '  <Text name="why" value="$why"/>',
            "</View>",
            "",
        ]
    )


def _atomic_write(path: Path, data: bytes) -> None:
    """The whole file or nothing: written next to `path`, then renamed over it."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- reading a labeled file ------------------------------------------------------------------


@dataclass(frozen=True)
class Labeled:
    """One labeled record as read: its row in the file (1-based; for Label Studio, the task's place
    in the export), id, labels ('' when missing), text (None when the format carries none)."""

    row: int
    id: str
    topic: str
    urgency: str
    text: str | None
    problem: str = ""  # a problem only the reader can see (Label Studio annotations)


def read_labeled(path: Path, encoding: str = "auto") -> list[Labeled]:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InquiryDataError(path, [Problem(None, "path", "no such file")])
    if suffix == ".csv":
        return _from_rows(path, _csv_table(path, encoding))
    if suffix == ".xlsx":
        return _from_rows(path, _xlsx_table(path))
    if suffix == ".json":
        return list(_from_label_studio(path))
    raise InquiryDataError(
        path, [Problem(None, "path", f"unknown file type '{suffix}' (use {', '.join(LABEL_FORMATS)})")]
    )


def _csv_table(path: Path, encoding: str) -> pd.DataFrame:
    """A CSV as text; UTF-8 or, as Excel saves 'CSV' on a Japanese Windows, CP932."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=text_encoding(path, encoding))


def _xlsx_table(path: Path) -> pd.DataFrame:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    ws = book["to_label"] if "to_label" in book.sheetnames else book.worksheets[0]
    rows = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    book.close()
    if not rows:
        raise InquiryDataError(path, [Problem(None, "file", "empty workbook")])
    header, body = rows[0], rows[1:]
    while body and not any(body[-1]):  # rows Excel keeps after the last one written
        body.pop()
    return pd.DataFrame(body, columns=header)


def _cell_text(value: Any) -> str:
    """A cell as text: an id typed as a number (12345) must not come back as '12345.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _from_rows(path: Path, table: pd.DataFrame) -> list[Labeled]:
    """Rows of a sheet. Label Studio's CSV export has its own task `id`; ours is then `inquiry_id`."""
    id_column = "inquiry_id" if "inquiry_id" in table else "id"
    text_column = next((c for c in ("body", "text") if c in table), None)
    missing = [c for c in (id_column, "topic", "urgency") if c not in table]
    if missing:
        raise InquiryDataError(path, [Problem(None, c, "missing column") for c in missing])
    return [
        Labeled(
            row,
            unneutralized(r[id_column].strip()),
            r["topic"].strip(),
            r["urgency"].strip(),
            None if text_column is None else r[text_column],
        )
        for row, r in enumerate(table.to_dict("records"), start=1)
    ]


def _from_label_studio(path: Path) -> Iterator[Labeled]:
    """Label Studio's JSON export (tasks with `data` and `annotations`) or its JSON-MIN export (flat
    records with the choices under the control names)."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InquiryDataError(path, [Problem(None, "file", f"not JSON ({type(error).__name__})")]) from None
    if not isinstance(tasks, list):
        raise InquiryDataError(
            path, [Problem(None, "file", "not a Label Studio export (a JSON list of tasks)")]
        )
    for row, task in enumerate(tasks, start=1):
        if not isinstance(task, dict):
            yield Labeled(row, "", "", "", None, "not a task object")
        elif "data" in task:
            yield _full_task(row, task)
        else:
            yield Labeled(
                row,
                str(task.get("inquiry_id", "")).strip(),
                _single(task.get("topic")),
                _single(task.get("urgency")),
                task.get("body", task.get("text")),
            )


def _single(choice: Any) -> str:
    """A JSON-MIN choice: a string, or {"choices": [...]} when several were ticked (kept joined)."""
    if isinstance(choice, dict):
        choice = choice.get("choices", [])
    if isinstance(choice, list):
        return ",".join(map(str, choice))
    return "" if choice is None else str(choice).strip()


def _full_task(row: int, task: dict[str, Any]) -> Labeled:
    data = task.get("data") or {}
    where = f"Label Studio task {task.get('id', '?')}"
    answers = []
    for annotation in task.get("annotations") or []:
        if annotation.get("was_cancelled"):  # skipped in Label Studio: no answer
            continue
        choices = {
            r.get("from_name"): r.get("value", {}).get("choices", [])
            for r in annotation.get("result", [])
            if r.get("type") == "choices"
        }
        answers.append((",".join(choices.get("topic", [])), ",".join(choices.get("urgency", []))))
    problem = ""
    if len(set(answers)) > 1:
        problem = f"{where}: {len(answers)} annotations disagree (resolve them in Label Studio)"
    topic, urgency = answers[-1] if answers else ("", "")
    return Labeled(row, str(data.get("inquiry_id", "")).strip(), topic, urgency, data.get("body"), problem)


# --- validating against the batch and the store ----------------------------------------------


def find_label_problems(
    labeled: list[Labeled], batch: pd.DataFrame, stored_ids: set[str], partial: bool = False
) -> tuple[list[Problem], list[Labeled]]:
    """Every problem of the labeled records, and the records to store. With `partial`, records without
    any label are left out (counted by the caller), else they are problems too. Messages name the row
    and the field, never the value."""
    in_batch = dict(zip(batch["id"].tolist(), batch["body"].tolist(), strict=True))
    problems: list[Problem] = []
    keep: list[Labeled] = []
    first_row: dict[str, int] = {}
    for record in labeled:
        found = _record_problems(record, in_batch, stored_ids, first_row, partial)
        if found is None:
            continue
        problems.extend(found)
        if not found:
            keep.append(record)
    return problems, keep


def _record_problems(
    record: Labeled, in_batch: dict[str, str], stored_ids: set[str], first_row: dict[str, int], partial: bool
) -> list[Problem] | None:
    """The problems of one record; None when it is unlabeled and `partial` leaves it out."""
    if partial and not record.topic and not record.urgency and not record.problem:
        return None
    row, problems = record.row, []
    if record.problem:
        problems.append(Problem(row, "annotations", record.problem))
    for field, value, allowed in (("topic", record.topic, TOPICS), ("urgency", record.urgency, URGENCIES)):
        if not value:
            problems.append(Problem(row, field, "missing label"))
        elif value not in allowed:
            problems.append(Problem(row, field, f"unknown label (allowed: {', '.join(allowed)})"))
    if not record.id:
        problems.append(Problem(row, "id", "missing id"))
    elif record.id in first_row:
        problems.append(Problem(row, "id", f"duplicate id (first in row {first_row[record.id]})"))
    else:
        first_row[record.id] = row
        if record.id not in in_batch:
            problems.append(Problem(row, "id", "id not in the batch (labeled from another batch?)"))
        elif not in_batch[record.id].strip():
            problems.append(Problem(row, "body", "empty text in the batch"))
        if record.id in stored_ids:
            problems.append(Problem(row, "id", "labeled before (already in the store)"))
    if record.text is not None and not str(record.text).strip():
        problems.append(Problem(row, "body", "empty text in the labeled file"))
    return problems


# --- the batch and the store -------------------------------------------------------------------


def read_batch(
    path: Path, fmt: str | None = None, encoding: str = "auto", recursive: bool = False
) -> pd.DataFrame:
    """The scored batch's input as one frame of records (mail parsed), as `classifier score` read it."""
    chunks = [materialized(chunk) for chunk in read_chunks(path, fmt, 5000, encoding, recursive)]
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=["id", "body"])


def sha256_of(path: Path) -> str:
    """SHA-256 of a file; of a folder (mail), over its files' relative paths and contents in order."""
    if path.is_file():
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def read_store(store: Path) -> pd.DataFrame:
    """The shop's labeled mail so far (empty when there is none yet); a file without ids is refused."""
    if not store.is_file():
        return pd.DataFrame(columns=list(STORE_COLUMNS), dtype=object)
    stored = contract.read_table(store)
    if "id" not in stored:
        raise InquiryDataError(store, [Problem(None, "id", "missing column in the store")])
    return stored


def store_records(keep: list[Labeled], batch: pd.DataFrame, provenance: dict[str, str]) -> pd.DataFrame:
    """The new store rows: the batch's mail, the labels, the provenance columns."""
    by_id = batch.drop_duplicates("id").set_index("id")
    rows = []
    for record in keep:
        mail = by_id.loc[record.id]
        rows.append(
            {
                **{c: str(mail.get(c, "")) for c in contract.TEXT_COLUMNS if c != "id"},
                "id": record.id,
                "topic": record.topic,
                "urgency": record.urgency,
                **provenance,
            }
        )
    return pd.DataFrame(rows, columns=list(STORE_COLUMNS), dtype=object)


def contract_problems(records: pd.DataFrame, keep: list[Labeled]) -> list[Problem]:
    """The data contract on the new store rows, named by the labeled file's rows: the batch's mail
    must carry what training needs (an ISO `received_at` with offset, a known channel)."""
    problems = contract.find_problems(records.reset_index(drop=True))
    return [
        Problem(keep[p.row - 1].row if p.row else None, p.field, p.message + " (in the batch's mail)")
        for p in problems
    ]


def append_to_store(store: Path, records: pd.DataFrame) -> int:
    """The store with `records` appended, written atomically; returns its row count."""
    old = read_store(store)
    missing = [c for c in STORE_COLUMNS if c not in old]
    if missing:
        raise InquiryDataError(store, [Problem(None, c, "missing column in the store") for c in missing])
    combined = pd.concat([old, records], ignore_index=True)
    store.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(
        store, combined.to_csv(index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).encode("utf-8")
    )
    return len(combined)


def dvc_root(path: Path) -> Path | None:
    """The DVC repository holding `path` (a folder with `.dvc/` above it), or None."""
    for folder in (path.resolve().parent, *path.resolve().parent.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


def dvc_add(store: Path, root: Path) -> str:
    """`dvc add` the store in its repository; returns the .dvc file to commit."""
    relative = store.resolve().relative_to(root)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "dvc", "add", str(relative)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise OSError(f"dvc add {relative} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return f"{relative}.dvc"


@dataclass
class ImportResult:
    added: int
    skipped_unlabeled: int
    store_rows: int
    dvc_file: str | None


def import_labels(
    label_file: Path,
    batch_path: Path,
    by: str,
    store: Path,
    source: str | None = None,
    partial: bool = False,
    batch_format: str | None = None,
    encoding: str = "auto",
    recursive: bool = False,
    track: bool = True,
    now: datetime | None = None,
) -> ImportResult:
    """Validate a labeled file against its batch and the store; append it with provenance and `dvc add`
    the store inside a DVC repository. Any problem raises InquiryDataError and writes nothing."""
    if not by.strip():
        raise InquiryDataError(label_file, [Problem(None, "labeled_by", "empty name (--by)")])
    labeled = read_labeled(label_file, encoding)
    batch = read_batch(batch_path, batch_format, encoding, recursive)
    stored = read_store(store)
    problems, keep = find_label_problems(
        labeled, batch, set(stored["id"].tolist()) if "id" in stored else set(), partial
    )
    provenance = {
        "source": source or f"shop:{batch_path.stem}",
        "labeled_by": by.strip(),
        "labeled_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "batch": batch_path.as_posix(),
        "batch_sha256": sha256_of(batch_path),
        "label_file": label_file.name,
        "label_file_sha256": sha256_of(label_file),
    }
    records = store_records(keep, batch, provenance)
    problems += contract_problems(records, keep)
    if not keep and not problems:
        problems.append(Problem(None, "file", "no labeled rows"))
    if problems:
        raise InquiryDataError(label_file, sorted(problems, key=lambda p: (p.row or 0, p.field)))
    rows = append_to_store(store, records)
    root = dvc_root(store) if track else None
    dvc_file = dvc_add(store, root) if root is not None else None
    return ImportResult(len(records), len(labeled) - len(keep), rows, dvc_file)
