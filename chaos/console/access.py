"""Who may do what on the console.

Bound to loopback (the default), only this machine can connect and a request without a
token acts as the facilitator. Bound anywhere else, every request needs a token: the
facilitator's (next step, emergency stop) or the observers' (read and note). Requests from
an address the binding does not admit are refused outright.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["facilitator", "observer"]
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class AccessDenied(Exception):
    """A request may not do what it asked; `status` is 401 (who are you) or 403 (not you)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ConsoleAccess:
    """The bound address and the two role tokens."""

    bind: str = "127.0.0.1"
    facilitator_token: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    observer_token: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    @property
    def tokens_required(self) -> bool:
        return not is_loopback(self.bind)

    def check_address(self, client_host: str | None) -> None:
        """A loopback binding never admits another machine, whatever reaches the socket."""
        if self.tokens_required is False and not (client_host and is_loopback(client_host)):
            raise AccessDenied(403, f"the console is bound to {self.bind}: only this machine")

    def role(self, client_host: str | None, token: str | None) -> Role:
        """The role a request acts in; raises `AccessDenied`."""
        self.check_address(client_host)
        if token:
            if secrets.compare_digest(token, self.facilitator_token):
                return "facilitator"
            if secrets.compare_digest(token, self.observer_token):
                return "observer"
            raise AccessDenied(401, "this console token is not valid")
        if self.tokens_required:
            raise AccessDenied(401, "this console needs a token: open the link it printed")
        return "facilitator"

    def check_origin(self, method: str, host: str | None, origin: str | None) -> None:
        """Refuse what another web site makes a browser send here; raises `AccessDenied`.

        Without tokens, a page from anywhere could otherwise reach the loopback console
        through the facilitator's own browser: by a DNS name rebound to 127.0.0.1 (its
        `Host` is not ours) or by a cross-site form post (its `Origin` is not ours)."""
        hostname = (host or "").rsplit(":", 1)[0].strip("[]") if host else ""
        if not self.tokens_required and not is_loopback(hostname):
            raise AccessDenied(403, f"the console answers only to {self.bind}, not {host}")
        if method not in ("GET", "HEAD") and origin and origin != f"http://{host}":
            raise AccessDenied(403, f"a request from {origin} may not act on this console")

    def require_facilitator(self, role: Role, action: str) -> None:
        if role != "facilitator":
            raise AccessDenied(403, f"only the facilitator may {action}")
