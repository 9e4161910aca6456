"""Network faults against a real EmbeddedProxyServer in front of a real TCP echo upstream."""

from __future__ import annotations

import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.faults import expiry, network
from chaos.faults.errors import (
    FaultNotApplied,
    InvalidFaultArgument,
    TargetNotFound,
    TargetUnknown,
)
from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient
from chaos.safety.ledger import Ledger, undo_entry, undo_outstanding

EDGES = ["orders->payments", "gateway->payments", "orders->inventory"]


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(10)
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:
            pass


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def echo() -> Iterator[int]:
    server = EchoServer(("127.0.0.1", 0), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def mesh(echo: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A proxy with three edges in front of the echo server, and the run configuration."""
    monkeypatch.chdir(tmp_path)  # undos without configuration use ./.gameday/ledger.jsonl
    monkeypatch.delenv("GAMEDAY_LEDGER", raising=False)
    with EmbeddedProxyServer(host="127.0.0.1", port=0) as server:
        client = ToxiproxyClient(server.url, timeout=5.0)
        ports = {}
        for edge in EDGES:
            info = client.create_proxy(edge, upstream=f"127.0.0.1:{echo}", listen="127.0.0.1:0")
            ports[edge] = info.listen_port
        cfg = {
            "gameday_proxy_api": server.url,
            "gameday_ledger": str(tmp_path / "run" / "ledger.jsonl"),
            "gameday_run_dir": str(tmp_path / "run"),
        }
        try:
            yield {"client": client, "ports": ports, "cfg": cfg, "url": server.url}
        finally:
            settle_and_reap(Ledger(cfg["gameday_ledger"]))
            client.close()


def settle_and_reap(ledger: Ledger) -> None:
    """Undo whatever a failed test left applied, so that its watchdogs exit, and reap them."""
    undo_outstanding(ledger)
    for proc in expiry.running_watchdogs():
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def round_trip(port: int, payload: bytes = b"ping", timeout: float = 5.0) -> float:
    """Seconds to send `payload` through the port and read it back."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        started = time.monotonic()
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the echo arrived")
            received += chunk
        return time.monotonic() - started


def toxic_names(client: ToxiproxyClient, proxy: str) -> set[str]:
    return {toxic.name for toxic in client.toxics(proxy)}


def ledger_of(mesh: dict[str, Any]) -> Ledger:
    return Ledger(mesh["cfg"]["gameday_ledger"])


def wait_until(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_latency_slows_the_edge_and_undo_restores_it(mesh: dict[str, Any]) -> None:
    port = mesh["ports"]["orders->payments"]
    result = network.add_latency(
        latency_ms=800, edge="orders->payments", ttl_s=60, configuration=mesh["cfg"]
    )
    assert round_trip(port) >= 0.8
    assert round_trip(mesh["ports"]["orders->inventory"]) < 0.8  # other edges untouched

    ledger = ledger_of(mesh)
    [entry] = ledger.outstanding()
    assert entry.id == result["ledger_id"] and entry.status == "applied"
    assert entry.kind == "network.latency" and entry.target == "orders->payments"
    assert entry.undo.func == "remove_toxics"
    assert entry.undo.arguments["proxy"] == ["orders->payments"]
    assert entry.undo.arguments["proxy_api"] == mesh["url"]
    assert entry.expires_at == pytest.approx(time.time() + 60, abs=10)
    assert entry.run_dir == mesh["cfg"]["gameday_run_dir"]

    network.remove_toxics(edge="orders->payments", configuration=mesh["cfg"])
    assert toxic_names(mesh["client"], "orders->payments") == set()
    assert round_trip(port) < 0.8
    assert ledger.get(entry.id).status == "undone"
    assert ledger.outstanding() == []


def test_intent_is_on_disk_before_the_toxic_is_added(
    mesh: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []
    real_add = ToxiproxyClient.add_toxic

    def spying_add(self: ToxiproxyClient, *args: Any, **kwargs: Any) -> Any:
        seen.append([entry.status for entry in ledger_of(mesh).history()])
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(ToxiproxyClient, "add_toxic", spying_add)
    network.add_latency(latency_ms=10, edge="orders->payments", configuration=mesh["cfg"])
    assert seen == [["intent"]]
    assert [e.status for e in ledger_of(mesh).history()] == ["intent", "applied"]


def test_every_edge_into_a_service(mesh: dict[str, Any]) -> None:
    result = network.add_latency(latency_ms=300, service="payments", configuration=mesh["cfg"])
    assert sorted(result["proxies"]) == ["gateway->payments", "orders->payments"]
    assert result["target"] == "*->payments"
    for edge in ("gateway->payments", "orders->payments"):
        assert toxic_names(mesh["client"], edge) == {"gameday-latency-downstream"}
    assert toxic_names(mesh["client"], "orders->inventory") == set()
    # The same fault through an edge pattern is the same target set.
    again = network.add_latency(latency_ms=300, edge="*->payments", configuration=mesh["cfg"])
    assert sorted(again["proxies"]) == sorted(result["proxies"])
    network.remove_toxics(service="payments", configuration=mesh["cfg"])
    assert ledger_of(mesh).outstanding() == []


def test_blackhole_partition_blocks_both_ways_until_healed(mesh: dict[str, Any]) -> None:
    port = mesh["ports"]["orders->payments"]
    network.partition(mode="blackhole", edge="orders->payments", configuration=mesh["cfg"])
    assert toxic_names(mesh["client"], "orders->payments") == set(network.PARTITION_TOXICS)
    with pytest.raises(TimeoutError):
        round_trip(port, timeout=1.0)
    network.heal_partition(edge="orders->payments", configuration=mesh["cfg"])
    assert round_trip(port) < 2.0
    assert ledger_of(mesh).outstanding() == []


def test_refuse_partition_disables_the_proxy(mesh: dict[str, Any]) -> None:
    port = mesh["ports"]["orders->payments"]
    network.partition(mode="refuse", edge="orders->payments", configuration=mesh["cfg"])
    with pytest.raises((ConnectionError, OSError)):
        round_trip(port, timeout=2.0)
    [entry] = ledger_of(mesh).outstanding()
    assert entry.kind == "network.partition.refuse" and entry.undo.func == "heal_partition"
    undo_entry(entry, ledger_of(mesh))
    assert round_trip(port) < 2.0
    undo_entry(entry, ledger_of(mesh))  # healing twice is fine
    assert ledger_of(mesh).get(entry.id).status == "undone"


def test_refused_proxy_is_re_enabled_by_the_ttl_watchdog(mesh: dict[str, Any]) -> None:
    port = mesh["ports"]["orders->inventory"]
    result = network.partition(
        mode="refuse", edge="orders->inventory", ttl_s=1.0, configuration=mesh["cfg"]
    )
    with pytest.raises((ConnectionError, OSError)):
        round_trip(port, timeout=2.0)
    ledger = ledger_of(mesh)
    assert wait_until(lambda: ledger.get(result["ledger_id"]).status == "expired", timeout=20)
    assert round_trip(port) < 2.0


def test_toxic_ttl_expires_on_its_own(mesh: dict[str, Any]) -> None:
    result = network.add_latency(
        latency_ms=500, edge="orders->payments", ttl_s=1.0, configuration=mesh["cfg"]
    )
    client = mesh["client"]
    assert toxic_names(client, "orders->payments") == {"gameday-latency-downstream"}
    assert wait_until(lambda: toxic_names(client, "orders->payments") == set(), timeout=15)
    assert round_trip(mesh["ports"]["orders->payments"]) < 0.5
    # The ledger still lists it until an undo confirms it is gone, then says it expired.
    ledger = ledger_of(mesh)
    [entry] = ledger.outstanding()
    undo_entry(entry, ledger)
    assert ledger.get(result["ledger_id"]).status == "expired"


def test_undo_is_idempotent_even_when_the_proxy_vanished(mesh: dict[str, Any]) -> None:
    network.limit_bandwidth(rate_kbps=8, edge="orders->inventory", configuration=mesh["cfg"])
    ledger = ledger_of(mesh)
    [entry] = ledger.outstanding()
    mesh["client"].delete_proxy("orders->inventory")
    undo_entry(entry, ledger)
    undo_entry(entry, ledger)
    assert ledger.get(entry.id).status == "undone"
    assert network.heal_partition(proxy="orders->inventory", configuration=mesh["cfg"]) == {
        "healed": []
    }


@pytest.mark.parametrize(
    ("fault", "kwargs", "toxic_type", "attributes"),
    [
        (network.limit_bandwidth, {"rate_kbps": 16}, "bandwidth", {"rate": 16}),
        (network.reset_connections, {"timeout_ms": 5}, "reset_peer", {"timeout": 5}),
        (network.slow_close, {"delay_ms": 200}, "slow_close", {"delay": 200}),
        (
            network.slice_packets,
            {"average_size": 8, "size_variation": 2, "delay_us": 10},
            "slicer",
            {"average_size": 8, "size_variation": 2, "delay": 10},
        ),
        (network.limit_data, {"bytes": 3}, "limit_data", {"bytes": 3}),
    ],
)
def test_each_toxic_fault_installs_its_toxic(
    mesh: dict[str, Any], fault: Any, kwargs: dict[str, Any], toxic_type: str, attributes: dict
) -> None:
    result = fault(proxy="orders->payments", stream="both", configuration=mesh["cfg"], **kwargs)
    toxics = {t.name: t for t in mesh["client"].toxics("orders->payments")}
    assert set(toxics) == set(result["toxics"]) and len(toxics) == 2
    for toxic in toxics.values():
        assert toxic.type == toxic_type
        assert {k: toxic.attributes[k] for k in attributes} == attributes
    assert {t.stream for t in toxics.values()} == {"upstream", "downstream"}
    network.remove_toxics(proxy="orders->payments", configuration=mesh["cfg"])
    assert toxic_names(mesh["client"], "orders->payments") == set()
    assert ledger_of(mesh).outstanding() == []


def test_limit_data_closes_the_connection(mesh: dict[str, Any]) -> None:
    network.limit_data(bytes=4, edge="orders->payments", configuration=mesh["cfg"])
    with pytest.raises((ConnectionError, OSError)):
        round_trip(mesh["ports"]["orders->payments"], payload=b"x" * 64)


def test_reset_connections_resets(mesh: dict[str, Any]) -> None:
    network.reset_connections(edge="orders->payments", configuration=mesh["cfg"])
    with pytest.raises((ConnectionError, OSError)):
        round_trip(mesh["ports"]["orders->payments"])


def test_reapplying_a_fault_replaces_it(mesh: dict[str, Any]) -> None:
    network.add_latency(latency_ms=100, edge="orders->payments", configuration=mesh["cfg"])
    network.add_latency(latency_ms=900, edge="orders->payments", configuration=mesh["cfg"])
    [toxic] = mesh["client"].toxics("orders->payments")
    assert toxic.attributes["latency"] == 900
    network.remove_toxics(edge="orders->payments", configuration=mesh["cfg"])
    assert ledger_of(mesh).outstanding() == []


def test_failed_apply_is_compensated(mesh: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    real_add = ToxiproxyClient.add_toxic

    def fail_on_gateway(self: ToxiproxyClient, proxy: str, *args: Any, **kwargs: Any) -> Any:
        if proxy == "orders->payments":
            raise RuntimeError("injected failure")
        return real_add(self, proxy, *args, **kwargs)

    monkeypatch.setattr(ToxiproxyClient, "add_toxic", fail_on_gateway)
    with pytest.raises(FaultNotApplied, match="injected failure"):
        network.add_latency(latency_ms=100, service="payments", configuration=mesh["cfg"])
    # gateway->payments sorts first and got its toxic; the compensation removed it.
    assert toxic_names(mesh["client"], "gateway->payments") == set()
    assert [e.status for e in ledger_of(mesh).history()] == ["intent", "undone"]


def test_misuse_and_unknown_targets(mesh: dict[str, Any], tmp_path: Path) -> None:
    cfg = mesh["cfg"]
    with pytest.raises(InvalidFaultArgument, match="exactly one of"):
        network.add_latency(latency_ms=1, edge="orders->payments", service="x", configuration=cfg)
    with pytest.raises(InvalidFaultArgument, match="exactly one of"):
        network.add_latency(latency_ms=1, configuration=cfg)
    with pytest.raises(TargetNotFound, match="no proxy edge matches 'orders->nope'"):
        network.add_latency(latency_ms=1, edge="orders->nope", configuration=cfg)
    with pytest.raises(TargetNotFound, match="no proxy named"):
        network.add_latency(latency_ms=1, proxy="nope", configuration=cfg)
    with pytest.raises(InvalidFaultArgument, match="caller->callee"):
        network.add_latency(latency_ms=1, edge="payments", configuration=cfg)
    with pytest.raises(InvalidFaultArgument, match="stream"):
        network.add_latency(
            latency_ms=1, edge="orders->payments", stream="sideways", configuration=cfg
        )
    with pytest.raises(InvalidFaultArgument, match="ttl_s"):
        network.add_latency(latency_ms=1, edge="orders->payments", ttl_s=0, configuration=cfg)
    with pytest.raises(InvalidFaultArgument, match="latency_ms"):
        network.add_latency(latency_ms=-5, edge="orders->payments", configuration=cfg)
    with pytest.raises(InvalidFaultArgument, match="mode"):
        network.partition(mode="drop", edge="orders->payments", configuration=cfg)  # type: ignore[arg-type]
    assert ledger_of(mesh).history() == []  # nothing was recorded for rejected faults


def test_unreachable_proxy_api_is_a_clear_error(tmp_path: Path) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    cfg = {
        "gameday_proxy_api": f"http://127.0.0.1:{port}",
        "gameday_ledger": str(tmp_path / "ledger.jsonl"),
    }
    with pytest.raises(TargetUnknown, match="fault proxy API"):
        network.add_latency(latency_ms=1, edge="a->b", configuration=cfg)
    assert not (tmp_path / "ledger.jsonl").exists()


def test_a_proxy_that_ignores_ttl_gets_a_watchdog(
    mesh: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_add = ToxiproxyClient.add_toxic

    def like_real_toxiproxy(self: ToxiproxyClient, *args: Any, **kwargs: Any) -> Any:
        kwargs["ttl_ms"] = None  # a real Toxiproxy has no TTL: the toxic stays
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(ToxiproxyClient, "add_toxic", like_real_toxiproxy)
    result = network.add_latency(
        latency_ms=300, edge="orders->payments", ttl_s=1.0, configuration=mesh["cfg"]
    )
    client = mesh["client"]
    assert [t.ttl_ms for t in client.toxics("orders->payments")] == [None]
    assert wait_until(lambda: toxic_names(client, "orders->payments") == set(), timeout=20)
    ledger = ledger_of(mesh)
    assert wait_until(lambda: ledger.get(result["ledger_id"]).status == "expired", timeout=10)
