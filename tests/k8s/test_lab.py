"""`gameday lab`: missing tools, and the order of tool calls (with recording fake tools,
since no Docker engine or kind exists here)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

NODES = {
    "items": [
        {
            "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
        for name in ("gameday-control-plane", "gameday-worker", "gameday-worker2")
    ]
}
DEPLOYMENTS = {
    "items": [
        {
            "metadata": {"name": "gateway"},
            "spec": {"replicas": 2},
            "status": {"availableReplicas": 2},
        },
        {"metadata": {"name": "payments"}, "spec": {"replicas": 1}, "status": {}},
    ]
}


def fake_tool(bin_dir: Path, name: str, log: Path, body: str = "") -> None:
    """A tool that appends its argv to `log`, then runs `body` (POSIX sh)."""
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n{body}\nexit 0\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def tools(tmp_path: Path) -> tuple[Path, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return bin_dir, tmp_path / "calls.log"


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def lab(bin_dir: Path, *args: str):
    return runner.invoke(app, ["lab", *args, "--root", str(ROOT)], env={"PATH": str(bin_dir)})


@pytest.mark.parametrize(
    ("present", "missing"),
    [((), "kind"), (("kind",), "docker"), (("kind", "docker"), "kubectl")],
)
def test_up_with_a_missing_tool_exits_2_naming_it_and_runs_nothing(
    tools: tuple[Path, Path], present: tuple[str, ...], missing: str
) -> None:
    bin_dir, log = tools
    for name in present:
        fake_tool(bin_dir, name, log)
    result = lab(bin_dir, "up")
    assert result.exit_code == 2, result.output
    assert f"`{missing}` was not found on PATH" in result.output
    assert "install" in result.output
    assert calls(log) == []  # nothing created, not even a query


def test_down_and_status_name_the_missing_tool(tools: tuple[Path, Path]) -> None:
    bin_dir, _ = tools
    for command in ("down", "status"):
        result = lab(bin_dir, command)
        assert result.exit_code == 2
        assert "`kind` was not found" in result.output


def _standard_tools(bin_dir: Path, log: Path, clusters: str = "", fail: str = "") -> None:
    """kind keeps its clusters in a file, so create, get and delete agree."""
    state = bin_dir.parent / "kind-clusters"
    if clusters:
        state.write_text(clusters + "\n")
    fake_tool(
        bin_dir,
        "kind",
        log,
        f"""{fail}
case "$1 $2" in
  "get clusters") [ -f "{state}" ] && /bin/cat "{state}" ;;
  "create cluster") echo "$4" >> "{state}" ;;
  "delete cluster") /bin/rm -f "{state}" ;;
esac""",
    )
    fake_tool(bin_dir, "docker", log)
    fake_tool(
        bin_dir,
        "kubectl",
        log,
        f"""case "$*" in
  *"get nodes"*) echo '{json.dumps(NODES)}' ;;
  *"get deployments"*) echo '{json.dumps(DEPLOYMENTS)}' ;;
