"""Listen addresses the way Go's net package reads, resolves, binds and prints them."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from chaos.proxy.errors import ToxiproxyError

_WILDCARDS = ("", "0.0.0.0", "::")
RESOLVE_TIMEOUT = 1.0


def listen_error(message: str) -> ToxiproxyError:
    return ToxiproxyError(500, message)


def split_host_port(address: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, raising its messages as 500s (``listen tcp: ...``)."""
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            raise listen_error(f"listen tcp: address {address}: missing ']' in address")
        rest = address[end + 1 :]
        if not rest.startswith(":"):
            raise listen_error(f"listen tcp: address {address}: missing port in address")
        return address[1:end], rest[1:]
    if ":" not in address:
        raise listen_error(f"listen tcp: address {address}: missing port in address")
    host, port = address.rsplit(":", 1)
    if ":" in host:
        raise listen_error(f"listen tcp: address {address}: too many colons in address")
    return host, port


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _port(address: str, port: str) -> int:
    if port == "":
        return 0
    if not port.isdigit() or int(port) > 65535:
        raise listen_error(f"listen tcp: address {address}: invalid port")
    return int(port)


async def resolve_listen(address: str) -> tuple[str, int]:
    """(IP, port) a listen address binds to; wildcard hosts give ``""``."""
    host, port_text = split_host_port(address)
    port = _port(address, port_text)
    if host in _WILDCARDS:
        return "", port
    try:
        ipaddress.ip_address(host)
        return host, port
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        # Bounded, so that a slow resolver cannot hold an API call for long.
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT
        )
    except TimeoutError as exc:
        raise listen_error(f"listen tcp: lookup {host}: i/o timeout") from exc
    except OSError as exc:
        raise listen_error(f"listen tcp: lookup {host}: no such host") from exc
    # Like Go, prefer an IPv4 address when a name has both.
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0]), port


def resolved_text(host: str, port: int) -> str:
    """How a resolved listen address compares and prints (wildcards as Go's ``[::]``)."""
    return join_host_port(host or "::", port)


def bind(host: str, port: int) -> tuple[socket.socket, str]:
    """A listening socket and its bound address as Toxiproxy reports it."""
    if host == "":
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            bind_to: tuple[str, int] = ("::", port)
        except OSError:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            bind_to = ("0.0.0.0", port)
    else:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        bind_to = (host, port)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(bind_to)
        sock.listen(512)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        reason = (exc.strerror or str(exc)).lower()
        shown = join_host_port(bind_to[0], port)
        raise listen_error(f"listen tcp {shown}: bind: {reason}") from exc
    bound_host, bound_port = sock.getsockname()[:2]
    return sock, join_host_port(bound_host, bound_port)
