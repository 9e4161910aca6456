"""Toxiproxy's two byte counters, rendered as Prometheus text."""

from __future__ import annotations

from collections import defaultdict

_COUNTERS = (
    ("toxiproxy_proxy_received_bytes_total", "The number of bytes received on a proxy link"),
    ("toxiproxy_proxy_sent_bytes_total", "The number of bytes sent on a proxy link"),
)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[str, str, str, str]  # direction, listener, proxy, upstream


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class ByteCounters:
    """Bytes received and sent per proxy link, counted when a link ends."""

    def __init__(self) -> None:
        self.received: dict[Labels, int] = defaultdict(int)
        self.sent: dict[Labels, int] = defaultdict(int)

    def count(
        self, direction: str, proxy: str, listener: str, upstream: str, received: int, sent: int
    ) -> None:
        labels = (direction, listener, proxy, upstream)
        self.received[labels] += received
        self.sent[labels] += sent

    def render(self) -> str:
        lines: list[str] = []
        for (metric, help_text), values in zip(_COUNTERS, (self.received, self.sent), strict=True):
            lines.append(f"# HELP {metric} {help_text}")
            lines.append(f"# TYPE {metric} counter")
            for (direction, listener, proxy, upstream), value in sorted(values.items()):
                label_text = ",".join(
                    f'{k}="{_escape(v)}"'
                    for k, v in (
                        ("direction", direction),
                        ("listener", listener),
                        ("proxy", proxy),
                        ("upstream", upstream),
                    )
                )
                lines.append(f"{metric}{{{label_text}}} {value}")
        return "\n".join(lines) + "\n"
