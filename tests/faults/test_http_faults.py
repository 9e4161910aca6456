"""HTTP faults through a real EmbeddedProxyServer in front of a real uvicorn upstream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaos.experiment import ExperimentError, load_experiment
from chaos.faults import http as http_faults
from chaos.faults import network
from chaos.faults.errors import InvalidFaultArgument, TargetNotFound
from chaos.proxy import EmbeddedProxyServer, ToxiproxyClient
from chaos.safety.ledger import Ledger, undo_outstanding
from tests.proxy_http.upstream import serving

EDGES = ["gateway->orders", "gateway->catalog"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Two proxy edges in front of one uvicorn upstream, and the run configuration."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GAMEDAY_LEDGER", raising=False)
    with serving() as upstream, EmbeddedProxyServer(port=0) as server:
        client = ToxiproxyClient(server.url, timeout=5.0)
        urls = {}
        for edge in EDGES:
            info = client.create_proxy(edge, upstream=upstream, listen="127.0.0.1:0")
            urls[edge] = f"http://127.0.0.1:{info.listen_port}"
        cfg = {
            "gameday_proxy_api": server.url,
            "gameday_ledger": str(tmp_path / "run" / "ledger.jsonl"),
            "gameday_run_dir": str(tmp_path / "run"),
        }
        try:
            yield {"client": client, "urls": urls, "cfg": cfg}
        finally:
            undo_outstanding(Ledger(cfg["gameday_ledger"]))
            client.close()


def _statuses(url: str, path: str, n: int, method: str = "GET") -> list[int]:
    with httpx.Client(base_url=url, timeout=10) as http:
        return [http.request(method, path).status_code for _ in range(n)]


def test_abort_requests_on_one_route_names_it_and_undo_lifts_it(mesh: dict[str, Any]) -> None:
    result = http_faults.abort_requests(
        http_status=500,
        edge="gateway->orders",
        method="post",
        path="/checkout*",
        ttl_s=60,
        configuration=mesh["cfg"],
    )
    orders = mesh["urls"]["gateway->orders"]
    assert result["target"] == "gateway->orders POST /checkout*"
    assert _statuses(orders, "/checkout", 2, "POST") == [500, 500]
    assert _statuses(orders, "/checkout", 1) == [200]  # GET is not matched
    assert _statuses(mesh["urls"]["gateway->catalog"], "/checkout", 1, "POST") == [200]

    ledger = Ledger(mesh["cfg"]["gameday_ledger"])
    (entry,) = ledger.outstanding()
    assert entry.kind == "network.http_abort" and entry.undo.func == "remove_toxics"
    network.remove_toxics(**entry.undo.arguments, configuration=mesh["cfg"])
    assert ledger.outstanding() == []
    assert _statuses(orders, "/checkout", 1, "POST") == [200]


def test_fail_first_requests_then_pass(mesh: dict[str, Any]) -> None:
    http_faults.fail_first_requests(
        count=2, service="orders", path="/pay", ttl_s=60, configuration=mesh["cfg"]
    )
    assert _statuses(mesh["urls"]["gateway->orders"], "/pay", 4) == [503, 503, 200, 200]


def test_delay_requests_holds_only_the_route(mesh: dict[str, Any]) -> None:
    result = http_faults.delay_requests(
        latency_ms=400,
        edge="gateway->*",
        path="/recommendations",
        stream="downstream",
        ttl_s=60,
        configuration=mesh["cfg"],
    )
    with httpx.Client(base_url=mesh["urls"]["gateway->catalog"], timeout=10) as http:
        start = time.monotonic()
        http.get("/recommendations")
        held = time.monotonic() - start
        http.get("/products")
    assert 0.4 <= held < 0.4 + 2.0
    (toxic,) = mesh["client"].toxics("gateway->catalog")
    assert toxic.name in result["toxics"]
    assert toxic.stats == {"requests": 2, "matched": 1, "faulted": 1, "not_http": 0}


def test_reset_responses_cuts_the_route(mesh: dict[str, Any]) -> None:
    http_faults.reset_responses(
        proxy="gateway->orders", path="/orders/*", ttl_s=60, configuration=mesh["cfg"]
    )
    with (
        httpx.Client(base_url=mesh["urls"]["gateway->orders"], timeout=10) as http,
        pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)),
    ):
        http.get("/orders/1")


def test_a_toxic_expires_at_its_ttl(mesh: dict[str, Any]) -> None:
    http_faults.abort_requests(edge="gateway->orders", ttl_s=0.5, configuration=mesh["cfg"])
    orders = mesh["urls"]["gateway->orders"]
    assert _statuses(orders, "/a", 1) == [503]
    deadline = time.monotonic() + 10
    while mesh["client"].toxics("gateway->orders") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _statuses(orders, "/a", 1) == [200]


@pytest.mark.parametrize(
    ("func", "arguments", "message"),
    [
        ("abort_requests", {"http_status": 99}, "http_status must be 200-599"),
        ("fail_first_requests", {"count": 0}, "count must be >= 1"),
        ("delay_requests", {"latency_ms": -1}, "latency_ms must be >= 0"),
        ("abort_requests", {"header_value": "x"}, "header_value needs header_name"),
        ("abort_requests", {"path": "checkout"}, "path is a glob"),
        ("reset_responses", {"method": "GET\r\n"}, "must not contain CR"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_applied(
    mesh: dict[str, Any], func: str, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidFaultArgument, match=message):
        getattr(http_faults, func)(service="orders", configuration=mesh["cfg"], **arguments)
    assert Ledger(mesh["cfg"]["gameday_ledger"]).outstanding() == []
    assert all(mesh["client"].toxics(edge) == [] for edge in EDGES)


def test_an_unknown_target_is_named(mesh: dict[str, Any]) -> None:
    with pytest.raises(TargetNotFound, match="payments"):
        http_faults.abort_requests(service="payments", configuration=mesh["cfg"])


def test_validation_names_a_wrong_http_fault_argument(tmp_path: Path) -> None:
    source = (ROOT / "experiments" / "catalog-half-aborted.yaml").read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        source.replace("http_status: 500", "status: 500").replace(
            "runbook: runbooks/", f"runbook: {ROOT}/runbooks/"
        )
    )
    with pytest.raises(ExperimentError) as caught:
        load_experiment(broken)
    message = str(caught.value)
    assert "broken.yaml:" in message
    assert "chaos.faults.http.abort_requests has no parameter 'status'" in message
    assert "http_status" in message  # the parameters it does have are listed
