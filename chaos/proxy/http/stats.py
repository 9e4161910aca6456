"""What an HTTP toxic has seen, reported with the toxic so a user can tell it acted."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class HttpToxicStats:
    """Counters of one HTTP toxic, kept across updates of its attributes.

    ``requests``: requests the toxic inspected; ``matched``: those its matchers accepted;
    ``faulted``: those it acted on (``toxicity`` is drawn per matched request);
    ``not_http``: connections that passed through untouched because they do not speak
    HTTP/1.x (TLS, HTTP/2 prior knowledge, another protocol) or stopped making sense as it.
    """

    requests: int = 0
    matched: int = 0
    faulted: int = 0
    not_http: int = 0

    def to_json(self) -> dict[str, int]:
        return asdict(self)
