"""The tool's own chaos suite: break `gameday` in every way it can break, against one running
mesh, and count what is left behind.

    .venv/bin/python benchmarks/torture.py [--seed 13] [--interrupt-rounds 7] [--kills 20]
                                           [--ttls 5] [--stops 3] [--work DIR]

Cases (benchmarks/torture_cases.py): SIGINT/SIGTERM at a random point of every phase
of each bundled experiment (shortened) and of a torture-only pause fault; SIGKILL while a
fault is applied, then `gameday rollback`; SIGKILL and let the TTL (proxy or watchdog) lift
the fault; `gameday stop` against concurrent runs, a game day and a monkey (all live, one
hung, one killed before); a torn and a garbled ledger; a damaged run folder. After each
case, the census (benchmarks/torture_census.py): faults on the proxies, paused processes,
stray processes, acknowledged orders lost or charged twice, other invariant failures,
unexpected exit codes and tracebacks. Prints one table; exits 1 when anything was left behind.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from torture_cases import (
    HANG,
    INTERRUPTED,
    LASTING,
    PHASES,
    Case,
    corrupt_ledger_case,
    corrupt_run_folder_case,
    interrupt_case,
    running_mesh,
    sigkill_rollback_case,
    stop_case,
    ttl_case,
)
from torture_census import CaseResult, census, wait_mesh_ready

COLUMNS = (
    "cases",
    "faults left",
    "paused",
    "strays",
    "orders lost/2x charged",
    "other invariants",
    "bad exit codes",
    "tracebacks",
    "wall s",
)
STOP_VARIANTS = ("live", "hung", "killed")
# Faults that leave checkout working, so no runner's steady state before depends on which
# of the others applied its fault first.
STOP_SOURCES = ("payments-latency", "orders-inventory-resets", "notifications-down")


def plan(
    args: argparse.Namespace, rng: random.Random
) -> list[tuple[str, Callable[[Case], CaseResult]]]:
    """Every case to run, as (kind, function of its Case)."""
    cases: list[tuple[str, Callable[[Case], CaseResult]]] = []
    signals = [signal.SIGINT, signal.SIGTERM]
    for round_index in range(args.interrupt_rounds):
        for source in INTERRUPTED:
            phase = PHASES[(round_index + INTERRUPTED.index(source)) % len(PHASES)]
            signum = signals[round_index % 2]  # so every phase meets both signals
            cases.append(
                (
                    "interrupt",
                    lambda c, s=source, p=phase, n=signum: interrupt_case(c, s, p, n, rng),
                )
            )
    for index in range(args.kills):
        source = LASTING[index % len(LASTING)]
        cases.append(("sigkill", lambda c, s=source: sigkill_rollback_case(c, s)))
    for index in range(args.ttls):
        source = LASTING[index % len(LASTING)]
        cases.append(("ttl", lambda c, s=source: ttl_case(c, s, ttl_s=3.0)))
    by_name = {p.stem: p for p in INTERRUPTED}
    for index in range(args.stops):
        sources = [by_name[name] for name in STOP_SOURCES]
        variant = STOP_VARIANTS[index % len(STOP_VARIANTS)]
        cases.append(
            (
                "stop",
                lambda c, s=sources, v=variant: stop_case(c, s, v, play=HANG, grace_s=10.0),
            )
        )
    for variant in ("torn", "garbled"):
        cases.append(
            ("corrupt", lambda c, v=variant: corrupt_ledger_case(c, by_name["payments-latency"], v))
        )
    cases.append(("corrupt", lambda c: corrupt_run_folder_case(c, by_name["payments-partition"])))
    return cases


def _row(label: str, results: list[CaseResult]) -> list[str]:
    return [
        label,
        str(len(results)),
        str(sum(r.faults_left for r in results)),
        str(sum(r.paused for r in results)),
        str(sum(r.strays for r in results)),
        str(sum(r.orders_lost_or_double_charged for r in results)),
        str(sum(r.other_invariant_failures for r in results)),
        str(sum(len(r.unexpected_exits) for r in results)),
        str(sum(r.tracebacks for r in results)),
        f"{sum(r.seconds for r in results):.0f}",
    ]


def print_table(results: list[CaseResult], wall_s: float) -> None:
    groups: dict[str, list[CaseResult]] = {}
    for result in results:
        label = result.kind
        if result.kind == "interrupt":
            label = f"interrupt: {result.detail}"
        groups.setdefault(label, []).append(result)
    header = ["case", *COLUMNS]
    rows = [_row(label, group) for label, group in sorted(groups.items())]
    rows.append(_row("total", results))
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n{len(results)} cases in {wall_s / 60:.1f} min wall time")
    for result in results:
        if not result.clean:
            print(f"NOT CLEAN: {result.kind} {result.name} {result.detail}: {result}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--interrupt-rounds", type=int, default=7, help="x 8 experiments")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--ttls", type=int, default=5)
    parser.add_argument("--stops", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="keep case folders here")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="gameday-torture-"))
    work.mkdir(parents=True, exist_ok=True)
    cases = plan(args, rng)
    results: list[CaseResult] = []
    started = time.monotonic()
    with running_mesh(work) as mesh:
        for index, (kind, run_case) in enumerate(cases):
            wait_mesh_ready(mesh.state_file)
            case = Case(work, index, kind, mesh.state_file)
            case_started = time.monotonic()
            try:
                result = run_case(case)
                result.seconds = time.monotonic() - case_started
                # Counted before the case's own processes are reaped: a runner still
                # running here is a stray.
                census(case, result)
            finally:
                case.close()
            results.append(result)
            mark = "ok" if result.clean else "LEFTOVERS"
            print(
                f"[{index + 1}/{len(cases)}] {result.kind} {result.name} {result.detail}: "
                f"exits {result.exit_codes} {mark} ({result.seconds:.1f} s)",
                flush=True,
            )
    print()
    print_table(results, time.monotonic() - started)
    print(f"case folders: {work}")
    return 0 if all(result.clean for result in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
