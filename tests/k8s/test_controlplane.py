"""The test control plane itself: a failed start leaves nothing running, a test session
killed outright takes its processes with it and the next start clears what is left, and
missing binaries are named with the way to build them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.k8s.controlplane.assets import BINARIES, MissingBinaries, assets_dir, find_binaries
from tests.k8s.controlplane.controlplane import ControlPlane
from tests.k8s.controlplane.processes import sweep_leftovers

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers; it is gone for every purpose here.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def wait_until(predicate, timeout_s: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def test_missing_binaries_name_the_build_script(tmp_path: Path) -> None:
    with pytest.raises(MissingBinaries, match=r"tests/k8s/controlplane/build\.sh") as raised:
        find_binaries(tmp_path)
    assert all(name in str(raised.value) for name in BINARIES)


def test_a_failed_start_stops_what_it_started_and_removes_its_files(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in BINARIES:
        (assets / name).symlink_to(assets_dir() / name)
    broken = assets / "kube-apiserver"
    broken.unlink()
    broken.write_text("#!/bin/sh\necho 'cannot start: simulated' >&2\nexit 3\n")
    broken.chmod(0o755)
    plane = ControlPlane(assets=assets)

    with pytest.raises(Exception, match="kube-apiserver exited with code 3") as raised:
        plane.start()

    assert "cannot start: simulated" in str(raised.value)
    assert plane.run_dir is None
    # etcd had started from these assets; nothing runs from them any more.
    assert [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and p.info["cmdline"][0].startswith(str(assets))
    ] == []


@pytest.mark.slow
def test_a_killed_session_takes_its_processes_along_and_the_next_start_sweeps(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    log = (tmp_path / "start.log").open("w+")
    owner = subprocess.Popen(
        [sys.executable, "-m", "tests.k8s.controlplane", "start"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(
            lambda: "export KUBECONFIG=" in (tmp_path / "start.log").read_text(),
            90,
            "the developer control plane to start",
        )
        (run_dir,) = (tmp_path / "chaos-gameday-k8s").iterdir()
        pids = [int(line.split()[0]) for line in (run_dir / "pids").read_text().splitlines()]
        assert len(pids) == 4 and all(alive(pid) for pid in pids)

        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        # Each child dies with its parent (parent-death signal), without any cleanup code.
        wait_until(lambda: not any(alive(pid) for pid in pids), 10, "the orphans to die")
        assert run_dir.exists()  # the files are left for the next start to sweep
        assert sweep_leftovers(tmp_path / "chaos-gameday-k8s") == []
        assert not run_dir.exists()
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(timeout=10)
        log.close()


def test_the_sweep_kills_what_a_dead_owner_left_running_and_nothing_else(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    etcd = str(assets_dir() / "etcd")

    def leftover(name: str, owner: int) -> subprocess.Popen:
        run_dir = root / name
        run_dir.mkdir(parents=True)
        (run_dir / "owner").write_text(str(owner))
        process = subprocess.Popen(
            [etcd, "--data-dir", str(run_dir / "data"), "--listen-client-urls",
             "http://127.0.0.1:0", "--advertise-client-urls", "http://127.0.0.1:2379",
             "--listen-peer-urls", "http://127.0.0.1:0", "--log-level", "error"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        (run_dir / "pids").write_text(f"{process.pid} {etcd}\n")
        return process

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    orphan = leftover("run-dead-owner", int(finished.stdout))
    kept = leftover("run-live-owner", os.getpid())
    try:
        assert sweep_leftovers(root) == [orphan.pid]
        assert orphan.wait(timeout=10) == -signal.SIGKILL
        assert kept.poll() is None and (root / "run-live-owner").exists()
        assert not (root / "run-dead-owner").exists()
    finally:
        for process in (orphan, kept):
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
