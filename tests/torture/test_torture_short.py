"""The short torture suite: one case of each kind from benchmarks/torture.py against one
mesh. Each case must leave no fault on the proxies, no paused process, no stray process,
no acknowledged order lost or charged twice, no invariant broken, no traceback, and every
gameday command must exit with the code it documents."""

from __future__ import annotations

import random
import signal
import subprocess
import sys

import psutil
import pytest
from torture_cases import (
    HANG,
    ROOT,
    Case,
    corrupt_ledger_case,
    corrupt_run_folder_case,
    interrupt_case,
    sigkill_rollback_case,
    stop_case,
    ttl_case,
)
from torture_census import CaseResult, census

from chaos.proxy import ToxiproxyClient
from chaos.targets.launcher import load_mesh_state

pytestmark = pytest.mark.slow
EXPERIMENTS = ROOT / "experiments"


def assert_clean(case: Case, result: CaseResult) -> None:
    census(case, result)
    assert result.clean, result
    assert result.exit_codes, "no gameday command ran"


def test_sigterm_in_the_method_rolls_back(case: Case) -> None:
    result = interrupt_case(
        case, EXPERIMENTS / "payments-latency.yaml", "method", signal.SIGTERM, random.Random(1)
    )
    # The signal lands a random moment after the method began (usually inside it).
    assert result.detail.startswith("SIGTERM in "), result.detail
    assert result.exit_codes == [3]
    assert_clean(case, result)


def test_sigkill_then_gameday_rollback(case: Case) -> None:
    result = sigkill_rollback_case(case, EXPERIMENTS / "payments-partition.yaml")
    assert result.exit_codes == [-9, 0]
    assert_clean(case, result)


def test_sigkill_then_the_ttl_watchdog_resumes_a_paused_replica(case: Case) -> None:
    result = ttl_case(case, HANG, ttl_s=2.0)
    assert result.exit_codes == [-9]
    assert_clean(case, result)


def test_stop_against_a_hung_run_a_game_day_and_a_monkey(case: Case) -> None:
    # Faults that leave checkout working, so no runner's steady state before depends on
    # which of the others applied its fault first.
    result = stop_case(case, [EXPERIMENTS / "notifications-down.yaml"], "hung", play=HANG)
    # stop, the hung run (SIGKILLed), the game day, the monkey, a refused run, --clear
    assert result.exit_codes == [0, -9, 3, 3, 4, 0], result
    assert_clean(case, result)


def test_garbled_ledger_line(case: Case) -> None:
    result = corrupt_ledger_case(case, EXPERIMENTS / "payments-latency.yaml", "garbled")
    assert_clean(case, result)


def test_damaged_run_folder(case: Case) -> None:
    result = corrupt_run_folder_case(case, EXPERIMENTS / "payments-partition.yaml")
    assert_clean(case, result)


def test_the_census_sees_what_a_case_leaves_behind(case: Case) -> None:
    """The zeros above mean something: a toxic, a paused replica and a process naming the
    case folder are each counted."""
    state = load_mesh_state(case.mesh_state)
    replica = psutil.Process(state.services["notifications"].replicas[0].pid)
    stray = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; time.sleep(60)", str(case.dir)]
    )
    with ToxiproxyClient(state.proxy_api) as client:
        client.add_toxic("orders->payments", "latency", attributes={"latency": 1})
        replica.suspend()
        try:
            result = census(case, CaseResult("census", "leftovers"), settle_s=0.5)
        finally:
            replica.resume()
            client.remove_toxic("orders->payments", "latency_downstream")
            stray.kill()
            stray.wait(timeout=10)
    assert (result.faults_left, result.paused, result.strays) == (1, 1, 1)
    assert not result.clean
