"""``http_delay``: hold matching requests (stream ``upstream``) or their responses
(stream ``downstream``) for ``latency`` ± ``jitter`` ms (Istio/Envoy ``delay``)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from chaos.proxy.http.plan import RequestPlan

if TYPE_CHECKING:
    from chaos.proxy.toxics import ToxicSpec

ATTRIBUTES = {"latency": 0, "jitter": 0}


def apply(toxic: ToxicSpec, plan: RequestPlan) -> bool:
    latency, jitter = toxic.attributes["latency"], toxic.attributes["jitter"]
    delay_ms = latency + (random.randint(-jitter, jitter) if jitter > 0 else 0)
    delay_s = max(delay_ms, 0) / 1000
    if toxic.direction == "upstream":
        plan.request_delay_s += delay_s
    else:
        plan.response_delay_s += delay_s
    return True
