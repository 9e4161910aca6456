"""Errors of the fault proxy API, shared by the server (as HTTP replies) and the client."""

from __future__ import annotations


class ToxiproxyError(Exception):
    """An error reply of a Toxiproxy-compatible API: HTTP ``status`` and its ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class ProxyUnreachable(ToxiproxyError):
    """The API could not be reached, or did not answer in time (status 0)."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


class InvalidRequest(ToxiproxyError):
    """400: a missing field, a bad body, stream, toxic type or attribute."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


class NotFound(ToxiproxyError):
    """404: no such proxy or toxic."""

    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class AlreadyExists(ToxiproxyError):
    """409: a proxy or toxic of that name exists already."""

    def __init__(self, message: str) -> None:
        super().__init__(409, message)


def error_for(status: int, message: str) -> ToxiproxyError:
    """The most specific error class for an API error reply."""
    by_status: dict[int, type[ToxiproxyError]] = {
        400: InvalidRequest,
        404: NotFound,
        409: AlreadyExists,
    }
    cls = by_status.get(status)
    return cls(message) if cls is not None else ToxiproxyError(status, message)