esac""",
    )


def test_up_creates_builds_loads_applies_and_waits_in_order(tools: tuple[Path, Path]) -> None:
    bin_dir, log = tools
    _standard_tools(bin_dir, log)
    result = lab(bin_dir, "up", "--wait", "60")
    assert result.exit_code == 0, result.output
    assert calls(log) == [
        "docker info --format {{.ID}}",
        "kubectl kustomize k8s",
        "kind get clusters",
        "kind create cluster --name gameday --config k8s/kind.yaml --wait 180s",
        "docker build -f targets/Dockerfile -t gameday-shop:lab .",
        "kind load docker-image gameday-shop:lab --name gameday",
        "kubectl --context kind-gameday apply -k k8s",
        "kubectl --context kind-gameday -n gameday-lab wait --for=condition=Available "
        "deployment --all --timeout=60s",
        "kind get clusters",
        "kubectl --context kind-gameday get nodes -o json",
        "kubectl --context kind-gameday -n gameday-lab get deployments -o json",
    ]


def test_up_with_gameday_sidecars_renders_and_applies_the_overlay(tools: tuple[Path, Path]) -> None:
    bin_dir, log = tools
    _standard_tools(bin_dir, log)
    result = lab(bin_dir, "up", "--sidecar", "gameday")
    assert result.exit_code == 0, result.output
    made = calls(log)
    assert "kubectl kustomize k8s/with-gameday-sidecar" in made
    assert "kubectl --context kind-gameday apply -k k8s/with-gameday-sidecar" in made
    assert not [call for call in made if call.endswith(("kustomize k8s", "apply -k k8s"))]


def test_up_with_an_unknown_sidecar_is_bad_input(tools: tuple[Path, Path]) -> None:
    bin_dir, log = tools
    _standard_tools(bin_dir, log)
    result = lab(bin_dir, "up", "--sidecar", "envoy")
    assert result.exit_code == 2
    assert "--sidecar" in result.output and "envoy" in result.output
    assert calls(log) == []


def test_up_deletes_the_cluster_it_created_when_a_later_step_fails(
    tools: tuple[Path, Path],
) -> None:
    bin_dir, log = tools
    _standard_tools(
        bin_dir, log, fail='[ "$1" = "load" ] && { echo "image not found" >&2; exit 1; }'
    )
    result = lab(bin_dir, "up")
    assert result.exit_code == 4
    assert "loading the image into kind failed" in result.output
    assert "image not found" in result.output
    assert calls(log)[-1] == "kind delete cluster --name gameday"


def test_up_keeps_an_existing_cluster_when_a_step_fails(tools: tuple[Path, Path]) -> None:
    bin_dir, log = tools
    _standard_tools(
        bin_dir, log, clusters="gameday", fail='[ "$1" = "load" ] && { echo no >&2; exit 1; }'
    )
    result = lab(bin_dir, "up")
    assert result.exit_code == 4
    assert not any(call.startswith("kind create") for call in calls(log))
    assert not any(call.startswith("kind delete") for call in calls(log))


def test_up_stops_before_creating_when_the_docker_engine_is_down(
    tools: tuple[Path, Path],
) -> None:
    bin_dir, log = tools
    _standard_tools(bin_dir, log)
    fake_tool(bin_dir, "docker", log, 'echo "Cannot connect to the Docker daemon" >&2; exit 1')
    result = lab(bin_dir, "up")
    assert result.exit_code == 4
    assert "Cannot connect to the Docker daemon" in result.output
    assert calls(log) == ["docker info --format {{.ID}}"]


def test_status_reports_nodes_and_deployments(tools: tuple[Path, Path]) -> None:
    bin_dir, log = tools
    _standard_tools(bin_dir, log, clusters="gameday")
    result = lab(bin_dir, "status")
    assert result.exit_code == 1  # payments has 0 of 1 available
    assert "gameday-worker2" in result.output
    assert "gameday-lab/gateway" in result.output and "2/2" in result.output
    assert "0/1" in result.output and "lab not ready" in result.output


def test_down_without_a_cluster_is_fine(tools: tuple[Path, Path]) -> None:
    bin_dir, log = tools
    _standard_tools(bin_dir, log)
    result = lab(bin_dir, "down")
    assert result.exit_code == 0
    assert "no kind cluster gameday" in result.output
    assert calls(log) == ["kind get clusters"]


def test_down_deletes_an_existing_cluster(tools: tuple[Path, Path]) -> None:
    bin_dir, log = tools
    _standard_tools(bin_dir, log, clusters="other\ngameday")
    result = lab(bin_dir, "down")
    assert result.exit_code == 0
    assert calls(log)[-1] == "kind delete cluster --name gameday"


def test_up_outside_a_checkout_is_bad_input(tools: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, _ = tools
    result = runner.invoke(app, ["lab", "up", "--root", str(tmp_path)], env={"PATH": str(bin_dir)})
    assert result.exit_code == 2
    assert "no chaos-gameday checkout" in result.output


def test_status_and_down_need_no_checkout(tools: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, log = tools
    _standard_tools(bin_dir, log, clusters="gameday")
    # payments has 0 of 1 available: status says so (exit 1) rather than "no checkout" (2).
    for command, exit_code in (("status", 1), ("down", 0)):
        result = runner.invoke(
            app, ["lab", command, "--root", str(tmp_path)], env={"PATH": str(bin_dir)}
        )
        assert result.exit_code == exit_code, result.output
    assert calls(log)[-1] == "kind delete cluster --name gameday"
