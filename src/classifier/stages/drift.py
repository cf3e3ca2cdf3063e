"""Drift stage: score each labeled batch of params.yaml with the model and check it against the
reference profile written at training; one JSON report and one scored CSV per batch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from classifier.config import stage_arguments
from classifier.io.inputs import read_chunks
from classifier.monitoring.drift import compare, load_reference, performance_line
from classifier.serving.score import Scorer, run_batch


def main() -> None:
    """The drift stage: score each labeled batch of params.yaml and check it against the model."""
    args, params = stage_arguments(main.__doc__, model=Path("models"), out=Path("reports/drift"))
    args.out.mkdir(parents=True, exist_ok=True)
    scorer = Scorer.load(args.model, drift_columns=True, limits=params.limits, scoring=params.scoring)
    profile, sample = load_reference(args.model)
    for name, path in params.drift.batches.items():
        scored = args.out / f"{name}.csv"
        # Read back at once by `compare`: a machine's file, so text is written verbatim (no CSV escaping).
        chunks = read_chunks(params.path(path), size=params.scoring.chunk_size, limits=params.limits)
        run_batch(scorer, chunks, scored, params.sla, progress=False, csv_escape=False)
        report = compare(
            profile, sample, pd.read_csv(scored, dtype=str, keep_default_na=False), params.drift, params.seed
        )
        (args.out / f"{name}.json").write_text(report.to_json() + "\n", encoding="utf-8")
        failing = ", ".join(c.name for c in report.checks if c.drift) or "none"
        print(
            f"{name}: {'DRIFT' if report.drift else 'no drift'} "
            f"({report.rows} mails; failing checks: {failing})"
        )
        for head, entry in report.performance.items():
            print(f"  {performance_line(head, entry)}")


if __name__ == "__main__":
    main()
