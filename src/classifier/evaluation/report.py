"""Rendering of the evaluation: plot data for `dvc plots`, confusion-matrix images, the evaluation
report and the model card (Markdown). Receives computed results; computes no metric itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI machines
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from classifier.evaluation.behaviour import TARGETS
from classifier.io.contract import LABEL_COLUMNS, TOPICS, URGENCIES

LABELS = {"topic": list(TOPICS), "urgency": list(URGENCIES)}
HEADLINE = ("topic_macro_f1", "urgency_macro_f1", "high_urgency_recall", "topic_accuracy", "urgency_accuracy")
VIEWS = ("topic_macro_f1", "urgency_macro_f1", "high_urgency_recall", "high_predicted_low")


def confusion(truth: pd.Series, predicted: pd.Series, labels: list[str]) -> pd.DataFrame:
    return pd.crosstab(
        pd.Categorical(truth, labels),
        pd.Categorical(predicted, labels),
        rownames=["actual"],
        colnames=["predicted"],
        dropna=False,
    )


def confusion_figure(matrix: pd.DataFrame, title: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(matrix.to_numpy(), cmap="Blues")
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(matrix.index)), matrix.index)
    dark = matrix.to_numpy().max() / 2
    for (i, j), value in np.ndenumerate(matrix.to_numpy()):
        ax.text(
            j, i, str(value), ha="center", va="center", fontsize=9, color="white" if value > dark else "black"
        )
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = [
        "| " + " | ".join(str(v).replace("|", "/") for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])


def per_class_table(report: dict[str, dict[str, float]], labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "class": label,
                "precision": round(report[label]["precision"], 3),
                "recall": round(report[label]["recall"], 3),
                "f1": round(report[label]["f1-score"], 3),
                "support": int(report[label]["support"]),
            }
            for label in labels
        ]
    )


def evaluation_markdown(
    test: pd.DataFrame, result: dict[str, Any], metadata: dict[str, Any], matrices: dict[str, pd.DataFrame]
) -> str:
    model_m, base_m = result["metrics"]["model"], result["metrics"]["baseline"]
    comparison = pd.DataFrame(
        [{"metric": m, "model": model_m[m], "keyword rules": base_m[m]} for m in HEADLINE]
    )
    coverage = result["coverage"]
    coverage = coverage[coverage["threshold"].isin([0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])]
    parts = [
        "# Evaluation on the frozen test split",
        f"{len(test)} inquiries from `data/test.csv`, never used for training or tuning. Model selected by "
        f"cross-validation: `{metadata['params']['estimator']}` C={metadata['params']['C']}, features "
        f"{'+'.join(metadata['params']['features'])}.",
        "## Model vs keyword rules",
        markdown_table(comparison),
        f"Calibration (expected calibration error of the top label): topic {model_m['topic_ece']}, "
        f"urgency {model_m['urgency_ece']}; log loss: topic {model_m['topic_log_loss']}, "
        f"urgency {model_m['urgency_log_loss']}.",
    ]
    parts += views_markdown(result)
    for name in LABEL_COLUMNS:
        parts += [
            f"## {name}: per class",
            markdown_table(per_class_table(result["per_class"][name], LABELS[name])),
            "Confusion matrix (rows actual, columns predicted):",
            markdown_table(matrices[name].reset_index().rename(columns={"actual": "actual \\ predicted"})),
        ]
    routing = metadata["routing"]
    parts += [
        "## Review routing",
        "Threshold on the joint confidence, chosen on out-of-fold validation predictions for a target "
        f"accuracy of {routing['target_accuracy']}: {routing['auto_confidence']} (validation coverage "
        f"{routing['validation_coverage']}). A mail not predicted high with "
        f"P(high) >= {routing['high_guard']} always goes to review.",
        f"On the test split: **{model_m['auto_coverage']:.1%}** of mail is triaged automatically "
        "with accuracy "
        f"(both labels right) **{model_m['auto_accuracy']:.1%}**; high-urgency mail silently demoted: "
        f"{model_m['high_silently_demoted']}.",
        "Coverage vs accuracy of the automatic part by threshold:",
        markdown_table(coverage.round(3)),
        "## The 20 most confident errors (text redacted)",
        markdown_table(result["errors"]),
    ]
    return "\n\n".join(parts) + "\n"


VIEW_COLUMNS = {
    "frozen test split": "model",
    "writer-grouped CV (training)": "writer_grouped_cv",
    "robustness set (other writers)": "robustness",
    "shop held-out mail": "shop_holdout",  # only with the shop's labeled store: the champion gate's test
}

LEARNING_CURVE = Path("benchmarks/results/learning_curve.json")  # written by benchmarks/learning_curve.py


def strategy_verdict(strategy: str, data: dict[str, Any]) -> str:
    """Whether one strategy of the learning curve meets the two targets, in words."""
    reached = "reaches" if data["reaches_halfway_at_200"][strategy] else "does not reach"
    beaten = [size for size, above in data["beats_random"][strategy].items() if not above]
    versus = "above random at every size" if not beaten else f"not above random at {', '.join(beaten)} labels"
    return f"`{strategy}` {reached} it at 200 labels and is {versus}"


def learning_curve_markdown(results: Path, figures: Path) -> list[str]:
    """The shop learning-curve experiment's table and plot, when its results file exists."""
    if not results.is_file():
        return []
    data = json.loads(results.read_text(encoding="utf-8"))
    plot = results.with_suffix(".png")
    parts = [
        "## Learning curve of a shop's own labels",
        f"Shop: {data['shop']} ({data['shop_test_rows']} held-out mails as its test, labels drawn "
        f"from the other {data['pool_rows']}); base model: {data['corpus_rows']} corpus rows of the writers "
        f"{data['base_sources']}; {data['config']}, shop weight {data['shop_weight']}; each strategy "
        f"averaged over {data['seeds']} seeded runs (`benchmarks/learning_curve.py`). In-distribution "
        "(the frozen split's mails of the base writers): "
        + ", ".join(f"{k} {v:.3f}" for k, v in data["in_distribution"].items())
        + f". Halfway target for topic macro-F1: {data['halfway_target_topic_macro_f1']:.3f}. "
        + "; ".join(strategy_verdict(name, data) for name in data["reaches_halfway_at_200"])
        + ".",
        markdown_table(pd.DataFrame(data["rows"])),
    ]
    if plot.is_file():
        shutil.copyfile(plot, figures / "learning_curve.png")
        parts.append("![learning curve](figures/learning_curve.png)")
    return parts


