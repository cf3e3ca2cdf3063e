"""The package layout is the architecture (docs/architecture.md): every import of src/ goes to the
same layer or a lower one, and the subpackages import each other without cycles."""

import ast
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "src" / "classifier"
LAYERS = {
    "config": 0,
    "text": 1,
    "io": 1,
    "model": 2,
    "serving": 3,
    "monitoring": 3,
    "training": 3,
    "evaluation": 3,
    "stages": 4,
    "cli": 4,
    "__main__": 4,
}


def part_of(module: str) -> str:
    """`classifier.serving.score` → `serving`."""
    return module.split(".")[1]


def project_imports(path: Path) -> set[str]:
    """The subpackages of `classifier` a file imports (at any depth of the file, lazy imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name.startswith("classifier.") and name.split(".")[1] in LAYERS:
                found.add(part_of(name))
    return found


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def owner(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_down_or_sideways_never_up(path):
    layer = LAYERS[owner(path)]
    upward = sorted(target for target in project_imports(path) if LAYERS[target] > layer)
    assert upward == [], f"{path.relative_to(ROOT)} (layer {layer}) imports from a higher layer: {upward}"


def test_subpackages_import_each_other_without_cycles():
    graph: dict[str, set[str]] = {}
    for path in modules():
        graph.setdefault(owner(path), set()).update(project_imports(path) - {owner(path)})

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ())
        )

    cycles = sorted(part for part in graph if reaches(part, part, {part}))
    assert cycles == [], f"subpackages in an import cycle: {cycles} ({graph})"


def test_every_module_belongs_to_a_layer():
    assert sorted({owner(p) for p in modules()} - set(LAYERS)) == []
