"""``http_reset``: reset the client's connection (TCP RST) mid-response.

The response's head goes out, then the connection is reset before its body; a response
without a body is cut before its head, so the client never gets a complete answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.proxy.http.plan import RequestPlan

if TYPE_CHECKING:
    from chaos.proxy.toxics import ToxicSpec

ATTRIBUTES: dict[str, object] = {}


def apply(toxic: ToxicSpec, plan: RequestPlan) -> bool:
    if plan.answer is not None:
        return False  # answered locally: there is no upstream response to cut
    plan.reset = True
    return True
