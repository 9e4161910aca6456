"""PromQL guardrails: a query evaluated once a second against the target's Prometheus.

`promql: max(shop_circuit_breaker_state) above: 1.5 for_s: 3` holds after three
consecutive evaluations (about one a second) breach the threshold. An empty result
neither counts nor breaks a streak (nothing to judge, as a second without requests for a
load guardrail); a failed query or a gap of more than 1.5 s between evaluations breaks it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from chaos.experiment.models import Guardrail
from chaos.probes.errors import ProbeError
from chaos.probes.prometheus_api import find_prometheus_url, instant_query

__all__ = ["EVALUATE_EVERY_S", "GuardrailUnavailable", "PromqlGuardrailState", "prometheus_for"]

EVALUATE_EVERY_S = 1.0
QUERY_TIMEOUT_S = 2.0


class GuardrailUnavailable(Exception):
    """A guardrail cannot be watched (no Prometheus for a PromQL guardrail)."""


def prometheus_for(
    guardrails: list[Guardrail], configuration: Mapping[str, Any] | None
) -> str | None:
    """The Prometheus URL the PromQL guardrails query, None when there are none. Each query
    is tried once, so a typo cannot leave a guardrail that never trips: raises
    `GuardrailUnavailable` when there is no Prometheus to ask or it refuses a query."""
    promql = [g for g in guardrails if g.promql is not None]
    if not promql:
        return None
    try:
        url = find_prometheus_url(configuration)
    except ProbeError as exc:
        names = ", ".join(g.name or g.condition for g in promql)
        raise GuardrailUnavailable(f"PromQL guardrail(s) {names} cannot be watched: {exc}") from exc
    for guardrail in promql:
        assert guardrail.promql is not None
        try:
            instant_query(url, guardrail.promql, QUERY_TIMEOUT_S)
        except ProbeError as exc:
            raise GuardrailUnavailable(
                f"PromQL guardrail {guardrail.name or guardrail.condition} cannot be watched: {exc}"
            ) from exc
    return url


class PromqlGuardrailState:
    """Streak bookkeeping of one PromQL guardrail."""

    def __init__(self, guardrail: Guardrail, url: str) -> None:
        assert guardrail.promql is not None
        self.guardrail = guardrail
        self.url = url
        self.streak = 0
        self.last_at: float | None = None
        self.last_value: float | None = None
        self.last_error: str | None = None

    def evaluate(self, now: float | None = None) -> bool:
        """Query once; True when the condition now holds."""
        now = time.monotonic() if now is None else now
        if self.last_at is not None and now - self.last_at > 1.5 * EVALUATE_EVERY_S:
            self.streak = 0
        self.last_at = now
        value = self._value()
        self.last_value = value
        if value is None:
            return False
        if self.guardrail.breached(value):
            self.streak += 1
        else:
            self.streak = 0
        return self.streak >= self.guardrail.for_s / EVALUATE_EVERY_S

    def _value(self) -> float | None:
        assert self.guardrail.promql is not None
        try:
            series = instant_query(self.url, self.guardrail.promql, QUERY_TIMEOUT_S)
        except ProbeError as exc:
            self.last_error = str(exc)
            self.streak = 0
            return None
        values = [s.points[-1][1] for s in series if s.points]
        if not values:
            return None
        # Several series: the guardrail judges the worst of them.
        worst = max(values) if self.guardrail.above is not None else min(values)
        return None if math.isnan(worst) else worst

    def reset(self) -> None:
        self.streak = 0
        self.last_at = None
