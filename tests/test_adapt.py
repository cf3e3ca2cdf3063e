"""Retraining that adapts (issue 15 item 3): the shop's labeled store joins training with a weight
chosen by cross-validation, its frozen held-out slice is never trained on and is the champion gate's
test; an absent or empty store leaves the model byte for byte as it was."""

import copy
import json

import pytest
from conftest import ROOT, as_yaml, sample

from classifier import model
from classifier.config import Config
from classifier.evaluation.metrics import compute_metrics
from classifier.io import contract
from classifier.io.labels import STORE_COLUMNS
from classifier.model import tracking
from classifier.stages import evaluate, register, train
from classifier.training import shop


@pytest.fixture(scope="module")
def tiny(params, corpus, tmp_path_factory):
    """A fast configuration: 600 corpus rows, 3 folds, one estimator, two shop weights, no augmentation."""
    folder = tmp_path_factory.mktemp("adapt")
    tiny = as_yaml(params)
    tiny["data"]["train"] = str(folder / "train.csv")
    tiny["data"]["test"] = str(folder / "test.csv")
    tiny["augment"] = dict.fromkeys(tiny["augment"], 0.0)
    tiny["model"]["n_jobs"] = 1
    tiny["selection"] = {
        "folds": 3,
        "group_by": "source",
        "shop_weight": [1.0, 10.0],
        "grid": {"estimator": ["logreg"], "C": [10.0]},
    }
    sample(corpus, 600).to_csv(tiny["data"]["train"], index=False)
    year_end = contract.load_inquiries(ROOT / "data" / "drift" / "yearend.csv")
    sample(year_end, 60, seed=1).to_csv(tiny["data"]["test"], index=False)
    store = sample(year_end, 150, seed=2).assign(source="shop:yearend", labeled_by="staff")
    store = store.reindex(columns=list(STORE_COLUMNS), fill_value="")
    store.to_csv(folder / "labels.csv", index=False)
    (folder / "empty.csv").write_text(",".join(STORE_COLUMNS) + "\n", encoding="utf-8")
    return {"folder": folder, "params": tiny, "store": store}


def configured(raw: dict) -> Config:
    """The typed configuration of a params.yaml mapping, paths relative to the project."""
    return Config.model_validate({**raw, "root": ROOT})


def trained(tiny, store, name, monkeypatch):
    run_params = copy.deepcopy(tiny["params"])
    if store is None:
        run_params["data"]["shop"] = None
    else:
        run_params["data"]["shop"] = str(store)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tiny['folder'] / 'mlflow.db'}")
    out = tiny["folder"] / name
    metadata = train.main(configured(run_params), run_params["data"]["train"], out)
    return run_params, out, metadata


def test_held_out_slice_is_frozen_per_id_and_about_the_share(tiny):
    store = tiny["store"]
    _, held = shop.split(store, 0.3, 42)
    assert 0.15 < len(held) / len(store) < 0.45
    grown = store.iloc[::-1].head(100)  # fewer rows, other order: the same ids stay held out
    _, held_again = shop.split(grown, 0.3, 42)
    assert set(held_again["id"]) == set(held["id"]) & set(grown["id"])


def test_absent_or_empty_store_leaves_the_model_byte_identical(tiny, monkeypatch):
    _, _, without = trained(tiny, None, "no_store", monkeypatch)
    _, _, missing = trained(tiny, tiny["folder"] / "missing.csv", "missing_store", monkeypatch)
    _, _, empty = trained(tiny, tiny["folder"] / "empty.csv", "empty_store", monkeypatch)
    assert without["model_sha256"] == missing["model_sha256"] == empty["model_sha256"]
    assert "shop" not in without and "shop" not in empty


def test_shop_rows_change_the_model_and_the_held_out_slice_is_never_trained_on(tiny, monkeypatch):
    _, _, without = trained(tiny, None, "corpus_only", monkeypatch)
    run_params, _, adapted = trained(tiny, tiny["folder"] / "labels.csv", "adapted", monkeypatch)
    assert adapted["model_sha256"] != without["model_sha256"]
    assert adapted["params"]["shop_weight"] in (1.0, 10.0)
    assert adapted["training_rows"] == without["training_rows"]  # the corpus part
    used, held = set(adapted["shop"]["training_ids"]), set(adapted["shop"]["holdout_ids"])
    assert used and held and not used & held
    assert used | held == set(tiny["store"]["id"])
    assert held == set(shop.holdout_of(configured(run_params), sorted(used))["id"])
    # A held-out mail the model was trained on (the share changed since) is refused, not reported.
    changed = {**run_params, "data": {**run_params["data"], "shop_holdout": 0.6}}
    with pytest.raises(contract.InquiryDataError, match="held-out mails were trained on"):
        shop.holdout_of(configured(changed), sorted(used))


