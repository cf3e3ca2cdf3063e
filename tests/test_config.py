"""params.yaml as one typed configuration: validated once, errors that name the key, found from any
folder of the project."""

import pytest
import yaml
from conftest import ROOT, as_yaml

from classifier.config import Config, ConfigError, find_params, load_config


def write(folder, params):
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_params_validate_into_typed_sections(params):
    assert isinstance(params, Config)
    assert params.model.calibration_folds == 3 and params.scoring.explanation_terms == 5
    assert params.sla.hours == {"high": 4, "medium": 8, "low": 24}
    assert params.root == ROOT


def test_round_trip_through_yaml_gives_the_same_configuration(params, tmp_path):
    again = load_config(write(tmp_path, as_yaml(params)))
    assert again.model_dump(exclude={"root"}) == params.model_dump(exclude={"root"})


@pytest.mark.parametrize(
    ("section", "key", "value", "named"),
    [
        ("model", "C", "ten", "model.C"),
        ("model", "estimator", "random_forest", "model.estimator"),
        ("sla", "open_houre", 9, "sla.open_houre"),  # a misspelt key is refused, not ignored
        ("routing", "high_guard", 1.5, "routing.high_guard"),
        ("limits", "max_text_chars", 0, "limits.max_text_chars"),
        ("drift", "psi", -1, "drift.psi"),
    ],
)
def test_a_bad_value_or_unknown_key_fails_naming_the_key(params, tmp_path, section, key, value, named):
    raw = as_yaml(params)
    raw[section][key] = value
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, raw))
    assert named in str(error.value) and "params.yaml" in str(error.value)


def test_every_problem_is_named_at_once(params, tmp_path):
    raw = as_yaml(params)
    raw["model"]["C"] = "ten"
    raw["sla"]["close_hour"] = 99
    del raw["seed"]
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, raw))
    message = str(raised.value)
    assert "model.C" in message and "sla.close_hour" in message and "seed" in message


def test_grid_keys_must_be_model_keys_and_hours_must_make_sense(params, tmp_path):
    raw = as_yaml(params)
    raw["selection"]["grid"]["alpha"] = [1.0]
    with pytest.raises(ConfigError, match="alpha"):
        load_config(write(tmp_path, raw))
    raw = as_yaml(params)
    raw["sla"]["close_hour"] = raw["sla"]["open_hour"]
    with pytest.raises(ConfigError, match="close_hour"):
        load_config(write(tmp_path, raw))


def test_params_are_found_from_any_folder_of_the_project(params, tmp_path):
    path = write(tmp_path, as_yaml(params))
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_params(deep) == path
    config = load_config(find_params(deep))
    assert config.root == tmp_path
    assert config.path("data/x.csv").resolve() == tmp_path / "data" / "x.csv"
    assert not config.path("data/x.csv").is_absolute()  # recorded paths must not name the machine


def test_missing_or_broken_params_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no params.yaml"):
        find_params(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("model: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="YAML"):
        load_config(tmp_path / "params.yaml")
