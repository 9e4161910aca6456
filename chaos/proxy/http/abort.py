"""``http_abort``: answer matching requests with a status (Istio/Envoy ``abort``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.proxy.http.plan import ANSWER_ATTRIBUTES, Answer, RequestPlan

if TYPE_CHECKING:
    from chaos.proxy.toxics import ToxicSpec

ATTRIBUTES = dict(ANSWER_ATTRIBUTES)


def apply(toxic: ToxicSpec, plan: RequestPlan) -> bool:
    if plan.answer is not None:
        return False  # an earlier toxic already answers this request
    plan.answer = Answer.from_attributes(toxic.name, toxic.attributes)
    return True
