"""Why the behaviour suite's invariance cases flip: for each failed tone, politeness or negation case
of the frozen split's suite, each head's answer on the unperturbed mail, on the perturbed mail, and on
the perturbed mail's feature vector cut to the n-grams the unperturbed mail has. When the cut vector
keeps the unperturbed answer, the added sentence's own n-grams moved it; when it does not, the
reweighting of the mail's own n-grams did. An analysis of the shipped model, not a tuning step.

    python scripts/invariance_flips.py --model models

Prints one line per failed case (labels and probabilities only, no text) and the counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from classifier import model
from classifier.config import load_config
from classifier.evaluation.behaviour import run_suite
from classifier.io import contract

ROOT = Path(__file__).resolve().parents[1]
TESTS = ("tone_invariance", "politeness_invariance", "negation_invariance")
COLUMNS = ["subject", "body", "received_at"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models")
    args = parser.parse_args()
    pipeline, _ = model.load(args.model)
    test = contract.load_inquiries(ROOT / load_config(ROOT / "params.yaml").data.test).reset_index(drop=True)
    results = run_suite(pipeline, test)
    failed = results[results["test"].isin(TESTS) & ~results["passed"].astype(bool)]
    vectorize, heads = pipeline[:-1], pipeline[-1]
    own_words = base_wrong = 0
    for case in failed.itertuples(index=False):
        row = int(case.base)
        before = vectorize.transform(test.loc[[row], COLUMNS]).toarray()
        after = vectorize.transform(pd.DataFrame([{c: getattr(case, c) for c in COLUMNS}])).toarray()
        cut = np.where(before != 0, after, 0)
        answers = []
        for name, head in zip(("topic", "urgency"), heads.estimators_):
            labels = [head.classes_[head.predict_proba(x).argmax()] for x in (before, after, cut)]
            if labels[0] != labels[1]:
                answers.append(labels)
                own_words += labels[2] == labels[0]
                base_wrong += labels[0] != test.loc[row, name]
                print(f"{case.test:22} {name:8} truth {test.loc[row, name]:13} {' -> '.join(labels)}")
    print(
        f"{len(failed)} failed cases; of the flipped heads, {own_words} keep the unperturbed answer on the "
        f"cut vector (the added words moved it), {base_wrong} were wrong before the sentence was added"
    )


if __name__ == "__main__":
    main()
