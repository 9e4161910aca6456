"""The exit code comes from the journal's steady states, not from its status."""

from __future__ import annotations

from chaos.engine.verdict import decide


def _state(met: bool, name: str = "p") -> dict:
    return {
        "steady_state_met": met,
        "probes": [{"activity": {"name": name}, "tolerance_met": met, "status": "succeeded"}],
    }


def _journal(before=True, during=(), after=True, status="completed", run=()) -> dict:
    return {
        "status": status,
        "deviated": False,
        "steady_states": {
            "before": _state(before) if before is not None else None,
            "during": [_state(m) for m in during],
            "after": _state(after) if after is not None else None,
        },
        "run": list(run),
    }


def test_held() -> None:
    verdict = decide(_journal(during=[True, True]))
    assert (verdict.verdict, verdict.exit_code) == ("held", 0)


def test_before_not_met_is_could_not_run_although_status_completed() -> None:
    verdict = decide(_journal(before=False, after=None))
    assert (verdict.verdict, verdict.exit_code) == ("could_not_run", 4)
    assert "before any fault" in verdict.reason


def test_a_single_failed_check_during_the_method_deviates() -> None:
    verdict = decide(_journal(during=[True, False, True]))
    assert (verdict.verdict, verdict.exit_code) == ("deviated", 1)


def test_after_not_met_deviates() -> None:
    assert decide(_journal(after=False)).exit_code == 1


def test_interrupted_journal_is_aborted() -> None:
    assert decide(_journal(status="interrupted", after=None)).exit_code == 3


def test_abort_reason_wins_over_everything() -> None:
    verdict = decide(_journal(after=False), aborted="guardrail held")
    assert (verdict.verdict, verdict.exit_code, verdict.reason) == ("aborted", 3, "guardrail held")


def test_a_fault_that_could_not_be_applied_is_could_not_run() -> None:
    failed = {"activity": {"type": "action", "name": "f"}, "status": "failed"}
    assert decide(_journal(run=[failed])).exit_code == 4


def test_no_journal_is_could_not_run() -> None:
    verdict = decide(None, could_not_run="mesh did not start")
    assert (verdict.exit_code, verdict.reason) == (4, "mesh did not start")
