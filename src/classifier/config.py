"""Reading params.yaml: the one place every tunable of the pipeline lives."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PARAMS = Path("params.yaml")


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: parameters file not found (run from the project root or pass --params)")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def stage_arguments(description: str | None, **paths: Path | None) -> tuple[argparse.Namespace, dict[str, Any]]:
    """The command line of a pipeline stage: --params plus one path option per keyword (its default),
    with logging set up; returns the arguments and the loaded parameters."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS)
    for name, default in paths.items():
        parser.add_argument(f"--{name}", type=Path, default=default)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return args, load_params(args.params)
