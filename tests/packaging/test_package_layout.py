"""The checkout's folders install as one import package, `chaos`: every folder of code
or bundled files is listed in pyproject's packages under the name its package-dir mapping
gives it, so a new subpackage cannot be left out of the wheel unnoticed."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from chaos import bundled

ROOT = Path(__file__).resolve().parents[2]


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]


def test_every_folder_with_an_init_is_a_listed_package() -> None:
    config = _setuptools()
    folders = {Path(folder): package for package, folder in config["package-dir"].items()}
    found = set()
    for folder, package in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *relative.parts]))
    assert sorted(config["packages"]) == sorted(found)
    assert {package.split(".")[0] for package in config["packages"]} == {"chaos"}


def test_the_bundled_folders_resolve_from_the_package() -> None:
    assert bundled.folder("experiments") == (ROOT / "experiments").resolve()
    assert bundled.root() == ROOT.resolve()
    assert "flagship" in bundled.experiment_names()
    assert bundled.experiment("flagship") == (ROOT / "experiments" / "flagship.yaml").resolve()
    assert bundled.experiment("no-such-experiment") is None


def _imports(folder: str) -> dict[str, set[str]]:
    """Each module under the checkout folder -> the `chaos.X` subpackages it imports."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / folder).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        ] + [
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
        ]
        parts = {".".join(n.split(".")[:2]) for n in names if n.startswith("chaos.")}
        found[str(path.relative_to(ROOT))] = parts
    return found


def test_the_library_never_imports_the_cli_and_the_mesh_only_the_proxy() -> None:
    # DESIGN's map, kept now that cli/ and targets/ install inside `chaos`.
    library = {path: parts & {"chaos.cli"} for path, parts in _imports("chaos").items()}
    assert {path: parts for path, parts in library.items() if parts} == {}
    mesh = {
        path: parts - {"chaos.targets", "chaos.proxy"}
        for path, parts in _imports("targets").items()
    }
    assert {path: parts for path, parts in mesh.items() if parts} == {}
