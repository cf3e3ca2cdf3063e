"""Benchmark suite: the cost of the scoring path against the MeCab floor, measured in one run on the
same texts, plus training time, memory, model size, cold start and peer tokenizers.

    python benchmarks/run.py                 # 200k records, 100k training, 1M for memory: ~20 min on 2 cores
    python benchmarks/run.py --n 2000 --quick

Prints one table and writes benchmarks/results.json. Figures are ratios measured side by side: the
machines are shared and noisy, absolute numbers move from run to run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

from mailfactory import build_mail  # noqa: E402
from volume import volume_corpus  # noqa: E402  (beside this script)

from classifier import model  # noqa: E402
from classifier.config import load_config  # noqa: E402
from classifier.io.mail import parse_message  # noqa: E402
from classifier.model.baseline import KeywordBaseline  # noqa: E402
from classifier.text import mask, normalize  # noqa: E402
from classifier.text.tagging import _tagger  # noqa: E402

JST = timezone(timedelta(hours=9))
NAMES = ("山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤")


# --- measurements ----------------------------------------------------------------------------


def mail_charset(text: str) -> str:
    """ISO-2022-JP as most Japanese mail, UTF-8 where it cannot carry the text (emoji)."""
    try:
        text.encode("cp932")
        return "iso-2022-jp"
    except UnicodeEncodeError:
        return "utf-8-base64"


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds else float("inf")


FLOOR_STEP = "MeCab parse alone (the floor)"


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def floor(texts: list[str]) -> float:
    """MeCab alone: the fastest way fugashi gives the fields the model needs (one formatted parse)."""
    tagger = _tagger()
    _, seconds = timed(lambda: [tagger.parse(t) for t in texts])
    return rate(len(texts), seconds)


def process_tree(root: int) -> list[int]:
    """The process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        children.setdefault(parent, []).append(int(stat.parent.name))
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, []))
    return tree


