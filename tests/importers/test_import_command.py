"""`gameday import`: the written file validates and carries the unmapped fields as a
comment; bad input is a located message with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from chaos.cli.main import app

MANIFESTS = Path(__file__).parent / "manifests"


@pytest.mark.parametrize(
    ("manifest", "target"),
    [
        ("litmus-pod-delete.yaml", "k8s"),
        ("litmus-network.yaml", "k8s"),
        ("litmus-network.yaml", "local"),
        ("chaos-mesh.yaml", "k8s"),
        ("chaos-mesh.yaml", "mesh"),
    ],
)
def test_the_written_experiment_validates_and_lists_what_did_not_map(
    tmp_path: Path, manifest: str, target: str
) -> None:
    out = tmp_path / "imported.yaml"
    runner = CliRunner()

    result = runner.invoke(
        app, ["import", str(MANIFESTS / manifest), "-o", str(out), "--target", target]
    )

    assert result.exit_code == 0, result.output
    validated = runner.invoke(app, ["validate", str(out)])
    assert validated.exit_code == 0, validated.output
    text = out.read_text()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    listed = [line.removeprefix("  - ") for line in result.output.splitlines() if "  - " in line]
    assert listed, result.output
    for line in listed:
        assert f"#   - {line}" in comments, line  # the same list, in the file
    assert yaml.safe_load(text)["method"]


def test_a_manifest_with_nothing_to_import_exits_2_and_says_why(tmp_path: Path) -> None:
    manifest = tmp_path / "rbac.yaml"
    manifest.write_text("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: litmus}\n")

    result = CliRunner().invoke(app, ["import", str(manifest), "-o", str(tmp_path / "o.yaml")])

    assert result.exit_code == 2
    assert f"{manifest}: nothing in it maps to a gameday fault" in result.output
    assert 'kind = "v1 ServiceAccount": this kind is not imported' in result.output
    assert not (tmp_path / "o.yaml").exists()


def test_broken_yaml_and_an_unwritable_output_are_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: PodChaos\nspec: [\n")
    runner = CliRunner()

    result = runner.invoke(app, ["import", str(broken)])
    assert result.exit_code == 2
    assert f"{broken}: line 3: not YAML" in " ".join(result.output.split())

    out = tmp_path / "missing" / "x.yaml"
    result = runner.invoke(app, ["import", str(MANIFESTS / "chaos-mesh.yaml"), "-o", str(out)])
    assert result.exit_code == 2
    assert f"cannot write {out}" in " ".join(result.output.split())
    assert "Traceback" not in result.output
