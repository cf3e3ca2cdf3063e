"""Fault injection on the real command: `classifier score` run as a subprocess and interrupted by
real signals, killed with SIGKILL, its worker killed, its disk filled (a file-size limit on the
process, as a full disk fails a write), its target unwritable, and one record that really crashes
the process (MeCab dies on a text of a million characters). Each time: no partial file at the
target path, no temporary files after a clean exit, no orphan workers, a rerun gives the output of
an undisturbed run, and the other records are scored."""

import csv
import os
import resource
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml
from conftest import ROOT
from mailfactory import build_mail

from classifier.serving.score import _in_order, _Pool

CLI = [sys.executable, "-m", "classifier"]
PREVIOUS = "previous run\n"


def command(model_dir, source, output, *options, params=ROOT / "params.yaml"):
    return [
        *CLI,
        "score",
        str(source),
        "-o",
        str(output),
        "--model",
        str(model_dir),
        "--params",
        str(params),
        "--show",
        "0",
        *options,
    ]


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def big_input(tmp_path_factory, test_split):
    """Enough records for a run of several seconds with two workers."""
    folder = tmp_path_factory.mktemp("big")
    frame = pd.concat([test_split] * 20, ignore_index=True)
    frame["id"] = [f"b{n}" for n in range(len(frame))]
    frame.to_csv(folder / "inbox.csv", index=False)
    return folder / "inbox.csv"


@pytest.fixture(scope="module")
def reference(model_dir, big_input, tmp_path_factory):
    """The output of an undisturbed run, which every rerun after a fault must reproduce byte for byte."""
    output = tmp_path_factory.mktemp("reference") / "queue.csv"
    result = run(command(model_dir, big_input, output, "--jobs", "2", "--chunk-size", "200"))
    assert result.returncode == 0, result.stdout + result.stderr
    return output.read_bytes()


