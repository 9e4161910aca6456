"""Network faults on fault-proxy edges: latency, bandwidth, partitions, resets and friends.

Every fault names its target one way:

- `edge`: a proxy edge `"orders->payments"`; `*` matches any service on one side
  (`"*->payments"` is every edge into payments, `"orders->*"` every call orders makes);
- `service`: every edge into that service (the same as `edge="*->SERVICE"`);
- `proxy`: one raw proxy name, or a list of them (for a proxy that is not a mesh edge).

Each fault first writes its ledger intent (with the undo that reverses it), then applies
the fault, then records it as applied. Toxics carry a TTL (`ttl_s`, passed to the proxy as
`ttl_ms`) so a fault expires on its own if the runner dies; a refused (disabled) proxy is
re-enabled by a detached watchdog at the same deadline. Undos (`remove_toxics`,
`heal_partition`) are idempotent: undoing twice, or undoing a toxic that already expired
or whose proxy vanished, is fine.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Literal, NamedTuple

from chaos.faults import expiry
from chaos.faults.errors import (
    FaultNotApplied,
    InvalidFaultArgument,
    TargetNotFound,
    TargetUnknown,
)
from chaos.faults.locate import find_proxy_api
from chaos.faults.toxic_spec import (
    TOXIC_PREFIX,
    ToxicSpec,
    check_one_target,
    is_ours,
    toxics_covered,
)
from chaos.proxy import AlreadyExists, NotFound, ProxyUnreachable, ToxiproxyClient
from chaos.safety.ledger import (
    Ledger,
    LedgerEntry,
    UndoFailed,
    UndoSpec,
    find_ledger,
    run_dir_of,
    undo_entry,
)

__all__ = [
    "add_latency",
    "heal_partition",
    "limit_bandwidth",
    "limit_data",
    "partition",
    "remove_toxics",
    "reset_connections",
    "slice_packets",
    "slow_close",
]

API_TIMEOUT_S = 5.0
DEFAULT_TTL_S = 300.0
MAX_TTL_S = 24 * 3600.0
MODULE = __name__

Stream = Literal["downstream", "upstream", "both"]
Configuration = Mapping[str, Any] | None


# -- targets ------------------------------------------------------------------------------


_clients: dict[str, ToxiproxyClient] = {}
_clients_lock = threading.Lock()


@contextmanager
def _client(url: str) -> Iterator[ToxiproxyClient]:
    """A client for the proxy API at `url`, kept for the life of the process: creating an
    HTTP client costs 30–120 ms here, which would otherwise delay every fault."""
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = ToxiproxyClient(url, timeout=API_TIMEOUT_S)
    try:
        yield client
    except ProxyUnreachable as exc:
        # Start afresh next time: the API may have restarted (a new mesh on the same port).
        with _clients_lock:
            if _clients.get(url) is client:
                del _clients[url]
        client.close()
        raise TargetUnknown(f"the fault proxy API at {url} did not answer: {exc}") from exc


def _proxy_names(client: ToxiproxyClient) -> list[str]:
    return sorted(client.proxies())


def _resolve(
    client: ToxiproxyClient,
    edge: str | None,
    service: str | None,
    proxy: str | Sequence[str] | None,
) -> tuple[list[str], str]:
    """The proxy names a fault acts on, and a label for the ledger and the journal."""
    check_one_target(edge, service, proxy)
    existing = _proxy_names(client)
    if proxy:
        wanted = [proxy] if isinstance(proxy, str) else list(proxy)
        missing = [name for name in wanted if name not in existing]
        if missing:
            raise TargetNotFound(f"no proxy named {missing} (proxies: {existing})")
        return wanted, ",".join(wanted)
    pattern = edge if edge else f"*->{service}"
    if "->" not in pattern:
        raise InvalidFaultArgument(
            f"edge {pattern!r} is not of the form 'caller->callee' (use `proxy` for a raw name)"
        )
    matched = [name for name in existing if fnmatch.fnmatchcase(name, pattern)]
    if not matched:
        raise TargetNotFound(f"no proxy edge matches {pattern!r} (edges: {existing})")
    return matched, pattern


def _ttl_ms(ttl_s: float | None) -> int | None:
    if ttl_s is None:
        return None
    if not 0 < ttl_s <= MAX_TTL_S:
        raise InvalidFaultArgument(
            f"ttl_s must be > 0 and <= {MAX_TTL_S:.0f} seconds (or null for no TTL), not {ttl_s}"
        )
    return int(ttl_s * 1000)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidFaultArgument(message)


class _Target(NamedTuple):
    """The target arguments every fault takes, as the caller gave them."""

    edge: str | None
    service: str | None
    proxy: str | Sequence[str] | None
    proxy_api: str | None
    configuration: Configuration

    def resolve(self) -> tuple[str, list[str], str]:
        """The proxy API's URL, the proxy names and the target's label (see `_resolve`)."""
        url = find_proxy_api(self.configuration, self.proxy_api)
        with _client(url) as client:
            names, label = _resolve(client, self.edge, self.service, self.proxy)
        return url, names, label


# -- applying and undoing toxics ----------------------------------------------------------


def _apply(
    *,
    kind: str,
    undo_func: str,
    configuration: Configuration,
    target_label: str,
    names: list[str],
    url: str,
    undo_arguments: dict[str, Any],
    ttl_s: float | None,
    apply: Callable[[ToxiproxyClient], None],
) -> dict[str, Any]:
    """Ledger intent → watchdog → apply → applied; on failure undo what was applied and
    re-raise.

    A fault with a TTL gets its detached watchdog before it is applied, like its ledger
    intent: a runner killed at any moment after the intent still has its fault lifted at
    the TTL, also where the proxy cannot expire it (a disabled proxy, a real Toxiproxy that
    ignores `ttl_ms`). Where the proxy does expire it, the watchdog only settles the entry.
    """
    ledger = find_ledger(configuration)
    expires_at = time.time() + ttl_s if ttl_s is not None else None
    undo = UndoSpec(module=MODULE, func=undo_func, arguments={**undo_arguments, "proxy_api": url})
    entry = ledger.record_intent(
        f"network.{kind}",
        target_label,
        undo,
        expires_at=expires_at,
        run_dir=run_dir_of(configuration),
    )
    if expires_at is not None:
        expiry.arm(ledger, entry)
    try:
        with _client(url) as client:
            apply(client)
    except Exception as exc:
        outcome = "was undone" if _compensate(ledger, entry) else "is left for `gameday rollback`"
        raise FaultNotApplied(
            f"{kind} on {target_label} failed and {outcome}: {type(exc).__name__}: {exc}"
        ) from exc
    ledger.mark(entry, "applied")
    return {
        "ledger_id": entry.id,
        "kind": kind,
        "target": target_label,
        "proxies": names,
        "expires_at": expires_at,
    }


def _compensate(ledger: Ledger, entry: LedgerEntry) -> bool:
    """Undo a half-applied fault; false if that failed too (the entry stays outstanding)."""
    try:
        undo_entry(entry, ledger)
    except UndoFailed:
        return False
    return True


def _inject_toxic(
    kind: str,
    toxic_type: str,
    attributes: dict[str, Any],
    stream: str,
    toxicity: float,
    ttl_s: float | None,
    target: _Target,
    route: str = "",
) -> dict[str, Any]:
    """The whole of a toxic fault: validate, resolve the target, then add a toxic per
    stream to every target proxy under a ledger entry whose undo is `remove_toxics`.
    `route` (HTTP faults: the requests matched) is appended to the target's label."""
    spec = ToxicSpec.build(kind, toxic_type, attributes, stream, toxicity)
    ttl_ms = _ttl_ms(ttl_s)
    url, names, label = target.resolve()
    if route:
        label = f"{label} {route}"
    toxic_names = spec.names

    def apply(client: ToxiproxyClient) -> None:
        for name in names:
            for toxic_name, toxic_stream in spec.named_streams():
                try:
                    spec.add(client, name, toxic_name, toxic_stream, ttl_ms)
                except AlreadyExists:
                    # The same fault again replaces the old one rather than stacking.
                    client.remove_toxic(name, toxic_name)
                    spec.add(client, name, toxic_name, toxic_stream, ttl_ms)

    result = _apply(
        kind=kind,
        undo_func="remove_toxics",
        configuration=target.configuration,
        target_label=label,
        names=names,
        url=url,
        undo_arguments={"proxy": names, "toxics": toxic_names},
        ttl_s=ttl_s,
        apply=apply,
    )
    return {**result, "toxics": toxic_names}