def memory_kib(pid: int) -> int:
    """Proportional set size: pages shared between processes (a model shared by forked workers)
    are split between them, so the sum over a process tree is the memory it really holds."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_child(code: str) -> dict:
    """Run Python code in a fresh process that prints a JSON dict; add its wall time and the peak
    memory of its process tree, sampled every 0.2 s. (The child's own ru_maxrss would be wrong:
    Linux carries the parent's high-water mark into a forked child, and this parent is large.)"""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=err, text=True, cwd=ROOT)
        peak = 0
        while child.poll() is None:
            peak = max(peak, sum(memory_kib(pid) for pid in process_tree(child.pid)))
            time.sleep(0.2)
        out.seek(0), err.seek(0)
        if child.returncode:
            raise RuntimeError(f"benchmark child failed ({child.returncode}):\n{err.read()[-3000:]}")
        result = json.loads(out.read().strip().splitlines()[-1])
    result.setdefault("seconds", round(time.perf_counter() - started, 2))
    result["peak_memory_mb"] = round(peak / 1024)
    return result


def score_command(source: Path, output: Path, jobs: int, model_dir: Path) -> dict:
    code = (
        "import time, sys, json\n"
        "from typer.testing import CliRunner\n"
        "from classifier.cli import app\n"
        "t = time.perf_counter()\n"
        f"r = CliRunner().invoke(app, ['score', {str(source)!r}, '-o', {str(output)!r}, '--show', '0', "
        f"'--jobs', '{jobs}', '--model', {str(model_dir)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(json.dumps({'seconds': round(time.perf_counter() - t, 2)}))\n"
    )
    return run_child(code)


def best_of_two(function, *args):
    """Result and the faster of two runs (the second runs with warm caches, as after a batch's first
    chunks)."""
    result, first = timed(function, *args)
    _, second = timed(function, *args)
    return result, min(first, second)


def step_shares(frame: pd.DataFrame, mails: list[bytes], pipeline, metadata, sla) -> dict[str, float]:
    """Seconds per step of the scoring path on the same records, in process; the first step is
    MeCab's parse of the same texts, the floor the others are compared with."""
    from classifier.io.mail import strip_quoted
    from classifier.model.explain import Explainer
    from classifier.serving.score import Scorer, _typed, compact_keys, finalize

    steps: dict[str, float] = {}
    tagger = _tagger()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.csv"
        frame.to_csv(path, index=False)
        raw = [f"{s} {strip_quoted(b)}" for s, b in zip(frame["subject"], frame["body"])]
        _, steps[FLOOR_STEP] = best_of_two(lambda: [tagger.parse(t) for t in raw])
        _, steps["read CSV"] = best_of_two(lambda: pd.read_csv(path, dtype=str, keep_default_na=False))
        _, steps["parse mail"] = best_of_two(lambda: [parse_message(m, "x") for m in mails])
        normalized, steps["normalize"] = best_of_two(lambda: [normalize(t) for t in raw])
        masked, steps["mask"] = best_of_two(lambda: [mask(t) for t in normalized])
        extractors = dict(pipeline.named_steps["features"].transformer_list)
        if "words" in extractors:
            _, steps["tokenize + word n-grams (MeCab + Python)"] = best_of_two(
                extractors["words"].transform, masked
            )
        if "chars" in extractors:
            _, steps["character n-grams"] = best_of_two(extractors["chars"].transform, masked)
        X, steps["vectorize (all features, incl. tokenize)"] = best_of_two(
            pipeline.named_steps["features"].transform, masked
        )
        heads = pipeline.named_steps["heads"]
        probabilities, steps["predict"] = best_of_two(heads.predict_proba, X)
        _, steps["explain"] = best_of_two(Explainer(pipeline), heads, X, probabilities)
        scorer = Scorer(pipeline, metadata, "bench")
        scored, steps["score_chunk total"] = best_of_two(scorer.score_chunk, frame)
        _, steps["queue, follow-ups, SLA"] = best_of_two(finalize, compact_keys(scored), sla)
        _, steps["write CSV"] = best_of_two(
            lambda: _typed(scored.reindex(columns=list(scorer.columns))).to_csv(
                Path(folder) / "o.csv", index=False
            )
        )
    return {k: round(v, 3) for k, v in steps.items()}


def training_time(size: int, train_csv: Path, model_dir: Path) -> dict:
    code = (
        "import time, json, pandas as pd\n"
        "from classifier import model\n"
        f"frame = pd.read_csv({str(train_csv)!r}, dtype=str, keep_default_na=False).head({size})\n"
        f"config = json.load(open({str(model_dir / 'model.json')!r}))['params']\n"
        "t = time.perf_counter(); model.fit(model.build_pipeline(config), frame); "
        "seconds = time.perf_counter() - t\n"
        "print(json.dumps({'seconds': round(seconds, 2)}))\n"
    )
    return run_child(code)


def cold_start(model_dir: Path) -> dict:
    code = (
        "import time; t = time.perf_counter()\n"
        "import json, pandas as pd\n"
        "from classifier.serving.score import Scorer\n"
        "from classifier.config import load_config\n"
        f"s = Scorer.load({str(model_dir)!r})\n"
        "s.score(pd.DataFrame([{'id': 'x', 'received_at': '2026-11-20T10:00:00+09:00', 'subject': '', "
        "'body': '注文した商品がまだ届きません。'}]), load_config().sla)\n"
        "print(json.dumps({'seconds': round(time.perf_counter() - t, 2)}))\n"
    )
    return run_child(code)


def peers(texts: list[str]) -> dict[str, float | str]:
    result: dict[str, float | str] = {}
    try:
        from janome.tokenizer import Tokenizer as Janome

        janome = Janome()
        _, seconds = timed(lambda: [list(janome.tokenize(t, wakati=True)) for t in texts])
        result["janome"] = rate(len(texts), seconds)
    except ImportError:
        result["janome"] = "not installed (pip install janome)"
    try:
        from sudachipy import dictionary

        sudachi = dictionary.Dictionary().tokenizer()
        _, seconds = timed(lambda: [[m.dictionary_form() for m in sudachi.tokenize(t)] for t in texts])
        result["sudachipy"] = rate(len(texts), seconds)
    except ImportError:
        result["sudachipy"] = "not installed (pip install sudachipy sudachidict_core)"
    frame = pd.DataFrame({"subject": [""] * len(texts), "body": texts})
    _, seconds = timed(KeywordBaseline().predict, frame)
    result["keyword rules"] = rate(len(texts), seconds)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000, help="records of the volume corpus")
    parser.add_argument("--eml", type=int, default=20_000, help="how many of them also as .eml files")
    parser.add_argument("--train-sizes", default="1000,10000,100000")
    parser.add_argument(
        "--rss-n", type=int, default=1_000_000, help="records scored (all cores) for the peak-memory figure"
    )
    parser.add_argument(
        "--quick", action="store_true", help="skip the peak-memory run and peers (smoke test)"
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models", help="the model directory to measure")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    pipeline, metadata = model.load(args.model)
    sla = load_config(ROOT / "params.yaml").sla
    results: dict = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "n": args.n,
        "started": datetime.now(JST).isoformat(timespec="seconds"),
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        work = Path(folder)
        corpus = volume_corpus(max(args.n, max(int(s) for s in args.train_sizes.split(","))))
        frame = corpus.head(args.n)
        frame.drop(columns=["topic", "urgency"]).to_csv(work / "in.csv", index=False)
        corpus.to_csv(work / "train.csv", index=False)
        texts = frame["body"].tolist()
        # The floor is taken right before and right after the 1-process run and averaged (as time per
        # record): on a shared machine the speed drifts by several percent within minutes.
        floor_before = floor(texts)
        single = score_command(work / "in.csv", work / "out1.csv", 1, args.model)
        floor_after = floor(texts)
        results["floor_runs_docs_per_s"] = [floor_before, floor_after]
        results["floor_docs_per_s"] = round(2 / (1 / floor_before + 1 / floor_after), 1)
        double = score_command(work / "in.csv", work / "out2.csv", 2, args.model)
        results["csv_single"] = {**single, "docs_per_s": rate(args.n, single["seconds"])}
        results["csv_jobs2"] = {**double, "docs_per_s": rate(args.n, double["seconds"])}
        results["ratio_single_to_floor"] = round(
            results["csv_single"]["docs_per_s"] / results["floor_docs_per_s"], 3
        )
        results["speedup_jobs2"] = round(
            results["csv_jobs2"]["docs_per_s"] / results["csv_single"]["docs_per_s"], 2
        )
        mails_dir = work / "mails"
        mails_dir.mkdir()
        mails = []
        for row in frame.head(args.eml).itertuples():
            raw = build_mail(
                subject="お問い合わせ",
                body=row.body,
                charset=mail_charset(row.body),
                message_id=f"{row.id}@bench",
                date=datetime.fromisoformat(row.received_at),
            )
            (mails_dir / f"{row.id}.eml").write_bytes(raw)
            mails.append(raw)
        eml = score_command(mails_dir, work / "out_eml.csv", 1, args.model)
        eml2 = score_command(mails_dir, work / "out_eml2.csv", 2, args.model)
        results["eml_single"] = {**eml, "docs_per_s": rate(len(mails), eml["seconds"])}
        results["eml_jobs2"] = {**eml2, "docs_per_s": rate(len(mails), eml2["seconds"])}
        sample = frame.head(min(5000, args.n)).reset_index(drop=True)
        results["steps_seconds_on"] = len(sample)
        results["steps_seconds"] = step_shares(sample, mails[: len(sample)], pipeline, metadata, sla)
        results["training"] = {
            size: training_time(int(size), work / "train.csv", args.model)
            for size in args.train_sizes.split(",")
        }
        results["model_file_mb"] = round((args.model / model.MODEL_FILE).stat().st_size / 2**20, 1)
        results["cold_start"] = cold_start(args.model)
        if not args.quick:
            big = pd.concat([frame] * (args.rss_n // len(frame) + 1), ignore_index=True).head(args.rss_n)
            big.drop(columns=["topic", "urgency"]).to_csv(work / "big.csv", index=False)
            results["scoring_memory"] = {
                "records": args.rss_n,
                "jobs": "all cores",
                **score_command(work / "big.csv", work / "big_out.csv", 0, args.model),
            }
            results["peers_docs_per_s"] = peers(texts[:20000])
    results["frozen_test_metrics"] = json.loads((ROOT / "reports" / "metrics.json").read_text())["model"]
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print_table(results)


def print_table(results: dict) -> None:
    rows = [
        (
            "MeCab floor (fugashi parse, 1 process)",
            f"{results['floor_docs_per_s']:,.0f} docs/s",
            "1.00 (before / after the 1-process run: "
            + " / ".join(f"{r:,.0f}" for r in results["floor_runs_docs_per_s"])
            + ")",
        ),
        (
            "classifier score CSV→CSV, 1 process",
            f"{results['csv_single']['docs_per_s']:,.0f} docs/s",
            f"{results['ratio_single_to_floor']:.2f}",
        ),
        (
            "classifier score CSV→CSV, --jobs 2",
            f"{results['csv_jobs2']['docs_per_s']:,.0f} docs/s",
            f"×{results['speedup_jobs2']:.2f} of 1 process",
        ),
        (
            ".eml folder, 1 process",
            f"{results['eml_single']['docs_per_s']:,.0f} docs/s",
            f"{results['eml_single']['docs_per_s'] / results['floor_docs_per_s']:.2f}",
        ),
        (".eml folder, --jobs 2", f"{results['eml_jobs2']['docs_per_s']:,.0f} docs/s", ""),
    ]
    floor_seconds = results["steps_seconds"][FLOOR_STEP]
    for step, seconds in results["steps_seconds"].items():
        rows.append(
            (
                f"  step: {step}",
                f"{seconds:.3f} s / {results['steps_seconds_on']} docs",
                f"{seconds / floor_seconds:.2f} × the floor's time",
            )
        )
    for size, figures in results["training"].items():
        rows.append(
            (
                f"training on {size} records",
                f"{figures['seconds']:.1f} s",
                f"peak memory {figures['peak_memory_mb']} MB",
            )
        )
    if "scoring_memory" in results:
        rows.append(
            (
                f"scoring {results['scoring_memory']['records']:,} records, all cores",
                f"{results['scoring_memory']['seconds']:.0f} s",
                f"peak memory {results['scoring_memory']['peak_memory_mb']} MB",
            )
        )
    rows.append(("model file", f"{results['model_file_mb']} MB", ""))
    rows.append(("cold start (load, score one mail)", f"{results['cold_start']['seconds']:.2f} s", ""))
    for peer, value in results.get("peers_docs_per_s", {}).items():
        rows.append((f"peer: {peer}", f"{value:,.0f} docs/s" if isinstance(value, float) else value, ""))
    metrics = results["frozen_test_metrics"]
    rows.append(
        (
            "frozen test: topic / urgency macro-F1",
            f"{metrics['topic_macro_f1']} / {metrics['urgency_macro_f1']}",
            "",
        )
    )
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'measure':<{width}}{'value':<28}ratio / note")
    for name, value, note in rows:
        print(f"{name:<{width}}{value:<28}{note}")


if __name__ == "__main__":
    main()