def start(model_dir, big_input, output, chunk_size=200):
    """The run in the background, returned once its workers have spooled a first part (mid-run)."""
    process = subprocess.Popen(
        command(model_dir, big_input, output, "--jobs", "2", "--chunk-size", str(chunk_size)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(output.parent.glob(".scoring-*/part-*.pkl")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never started scoring"
        time.sleep(0.05)
    return process


def workers_of(process):
    return psutil.Process(process.pid).children(recursive=True)


def assert_gone(processes, timeout=10):
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], "orphan workers left running"


@pytest.mark.parametrize(
    ("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_an_interrupt_leaves_the_previous_output_and_no_temporary_files(
    model_dir, big_input, reference, tmp_path, sent, code
):
    output = tmp_path / "queue.csv"
    output.write_text(PREVIOUS)
    process = start(model_dir, big_input, output)
    workers = workers_of(process)
    assert len(workers) >= 2
    process.send_signal(sent)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stdout + stderr
    assert "interrupted" in stderr and "Traceback" not in stdout + stderr
    assert output.read_text() == PREVIOUS  # not a partial queue
    assert [p.name for p in tmp_path.iterdir()] == ["queue.csv"]  # temporary folder removed
    assert_gone(workers)
    rerun = run(command(model_dir, big_input, output, "--jobs", "2", "--chunk-size", "200"))
    assert rerun.returncode == 0 and output.read_bytes() == reference


def test_kill_9_of_the_parent_leaves_no_partial_output_and_no_orphan_workers(
    model_dir, big_input, reference, tmp_path
):
    output = tmp_path / "queue.csv"
    process = start(model_dir, big_input, output)
    workers = workers_of(process)
    process.kill()
    process.communicate(timeout=60)
    assert_gone(workers)  # the parent-death signal took them down
    assert not output.exists()
    stale = list(tmp_path.glob(".scoring-*"))
    assert stale  # what kill -9 leaves: nothing runs on SIGKILL
    rerun = run(command(model_dir, big_input, output, "--jobs", "2", "--chunk-size", "200"))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert output.read_bytes() == reference  # the stale folder does not disturb the rerun
    assert [p.name for p in tmp_path.iterdir()] == ["queue.csv"]  # and is removed by it: its process is gone


def test_a_killed_worker_is_replaced_and_its_chunk_still_scored(model_dir, big_input, reference, tmp_path):
    output = tmp_path / "queue.csv"
    process = start(model_dir, big_input, output, chunk_size=50)  # the chunk is redone a record per process
    os.kill(workers_of(process)[0].pid, signal.SIGKILL)  # as the OOM killer would
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stdout + stderr
    assert output.read_bytes() == reference  # every record scored, none with an error


def _kill_own_process() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_pool_broken_before_a_call_is_sent_gives_every_call_its_result_in_order():
    """The race behind the test above: the executor can notice a worker's death before the result
    awaited fails, and then refuses new calls. They go to the pool that replaces it (only the call
    awaited when the death is found runs through `recover`)."""
    pool = _Pool(None, 2, "fork")  # these calls do not score: no scorer
    try:
        with pytest.raises(BrokenProcessPool):
            pool.submit(_kill_own_process).result(timeout=60)
        recovered = []

        def recover(base: int, exponent: int) -> int:
            recovered.append(base)
            return base**exponent

        results = list(_in_order(pool, pow, [(n, 2) for n in range(10)], 2, recover))
        assert results == [n * n for n in range(10)]
        assert recovered == [0]
    finally:
        pool.close()


def test_a_full_disk_fails_cleanly_with_exit_2(model_dir, big_input, tmp_path):
    output = tmp_path / "queue.csv"
    output.write_text(PREVIOUS)

    def small_disk():  # writes past 300 kB fail with EFBIG, as on a full disk with ENOSPC
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    result = run(
        command(model_dir, big_input, output, "--jobs", "2", "--chunk-size", "200"), preexec_fn=small_disk
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "error:" in result.stderr and "File too large" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert output.read_text() == PREVIOUS and [p.name for p in tmp_path.iterdir()] == ["queue.csv"]


def unwritable_folders(tmp_path):
    """Folders this process cannot create files in: /proc refuses even root; a folder without write
    permission only refuses others."""
    folders = [Path("/proc")]
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        folders.append(locked)
    return folders


def test_an_unwritable_or_missing_folder_is_refused_with_exit_2(model_dir, tmp_path):
    inbox = tmp_path / "inbox.csv"
    inbox.write_text("id,body\nr1,返品したいです\n", encoding="utf-8")
    for folder in unwritable_folders(tmp_path):
        result = run(command(model_dir, inbox, folder / "queue.csv"))
        assert result.returncode == 2 and f"cannot write to the folder {folder}" in result.stderr, (
            result.stdout + result.stderr
        )
    missing = run(command(model_dir, inbox, tmp_path / "nowhere" / "queue.csv"))
    assert missing.returncode == 2 and "the folder" in missing.stderr and "does not exist" in missing.stderr
    assert "Traceback" not in result.stdout + result.stderr + missing.stdout + missing.stderr


def test_two_runs_to_one_output_leave_one_whole_output(model_dir, tmp_path, test_split):
    # Last writer wins by atomic rename: the file is one run's output, never a mix of both.
    outputs = {}
    for name, rows in (("a", test_split.head(300)), ("b", test_split.tail(300))):
        rows.to_csv(tmp_path / f"{name}.csv", index=False)
        alone = tmp_path / f"{name}-alone.csv"
        assert run(command(model_dir, tmp_path / f"{name}.csv", alone)).returncode == 0
        outputs[name] = alone.read_bytes()
    shared = tmp_path / "shared" / "queue.csv"
    shared.parent.mkdir()
    runs = [
        subprocess.Popen(
            command(model_dir, tmp_path / f"{name}.csv", shared, "--chunk-size", "20"),
            stdout=subprocess.DEVNULL,
        )
        for name in "ab"
    ]
    assert [process.wait(timeout=120) for process in runs] == [0, 0]
    assert shared.read_bytes() in outputs.values()
    assert [p.name for p in shared.parent.iterdir()] == ["queue.csv"]


def test_a_record_that_crashes_the_process_is_the_only_one_with_an_error(model_dir, tmp_path):
    # With the text limit lifted, MeCab really segfaults on this body: the worker dies, and
    # record by record in fresh processes only the guilty record fails.
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["limits"]["max_text_chars"] = 5_000_000
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    rows = [
        {
            "id": f"r{n}",
            "received_at": "2026-11-18T10:00:00+09:00",
            "body": f"注文した商品がまだ届きません。{n}",
        }
        for n in range(1, 8)
    ]
    rows[3]["body"] = "あいうえお返品したい" * 150_000
    pd.DataFrame(rows).to_csv(tmp_path / "inbox.csv", index=False)
    output = tmp_path / "queue.csv"
    result = run(
        command(
            model_dir,
            tmp_path / "inbox.csv",
            output,
            "--jobs",
            "2",
            "--chunk-size",
            "3",
            params=tmp_path / "params.yaml",
        )
    )
    assert result.returncode == 0, result.stdout + result.stderr
    queue = pd.read_csv(output, dtype=str, keep_default_na=False).set_index("id")
    assert len(queue) == 7
    assert (
        queue.loc["r4", "error"]
        == "row 4: the scoring process died on this record (signal SIGSEGV); not scored"
    )
    others = queue.drop(index="r4")
    assert (others["error"] == "").all() and (others["topic"] != "").all()


def test_one_bad_record_of_each_kind_is_one_error_row_and_the_rest_is_scored(model_dir, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = build_mail(subject="配送", body="注文したマグカップがまだ届きません。", message_id="good@x")
    (inbox / "good.eml").write_bytes(good)
    nested = "".join(f'Content-Type: multipart/mixed; boundary="b{n}"\n\n--b{n}\n' for n in range(2000))
    closing = "".join(f"--b{n}--\n" for n in reversed(range(2000)))
    (inbox / "deep.eml").write_text(
        f"Message-ID: <deep@x>\n{nested}Content-Type: text/plain\n\n本文\n{closing}"
    )
    (inbox / "huge.eml").write_bytes(
        b"Message-ID: <huge@x>\n\n" + "返品したい。\n".encode() * 1_100_000
    )  # 20 MB
    (inbox / os.fsdecode(b"bad-\xff.eml")).write_bytes(good.replace(b"good@x", b"name@x"))
    result = run(command(model_dir, inbox, tmp_path / "queue.csv", "--jobs", "2", "--chunk-size", "2"))
    assert result.returncode == 0, result.stdout + result.stderr
    queue = pd.read_csv(tmp_path / "queue.csv", dtype=str, keep_default_na=False).set_index("id")
    assert sorted(queue.index) == sorted(
        [str(inbox / "deep.eml"), str(inbox / "huge.eml"), "good@x", "name@x"]
    )
    assert (
        queue.loc[str(inbox / "deep.eml"), "error"]
        == "MIME parts nested deeper than 50 levels (params.yaml limits.max_mime_depth): not read"
    )
    assert queue.loc[str(inbox / "huge.eml"), "error"].startswith("mail of 20,")
    assert "limits.max_mail_bytes" in queue.loc[str(inbox / "huge.eml"), "error"]
    assert queue.loc["good@x", "topic"] == queue.loc["name@x", "topic"] == "non_delivery"
    without_id = (inbox / os.fsdecode(b"bad-\xff.eml")).read_bytes().replace(b"Message-ID: <name@x>\r\n", b"")
    (inbox / os.fsdecode(b"bad-\xff.eml")).write_bytes(without_id)
    again = run(command(model_dir, inbox, tmp_path / "again.jsonl"))
    ids = pd.read_json(tmp_path / "again.jsonl", lines=True, dtype=False)["id"].tolist()
    assert again.returncode == 0 and str(inbox / "bad-\\xff.eml") in ids  # the name's bytes, shown escaped


def test_a_csv_field_over_the_default_limit_is_one_error_row(model_dir, tmp_path):
    path = tmp_path / "inbox.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerows([["id", "body"], ["r1", "あ" * 140_000], ["r2", "注文した商品がまだ届きません。"]])
    result = run(command(model_dir, path, tmp_path / "queue.csv"))
    assert result.returncode == 0, result.stdout + result.stderr
    queue = pd.read_csv(tmp_path / "queue.csv", dtype=str, keep_default_na=False).set_index("id")
    assert queue.loc["r1", "error"] == (
        "row 1, field 'body': 140,000 characters, over the limit of 100,000 "
        "(params.yaml limits.max_text_chars): not scored"
    )
    assert queue.loc["r1", "text_length"] == "140000" and queue.loc["r2", "topic"] == "non_delivery"
