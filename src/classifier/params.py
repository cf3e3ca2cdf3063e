"""Reading params.yaml: the one place every tunable of the pipeline lives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEFAULT_PARAMS = Path("params.yaml")


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: parameters file not found (run from the project root or pass --params)")
    return yaml.safe_load(path.read_text(encoding="utf-8"))