def views_markdown(result: dict[str, Any]) -> list[str]:
    """The frozen split beside the writer-grouped CV and the robustness set, and the behaviour suite."""
    metrics = result["metrics"]
    shown = {title: metrics[key] for title, key in VIEW_COLUMNS.items() if key in metrics}
    table = pd.DataFrame(
        [{"metric": m, **{t: v.get(m, float("nan")) for t, v in shown.items()}} for m in VIEWS]
    )
    parts = [
        "## Three views: frozen split, writer-grouped CV, robustness set",
        "The frozen split is drawn from the training writers: it measures how well the model knows them. The "
        "writer-grouped cross-validation holds out whole writers (training data only, augmented "
        "training folds); "
        "the robustness set was written by other people to another brief (real-customer register: fragments, "
        "typos, kana, emoji, dialect, sarcasm, reviews, long mails) and is never trained on. Expect the last "
        "column on a shop's real mail.",
        markdown_table(table),
    ]
    if "robustness_per_class" in result:
        parts += [
            "Robustness set per class (F1):",
            markdown_table(
                pd.DataFrame(
                    [
                        {
                            "head": name,
                            **{
                                c: round(result["robustness_per_class"][name][c]["f1-score"], 3)
                                for c in LABELS[name]
                            },
                        }
                        for name in LABEL_COLUMNS
                    ]
                )
                .astype(object)
                .fillna("")
            ),
        ]
    if "behaviour" in metrics:
        rows = [
            {"test": test, "pass rate": v["pass_rate"], "cases": v["cases"], "target": behaviour_target(test)}
            for test, v in metrics["behaviour"].items()
        ]
        parts += [
            "## Behaviour suite of the labeling rules",
            "Mails of the frozen split with one sentence inserted "
            "(written apart from the training augmentation's "
            "phrases), checked against the rule (`src/classifier/behaviour.py`); `invariance` pools the four "
            "invariance tests.",
            markdown_table(pd.DataFrame(rows)),
            "A few failures of each test (text redacted):",
            markdown_table(result["behaviour_failures"]),
        ]
    return parts


