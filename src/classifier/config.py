"""The pipeline's configuration: params.yaml read once into typed, validated sections.

params.yaml is the one place every tunable lives (DVC tracks its keys per stage); this module gives it
a schema, so a wrong key or value fails at start with the key named, and each stage or command is
handed only the sections it uses. It sits below every other module: it imports nothing of the project.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PARAMS_FILE = "params.yaml"
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[int, Field(ge=1)]


class ConfigError(ValueError):
    """params.yaml is missing, unreadable or breaks the schema; the message names every bad key."""


class Section(BaseModel):
    # A misspelt key must fail, not fall back silently to nothing.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(Section):
    train: Path
    test: Path  # frozen: never read by training or tuning
    robustness: Path | None = None  # other writers, other register: never read by training or tuning
    sample: Path
    near_duplicate_jaccard: Annotated[float, Field(gt=0.0, le=1.0)]
    shop: Path | None = (
        None  # the shop's labeled mail (`classifier import-labels`); absent or empty: corpus only
    )
    shop_holdout: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.3  # share held out (by id) as the gate's test


class ModelConfig(Section):
    """The base model configuration; `selection.grid` overrides its keys, one candidate per combination."""

    features: list[Literal["words", "chars"]] = Field(min_length=1)
    word_ngram_max: Positive
    word_min_df: Positive
    char_ngram_min: Positive
    char_ngram_max: Positive
    char_min_df: Positive
    estimator: Literal["logreg", "linear_svc", "complement_nb"]
    C: Annotated[float, Field(gt=0.0)]
    class_weight: Literal["balanced"] | None
    max_iter: Positive
    calibration_folds: Annotated[int, Field(ge=2)]
    n_jobs: int


class SelectionConfig(Section):
    folds: Annotated[int, Field(ge=2)]
    group_by: str | None = None
    grid: dict[str, list[Any]]
    # Sample weights of the shop's own rows tried when the shop store has rows (joins the grid then).
    shop_weight: list[Annotated[float, Field(gt=0.0)]] = Field(default_factory=lambda: [1.0], min_length=1)

    @model_validator(mode="after")
    def _grid_keys_are_model_keys(self) -> SelectionConfig:
        unknown = sorted(set(self.grid) - set(ModelConfig.model_fields))
        if unknown:
            raise ValueError(f"grid: {', '.join(unknown)} not a key of `model`")
        return self


class AugmentConfig(Section):
    tone: Share
    negation: Share
    deadline_far: Share
    coupon_today: Share
    answered_late: Share


class RoutingConfig(Section):
    high_recall_target: Share
    target_accuracy: Share
    high_guard: Share


class SlaConfig(Section):
    hours: dict[Literal["high", "medium", "low"], Annotated[float, Field(gt=0.0)]]
    open_hour: Annotated[int, Field(ge=0, le=23)]
    close_hour: Annotated[int, Field(ge=1, le=24)]

    @model_validator(mode="after")
    def _opens_before_closing(self) -> SlaConfig:
        if self.close_hour <= self.open_hour:
            raise ValueError("close_hour must be after open_hour")
        if set(self.hours) != {"high", "medium", "low"}:
            raise ValueError("hours needs high, medium and low")
        return self


class DriftConfig(Section):
    batches: dict[str, Path]
    reference_sample: Positive
    psi: Annotated[float, Field(gt=0.0)]
    p_value: Share
    oov_increase: Share
    domain_auc: Share
    accuracy_drop: Share
    new_terms: Positive


class SuggestWeights(Section):
    """Weights of the informativeness terms of `classifier suggest` (monitoring/suggest.py)."""

    topic: Annotated[float, Field(ge=0.0)] = 1.0
    urgency: Annotated[float, Field(ge=0.0)] = 1.0
    high: Annotated[float, Field(ge=0.0)] = 1.0
    new_terms: Annotated[float, Field(ge=0.0)] = 0.5


class SuggestConfig(Section):
    """`classifier suggest`: which scored mails to label next."""

    n: Positive = 200
    uncertainty: Literal["margin", "entropy"] = "margin"
    weights: SuggestWeights = SuggestWeights()
    pool: Annotated[float, Field(ge=1.0)] = 3.0
    dimensions: Annotated[int, Field(ge=2)] = 100
    new_terms: Positive = 20


class Limits(Section):
    """Per-record limits of batch scoring: past one, that record gets an `error` and the rest of the
    batch is scored (docs/reliability.md says which failure each guards against). The defaults serve
    the Python API and the tests; params.yaml states the same values for a project."""

    max_mail_bytes: Positive = 10_000_000  # a mail larger than this is not parsed
    max_mime_depth: Positive = 50  # deeper multipart nesting is not read (real mail: 3-4 levels)
    max_text_chars: Positive = 100_000  # a longer subject or body is not scored (MeCab dies near 10^6)
    max_field_chars: Positive = 10_000_000  # a longer CSV field makes the file unreadable as a whole


class ScoringConfig(Section):
    """How `classifier score` works through a batch; defaults as `Limits`'."""

    chunk_size: Positive = 1000  # records per chunk: bounds memory; workers share the chunks
    explanation_terms: Positive = 5  # terms per head in the `explanation` column


class GateConfig(Section):
    metrics: list[str] = Field(min_length=1)
    tolerance: Annotated[float, Field(ge=0.0)]


class RegistryConfig(Section):
    model_name: str = Field(min_length=1)
    gate: GateConfig


class Config(Section):
    seed: int
    data: DataConfig
    model: ModelConfig
    selection: SelectionConfig
    augment: AugmentConfig
    routing: RoutingConfig
    sla: SlaConfig
    drift: DriftConfig
    limits: Limits
    scoring: ScoringConfig
    suggest: SuggestConfig = SuggestConfig()
    registry: RegistryConfig
    root: Path = Path(".")  # the folder params.yaml was read from: relative paths are resolved against it

    def path(self, relative: str | Path) -> Path:
        """A path of params.yaml (data files, batches) as seen from the working directory: relative
        when it is inside the project (what gets recorded, in model.json for one, must not name the
        machine), absolute only when params.yaml gives it so."""
        if Path(relative).is_absolute():
            return Path(relative)
        return Path(os.path.relpath(self.root / relative))


def find_params(start: Path | None = None) -> Path:
    """params.yaml in `start` (default: the working directory) or the nearest parent that has one:
    any folder inside a project finds the project's parameters."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PARAMS_FILE).is_file():
            return folder / PARAMS_FILE
    raise ConfigError(
        f"no {PARAMS_FILE} in {here} or any folder above it: run inside the project or pass --params"
    )


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate params.yaml (found from the working directory when `path` is None)."""
    path = Path(path) if path is not None else find_params()
    if not path.is_file():
        raise ConfigError(f"{path}: parameters file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: not readable as YAML ({error})") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    root = path.resolve().parent
    try:
        return Config.model_validate({**raw, "root": root})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"{path}: {problems}") from None


def stage_arguments(description: str | None, **paths: Path | None) -> tuple[argparse.Namespace, Config]:
    """The command line of a pipeline stage: --params plus one path option per keyword (its default),
    with logging set up; returns the arguments and the validated configuration."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=None)
    for name, default in paths.items():
        parser.add_argument(f"--{name}", type=Path, default=default)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args, load_config(args.params)
    except ConfigError as error:
        parser.error(str(error))  # exits 2 with the message
        raise
