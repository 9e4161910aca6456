"""Time to recover: poll how many of a target's instances are ready until enough are.

Shared by the local mesh's replicas and the cluster's pods; the caller says how to count.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chaos.probes.errors import InvalidProbeArgument, NotReady

MAX_TIMEOUT_S = 600


def seconds_until_enough_ready(
    count_ready: Callable[[], tuple[int, int]],
    describe: Callable[[int, int], str],
    min_ready: int | None,
    timeout_s: float,
    poll_s: float,
) -> float:
    """Poll `count_ready()` (ready, total) every `poll_s` until at least `min_ready` (default:
    all, and at least one) are ready; return the seconds that took. After `timeout_s` raise
    `NotReady` with `describe(ready, total)` (e.g. "orders: 1 of 2 replicas ready")."""
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise InvalidProbeArgument(f"timeout_s must be > 0 and <= {MAX_TIMEOUT_S}, not {timeout_s}")
    if not 0 < poll_s <= timeout_s:
        raise InvalidProbeArgument(f"poll_s must be > 0 and <= timeout_s, not {poll_s}")
    if min_ready is not None and min_ready < 1:
        raise InvalidProbeArgument(f"min_ready must be >= 1, not {min_ready}")
    started = time.monotonic()
    # Each round sleeps `poll_s`, so the time check ends the loop before the count does.
    for _ in range(int(timeout_s / poll_s) + 2):
        ready, total = count_ready()
        if ready >= (min_ready if min_ready is not None else max(total, 1)):
            return round(time.monotonic() - started, 3)
        if time.monotonic() - started >= timeout_s:
            break
        time.sleep(poll_s)
    raise NotReady(f"{describe(ready, total)} after {timeout_s} s (wanted {min_ready or 'all'})")