def behaviour_target(test: str) -> str:
    return f">= {TARGETS[test]}" if test in TARGETS else ""


def model_card(result: dict[str, Any], metadata: dict[str, Any]) -> str:
    m = result["metrics"]["model"]
    return f"""# Model card: inquiry-triage

**What it does.** Reads a Japanese customer inquiry (subject and body) to an online shop and predicts
its topic ({", ".join(TOPICS)}) and urgency (high/red, medium/orange, low/green) under the project's
labeling spec (`docs/labeling.md`), with calibrated confidences and a review route for uncertain mail.

**Model.** Normalization and masking of personal data, MeCab (fugashi + unidic-lite) tokens, TF-IDF
over {"+".join(metadata["params"]["features"])}, `{metadata["params"]["estimator"]}` heads \
(C={metadata["params"]["C"]},
class_weight={metadata["params"]["class_weight"]}), selected by
{len(metadata["selection"])}-candidate cross-validation.

**Training data.** {metadata["training_rows"]} labeled inquiries (`{metadata["training_data"]}`,
SHA-256 {metadata["training_data_sha256"][:16]}…), written for the project under the labeling spec.

**Frozen test split** ({result["metrics"]["test_rows"]} inquiries): topic macro-F1 {m["topic_macro_f1"]},
urgency macro-F1 {m["urgency_macro_f1"]}, high-urgency recall {m["high_urgency_recall"]}; auto-triaged share
{m["auto_coverage"]} at accuracy {m["auto_accuracy"]}.

**Writer-grouped cross-validation** (whole writers held out): topic macro-F1
{metadata["cv_metrics"]["topic_macro_f1"]}, urgency macro-F1 {metadata["cv_metrics"]["urgency_macro_f1"]}.
{robustness_line(result["metrics"])}

**Intended use.** Ordering a shop's inbox and routing uncertain mail to a person. Not for deciding refunds
or replying automatically.

**Limits.** Trained on written-for-purpose inquiries, not a real shop's history: retrain on the shop's own
labeled mail before relying on it, and watch drift. Tone alone must not raise urgency; the model
learned this from augmented training copies and is checked by the behaviour suite in the evaluation \
report. Inputs longer than a few thousand characters are read whole
(quoted replies included unless the mail parser removed them).
"""


def robustness_line(metrics: dict[str, Any]) -> str:
    if "robustness" not in metrics:
        return ""
    r = metrics["robustness"]
    return (
        f"**Robustness set** ({r['rows']} inquiries by other writers in real-customer register): "
        f"topic macro-F1 {r['topic_macro_f1']}, urgency macro-F1 {r['urgency_macro_f1']}, "
        f"high-urgency recall {r['high_urgency_recall']}, "
        f"red mail predicted green {r['high_predicted_low']:.1%}."
    )


def write_all(
    reports: Path, test: pd.DataFrame, result: dict[str, Any], metadata: dict[str, Any]
) -> list[Path]:
    figures = reports / "figures"
    plots = reports / "plots"
    figures.mkdir(parents=True, exist_ok=True)
    plots.mkdir(parents=True, exist_ok=True)
    predicted = result["predicted"]
    written, matrices = [], {}
    for name in LABEL_COLUMNS:
        matrices[name] = confusion(test[name], predicted[name], LABELS[name])
        pairs = pd.DataFrame({"actual": test[name].to_numpy(), "predicted": predicted[name].to_numpy()})
        pairs.to_csv(plots / f"confusion_{name}.csv", index=False)
        per_class_table(result["per_class"][name], LABELS[name]).to_csv(
            plots / f"per_class_{name}.csv", index=False
        )
        written.append(
            confusion_figure(matrices[name], f"{name} (test split)", figures / f"confusion_{name}.png")
        )
    result["coverage"].to_csv(plots / "coverage.csv", index=False)
    markdown = evaluation_markdown(test, result, metadata, matrices)
    curve = learning_curve_markdown(LEARNING_CURVE, figures)
    if curve:
        markdown += "\n" + "\n\n".join(curve) + "\n"
    (reports / "evaluation.md").write_text(markdown, encoding="utf-8")
    (reports / "model_card.md").write_text(model_card(result, metadata), encoding="utf-8")
    return [*written, reports / "evaluation.md", reports / "model_card.md", plots / "coverage.csv"]
