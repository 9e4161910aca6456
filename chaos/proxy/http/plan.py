"""What the HTTP toxics decided for one request, and the local answer an abort sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

ANSWER_ATTRIBUTES: dict[str, Any] = {"http_status": 503, "body": "", "headers": {}}
# Names the toxic that answered, so a caller's logs show the fault was injected.
TOXIC_HEADER = "X-Toxiproxy-Toxic"


@dataclass
class Answer:
    """A response the proxy sends itself instead of forwarding the request."""

    status: int
    body: bytes
    headers: dict[str, str]
    toxic: str

    @classmethod
    def from_attributes(cls, toxic: str, attributes: dict[str, Any]) -> Answer:
        status = attributes["http_status"]
        body = attributes["body"]
        if not body:
            body = f"{status} {_reason(status)}: fault injected by toxic {toxic}\n"
        return cls(status, body.encode(), dict(attributes["headers"]), toxic)

    def render(self, head_only: bool, close: bool) -> bytes:
        """The response bytes; ``head_only`` for HEAD requests, ``close`` ends keep-alive."""
        names = {name.lower() for name in self.headers}
        lines = [f"HTTP/1.1 {self.status} {_reason(self.status)}"]
        if "content-type" not in names:
            lines.append("Content-Type: text/plain; charset=utf-8")
        lines.extend(f"{name}: {value}" for name, value in self.headers.items())
        lines.append(f"Content-Length: {len(self.body)}")
        lines.append(f"{TOXIC_HEADER}: {self.toxic}")
        if close:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Injected Fault"


@dataclass
class RequestPlan:
    """The faults for one request, filled in by each HTTP toxic that matched it."""

    answer: Answer | None = None
    request_delay_s: float = 0.0
    response_delay_s: float = 0.0
    reset: bool = False
    toxics: list[str] = field(default_factory=list)  # names of the toxics that acted
