"""Every third-party package the installed code imports is a declared dependency, so a
fresh `pip install chaos-gameday` has it (not only because something else pulled it in)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The folders the wheel installs code from, all under the one import package `chaos`
# (an `import cli` left over would be flagged below as an undeclared dependency).
FOLDERS = ("chaos", "cli", "targets")
OURS = {"chaos"}
# Loaded only by a running pytest, which is therefore there: not a dependency of the tool.
PYTEST_PLUGIN = ROOT / "chaos" / "pytest_plugin.py"


def _imported_top_levels() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == PYTEST_PLUGIN:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], path)
    return found


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {
        _normalise(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0])
        for requirement in project["dependencies"]
    }


def test_every_third_party_import_is_declared() -> None:
    providers = packages_distributions()
    declared = _declared()
    missing = []
    for module, where in sorted(_imported_top_levels().items()):
        if module in OURS or module in sys.stdlib_module_names or module == "__future__":
            continue
        distributions = {_normalise(d) for d in providers.get(module, [])}
        if not distributions & declared:
            missing.append(
                f"{module} (imported in {where.relative_to(ROOT)}; from {distributions})"
            )
    assert not missing, "imported but not declared in [project] dependencies: " + ", ".join(missing)
