"""The layering of DESIGN.md: populations knows nothing of agents or scenarios."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_packages(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_populations_imports_no_engine_or_scenario():
    assert not imported_packages("populations") & {"abm", "scenarios", "synthworld", "mesa"}


def test_abm_imports_no_scenario():
    assert "scenarios" not in imported_packages("abm")