def test_gate_compares_both_models_on_the_shop_held_out_mail(tiny, monkeypatch):
    """The corpus-only model becomes champion; the adapted one is gated on the shop's held-out mail,
    with the champion scored now on the same mail."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tiny['folder'] / 'gate.db'}")
    run_params = copy.deepcopy(tiny["params"])
    run_params["data"]["shop"] = str(tiny["folder"] / "labels.csv")
    run_params["registry"] = {**run_params["registry"], "model_name": "adapt-gate"}
    first = tiny["folder"] / "gate_corpus"
    corpus_params = copy.deepcopy(run_params)
    corpus_params["data"]["shop"] = str(tiny["folder"] / "missing.csv")
    train.main(configured(corpus_params), run_params["data"]["train"], first)
    evaluate.main(
        first, run_params["data"]["test"], tiny["folder"] / "reports_corpus", None, configured(corpus_params)
    )
    assert register.main(configured(corpus_params), first, tiny["folder"] / "reports_corpus")[
        "promoted"
    ]  # no champion yet

    second = tiny["folder"] / "gate_adapted"
    train.main(configured(run_params), run_params["data"]["train"], second)
    metrics = evaluate.main(
        second, run_params["data"]["test"], tiny["folder"] / "reports_adapted", None, configured(run_params)
    )
    holdout = shop.holdout_of(configured(run_params))
    assert metrics["shop_holdout"]["rows"] == len(holdout)
    outcome = register.main(configured(run_params), second, tiny["folder"] / "reports_adapted")
    champion = compute_metrics(holdout, model.predict(model.load(first)[0], holdout))
    gate_metrics = run_params["registry"]["gate"]["metrics"]
    expected = all(metrics["shop_holdout"][m] >= champion[m] for m in gate_metrics)
    assert outcome["reason"].startswith("shop held-out:")
    assert outcome["promoted"] is expected
    run = tracking.training_run(model.read_metadata(second)["model_sha256"])
    assert "shop_holdout_topic_macro_f1" in run.data.metrics and "cv_shop_topic_macro_f1" in run.data.metrics
    assert "test_topic_macro_f1" in run.data.metrics  # the frozen corpus split beside it


def test_report_includes_the_learning_curve_when_its_results_exist(tmp_path):
    from classifier.evaluation.report import learning_curve_markdown

    assert learning_curve_markdown(tmp_path / "absent.json", tmp_path) == []
    results = tmp_path / "learning_curve.json"
    rows = [{"strategy": "suggest", "labels": 200, "runs": 1, "topic_macro_f1": 0.9}]
    results.write_text(
        json.dumps(
            {
                "shop": "data/drift/yearend.csv",
                "base_sources": "all",
                "shop_test_rows": 500,
                "pool_rows": 1300,
                "config": "logreg",
                "corpus_rows": 4000,
                "shop_weight": 3.0,
                "seeds": 2,
                "in_distribution": {"topic_macro_f1": 0.95},
                "halfway_target_topic_macro_f1": 0.9,
                "reaches_halfway_at_200": {"suggest": True, "suggest, rounds of 50": False},
                "beats_random": {
                    "suggest": {"100": True, "200": True},
                    "suggest, rounds of 50": {"100": False, "200": True},
                },
                "rows": rows,
            }
        )
    )
    results.with_suffix(".png").write_bytes(b"\x89PNG")
    (tmp_path / "figures").mkdir()
    text = "\n".join(learning_curve_markdown(results, tmp_path / "figures"))
    assert "| suggest" in text and "0.950" in text and "figures/learning_curve.png" in text
    assert "`suggest` reaches it at 200 labels and is above random at every size" in text
    rounds = "`suggest, rounds of 50` does not reach it at 200 labels and is not above random at 100 labels"
    assert rounds in text


def test_adapt_notebook_walks_the_loop(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / "notebooks" / "adapt.ipynb", as_version=4)
    assert all(
        cell.get("outputs", []) == [] for cell in notebook.cells if cell.cell_type == "code"
    )  # stored clean
    notebook.cells.insert(0, nbformat.v4.new_code_cell(f"WORK = {str(tmp_path)!r}\nROOT = {str(ROOT)!r}"))
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {})) for o in outputs)
    assert "DRIFT FOUND" in text and "labels imported" in text
    assert "PROMOTED" in text or "KEPT the champion" in text
    assert "shop held-out:" in text
