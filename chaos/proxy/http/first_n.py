"""``http_first_n``: answer the first ``count`` matching requests with a status, then pass.

The count is shared by every connection of the proxy and survives attribute updates, so
a client's retries on fresh connections see the failures run out, as retry tests need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.proxy.http.plan import ANSWER_ATTRIBUTES, Answer, RequestPlan

if TYPE_CHECKING:
    from chaos.proxy.toxics import ToxicSpec

ATTRIBUTES = {"count": 1, **ANSWER_ATTRIBUTES}


def apply(toxic: ToxicSpec, plan: RequestPlan) -> bool:
    assert toxic.stats is not None
    if plan.answer is not None or toxic.stats.faulted >= toxic.attributes["count"]:
        return False
    plan.answer = Answer.from_attributes(toxic.name, toxic.attributes)
    return True