def _settle(
    configuration: Configuration, url: str, func: str, covers: Callable[[dict[str, Any]], bool]
) -> None:
    """Mark outstanding ledger entries that this undo has just reversed as undone."""

    def matches(entry: LedgerEntry) -> bool:
        args = entry.undo.arguments
        return (
            entry.undo.module == MODULE
            and entry.undo.func == func
            and str(args.get("proxy_api", "")).rstrip("/") == url
            and covers(args)
        )

    find_ledger(configuration).settle(matches, "undone")


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _undo_targets(
    client: ToxiproxyClient,
    edge: str | None,
    service: str | None,
    proxy: str | Sequence[str] | None,
) -> list[str]:
    """Like `_resolve`, but a proxy that vanished is simply nothing left to undo."""
    if proxy:
        wanted = _as_list(proxy) or []
        existing = set(_proxy_names(client))
        return [name for name in wanted if name in existing]
    try:
        names, _ = _resolve(client, edge, service, None)
    except TargetNotFound:
        return []
    return names


def remove_toxics(
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    toxics: list[str] | None = None,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Undo of every toxic fault: remove our toxics (all `gameday-*` toxics, or only the
    names in `toxics`) from the target proxies. Idempotent."""
    url = find_proxy_api(configuration, proxy_api)
    removed: list[str] = []
    with _client(url) as client:
        names = _undo_targets(client, edge, service, proxy)
        for name in names:
            try:
                present = [toxic.name for toxic in client.toxics(name)]
            except NotFound:
                continue
            for toxic_name in present:
                if not is_ours(toxic_name, toxics):
                    continue
                try:
                    client.remove_toxic(name, toxic_name)
                except NotFound:
                    continue  # expired between listing and removing
                removed.append(f"{name}/{toxic_name}")
    expected = set(_as_list(proxy) or []) if proxy else set(names)

    def covers(args: dict[str, Any]) -> bool:
        proxies_covered = set(args.get("proxy") or []) <= expected
        return proxies_covered and toxics_covered(args, toxics)

    _settle(configuration, url, "remove_toxics", covers)
    return {"removed": removed}


# -- the faults ---------------------------------------------------------------------------


def add_latency(
    latency_ms: int,
    jitter_ms: int = 0,
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    ttl_s: float | None = DEFAULT_TTL_S,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Delay data by `latency_ms` ± `jitter_ms` (Toxiproxy `latency`). Undo: remove_toxics."""
    _check(latency_ms >= 0, f"latency_ms must be >= 0, not {latency_ms}")
    _check(jitter_ms >= 0, f"jitter_ms must be >= 0, not {jitter_ms}")
    attributes = {"latency": int(latency_ms), "jitter": int(jitter_ms)}
    target = _Target(edge, service, proxy, proxy_api, configuration)
    return _inject_toxic("latency", "latency", attributes, stream, toxicity, ttl_s, target)


def limit_bandwidth(
    rate_kbps: int,
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    ttl_s: float | None = DEFAULT_TTL_S,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Cap throughput at `rate_kbps` kilobytes per second (Toxiproxy `bandwidth` rate, KB/s).
    Undo: remove_toxics."""
    _check(rate_kbps >= 0, f"rate_kbps must be >= 0, not {rate_kbps}")
    attributes = {"rate": int(rate_kbps)}
    target = _Target(edge, service, proxy, proxy_api, configuration)
    return _inject_toxic("bandwidth", "bandwidth", attributes, stream, toxicity, ttl_s, target)


def reset_connections(
    timeout_ms: int = 0,
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    ttl_s: float | None = DEFAULT_TTL_S,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Reset connections (TCP RST) after `timeout_ms` (0: as soon as data flows)
    (Toxiproxy `reset_peer`). Undo: remove_toxics."""
    _check(timeout_ms >= 0, f"timeout_ms must be >= 0, not {timeout_ms}")
    attributes = {"timeout": int(timeout_ms)}
    target = _Target(edge, service, proxy, proxy_api, configuration)
    return _inject_toxic("reset", "reset_peer", attributes, stream, toxicity, ttl_s, target)


def slow_close(
    delay_ms: int,
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    ttl_s: float | None = DEFAULT_TTL_S,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Delay the closing of connections by `delay_ms` (Toxiproxy `slow_close`).
    Undo: remove_toxics."""
    _check(delay_ms >= 0, f"delay_ms must be >= 0, not {delay_ms}")
    attributes = {"delay": int(delay_ms)}
    target = _Target(edge, service, proxy, proxy_api, configuration)
    return _inject_toxic("slow_close", "slow_close", attributes, stream, toxicity, ttl_s, target)


def slice_packets(
    average_size: int,
    size_variation: int = 0,
    delay_us: int = 0,
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    ttl_s: float | None = DEFAULT_TTL_S,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Slice data into chunks of `average_size` ± `size_variation` bytes, `delay_us`
    microseconds apart (Toxiproxy `slicer`). Undo: remove_toxics."""
    _check(average_size > 0, f"average_size must be > 0 bytes, not {average_size}")
    _check(
        0 <= size_variation < average_size,
        f"size_variation must be >= 0 and smaller than average_size, not {size_variation}",
    )
    _check(delay_us >= 0, f"delay_us must be >= 0, not {delay_us}")
    attributes = {
        "average_size": int(average_size),
        "size_variation": int(size_variation),
        "delay": int(delay_us),
    }
    target = _Target(edge, service, proxy, proxy_api, configuration)
    return _inject_toxic("slicer", "slicer", attributes, stream, toxicity, ttl_s, target)


def limit_data(
    bytes: int,
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    ttl_s: float | None = DEFAULT_TTL_S,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Close each connection after `bytes` bytes went through (Toxiproxy `limit_data`).
    Undo: remove_toxics."""
    _check(bytes >= 0, f"bytes must be >= 0, not {bytes}")
    attributes = {"bytes": int(bytes)}
    target = _Target(edge, service, proxy, proxy_api, configuration)
    return _inject_toxic("limit_data", "limit_data", attributes, stream, toxicity, ttl_s, target)


# -- partitions ---------------------------------------------------------------------------

PARTITION_TOXICS = [f"{TOXIC_PREFIX}partition-upstream", f"{TOXIC_PREFIX}partition-downstream"]


def partition(
    mode: Literal["blackhole", "refuse"] = "blackhole",
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    ttl_s: float | None = DEFAULT_TTL_S,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Cut the target edges. `blackhole`: connections open but no byte passes in either
    direction (a `timeout` toxic with timeout 0 both ways; callers hit their own timeouts).
    `refuse`: the proxy is disabled, so new connections are refused and open ones closed
    (re-enabled by a detached watchdog when `ttl_s` passes). Undo: heal_partition."""
    if mode not in ("blackhole", "refuse"):
        raise InvalidFaultArgument(f"mode must be 'blackhole' or 'refuse', not {mode!r}")
    ttl_ms = _ttl_ms(ttl_s)
    url, names, label = _Target(edge, service, proxy, proxy_api, configuration).resolve()

    def apply(client: ToxiproxyClient) -> None:
        for name in names:
            if mode == "refuse":
                # A disabled proxy never re-enables itself: the TTL watchdog does.
                client.update_proxy(name, enabled=False)
                continue
            for toxic_name, stream in zip(
                PARTITION_TOXICS, ("upstream", "downstream"), strict=True
            ):
                with suppress(NotFound):
                    client.remove_toxic(name, toxic_name)
                client.add_toxic(
                    name,
                    "timeout",
                    name=toxic_name,
                    stream=stream,
                    attributes={"timeout": 0},
                    toxicity=1.0,
                    ttl_ms=ttl_ms,
                )

    result = _apply(
        kind=f"partition.{mode}",
        undo_func="heal_partition",
        configuration=configuration,
        target_label=label,
        names=names,
        url=url,
        undo_arguments={"proxy": names},
        ttl_s=ttl_s,
        apply=apply,
    )
    return {**result, "mode": mode}


def heal_partition(
    edge: str | None = None,
    service: str | None = None,
    proxy: str | list[str] | None = None,
    proxy_api: str | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Undo of `partition`: remove the partition toxics and re-enable the proxies.
    Idempotent; a vanished proxy is fine."""
    url = find_proxy_api(configuration, proxy_api)
    healed: list[str] = []
    with _client(url) as client:
        names = _undo_targets(client, edge, service, proxy)
        for name in names:
            try:
                for toxic_name in PARTITION_TOXICS:
                    with suppress(NotFound):
                        client.remove_toxic(name, toxic_name)
                client.update_proxy(name, enabled=True)
            except NotFound:
                continue
            healed.append(name)
    expected = set(_as_list(proxy) or []) if proxy else set(names)
    _settle(
        configuration,
        url,
        "heal_partition",
        lambda args: set(args.get("proxy") or []) <= expected,
    )
    return {"healed": healed}
