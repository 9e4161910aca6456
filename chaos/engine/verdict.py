"""The verdict and exit code of a run, from the journal's steady states, not its status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXIT_CODES = {"held": 0, "deviated": 1, "invalid": 2, "aborted": 3, "could_not_run": 4}


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]


def _failed_probes(state: dict[str, Any]) -> str:
    names = [
        str(p.get("activity", {}).get("name"))
        for p in state.get("probes", [])
        if not p.get("tolerance_met")
    ]
    return ", ".join(names) or "a probe"


def decide(
    journal: dict[str, Any] | None,
    aborted: str | None = None,
    could_not_run: str | None = None,
) -> Verdict:
    """Precedence: aborted (rolled back) > could not run > before not met > failed fault >
    deviated during or after > held."""
    if aborted:
        return Verdict("aborted", aborted)
    if could_not_run or journal is None:
        return Verdict("could_not_run", could_not_run or "the experiment did not run")
    if journal.get("status") == "interrupted":
        return Verdict("aborted", "interrupted")
    states = journal.get("steady_states") or {}
    before = states.get("before")
    if before is not None and not before.get("steady_state_met"):
        return Verdict(
            "could_not_run",
            f"steady state not met before any fault ({_failed_probes(before)})",
        )
    for run in journal.get("run") or []:
        activity = run.get("activity", {})
        if activity.get("type") == "action" and run.get("status") != "succeeded":
            return Verdict("could_not_run", f"fault {activity.get('name')!r} could not be applied")
    if journal.get("status") == "aborted":
        return Verdict("could_not_run", "the method stopped on an unexpected error")
    during = [s for s in states.get("during") or [] if s and not s.get("steady_state_met")]
    if during:
        return Verdict(
            "deviated",
            f"hypothesis deviated during the method in {len(during)} check(s) "
            f"({_failed_probes(during[0])})",
        )
    after = states.get("after")
    if after is not None and not after.get("steady_state_met"):
        return Verdict(
            "deviated", f"hypothesis deviated after the method ({_failed_probes(after)})"
        )
    return Verdict("held", "the steady state held before, during and after the method")
