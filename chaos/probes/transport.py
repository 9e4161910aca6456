"""The HTTP client the probes share: creating one costs 30–120 ms here (it loads the CA
bundle), too much for probes checked every second. Timeouts are set per request."""

from __future__ import annotations

import threading

import httpx

_client: httpx.Client | None = None
_lock = threading.Lock()


def shared_client() -> httpx.Client:
    """One process-wide client (thread-safe); callers pass `timeout=` on every request."""
    global _client
    with _lock:
        if _client is None or _client.is_closed:
            _client = httpx.Client(follow_redirects=False)
        return _client
