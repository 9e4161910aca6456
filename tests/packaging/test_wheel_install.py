"""The wheel as a user installs it (slow): built from the project's files, installed into a
fresh venv, then used from a folder that is not a checkout. Every bundled experiment
validates by name, `gameday demo` ends HELD with a report, and the only import package of
ours in site-packages is `chaos`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
# The wheel is built from what the shop image's Dockerfile copies (so the image's `pip
# install .` is proven too), copied out so the build writes nothing into the checkout.
SOURCES = [
    name
    for copied in re.findall(
        r"^COPY (.+) \S+$", (ROOT / "targets" / "Dockerfile").read_text(), re.M
    )
    for name in copied.split()
]
BUILD_S = 600


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout_s: float) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s
    )
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout


def _kill_leftovers(venv: Path) -> list[str]:
    """Processes still running from the fresh venv (none after a clean demo); killed."""
    left = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(venv) in cmdline and process.pid != os.getpid():
            left.append(cmdline)
            with contextlib.suppress(psutil.Error):
                process.kill()
    return left


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAMEDAY_", "VIRTUAL_ENV"))}
    dist = base / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        base,
        env,
        BUILD_S,
    )
    (wheel,) = dist.glob("chaos_gameday-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], base, env, 120)
    _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], base, env, BUILD_S)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    yield venv, env
    assert _kill_leftovers(venv) == []


def _elsewhere(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_only_the_chaos_package_lands_at_the_top_of_site_packages(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    venv, env = installed
    shown = _run([str(venv / "bin" / "pip"), "show", "-f", "chaos-gameday"], tmp_path, env, 60)
    files = shown.split("Files:", 1)[1].split()
    tops = {
        Path(f).parts[0]
        for f in files
        if not f.startswith("..") and not Path(f).parts[0].endswith(".dist-info")
    }
    assert tops == {"chaos"}
    for packaged in (
        "chaos/py.typed",
        "chaos/bundled/experiments/flagship.yaml",
        "chaos/bundled/runbooks/payments-latency.md",
        "chaos/bundled/gamedays/shop-checkout.yaml",
        "chaos/bundled/k8s/with-gameday-sidecar/kustomization.yaml",
        "chaos/bundled/k8s/shop/toxiproxy/orders.json",
        "chaos/console/static/index.html",
        "chaos/console/static/vendor/uPlot.iife.min.js",
        "chaos/console/static/vendor/uPlot.LICENSE",
        "chaos/report/templates/report.html.j2",
        "chaos/incident/templates/runbook.md.j2",
        "chaos/load/locustfiles/shop.py",
        "chaos/targets/shop/topology.yaml",
        "chaos/targets/Dockerfile",
    ):
        assert packaged in files, packaged
    probe = "import importlib.util as u; print([u.find_spec(n) for n in ('cli', 'targets')])"
    python = str(venv / "bin" / "python")
    assert _run([python, "-c", probe], _elsewhere(tmp_path), env, 60).strip() == "[None, None]"


def test_every_bundled_experiment_validates_by_name_from_any_folder(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    venv, env = installed
    names_of = (
        "from chaos import bundled; import json; print(json.dumps(bundled.experiment_names()))"
    )
    folder = _elsewhere(tmp_path)
    names = json.loads(_run([str(venv / "bin" / "python"), "-c", names_of], folder, env, 60))
    assert sorted(names) == sorted(p.stem for p in (ROOT / "experiments").glob("*.yaml"))
    out = _run([str(venv / "bin" / "gameday"), "validate", *names], folder, env, 300)
    assert out.count("✓") == len(names), out


def test_the_demo_ends_held_with_a_report_from_any_folder(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    venv, env = installed
    folder = _elsewhere(tmp_path)
    demo = subprocess.Popen(
        [str(venv / "bin" / "gameday"), "demo", "--no-live", "--runs-dir", "runs"],
        cwd=folder,
        env={**env, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = demo.communicate(timeout=300)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)
            demo.wait(60)
    assert demo.returncode == 0, output
    assert "HELD" in output
    (run_dir,) = [p for p in (folder / "runs").iterdir() if p.is_dir()]
    assert json.loads((run_dir / "summary.json").read_text())["verdict"] == "held"
    report = (run_dir / "report.html").read_text()
    # The bundled runbook was found from a folder that is not the checkout.
    assert "Runbook: payments is slow" in report
