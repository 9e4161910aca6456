"""`chaos.probes.prometheus` against the real Prometheus scraping the real mesh, with the
errors users meet: bad PromQL, no data, several series, a server that is down or silent,
and a mesh without a Prometheus."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from chaos.probes import prometheus
from chaos.probes.errors import (
    InvalidProbeArgument,
    NoData,
    ProbeTargetUnknown,
    ProbeUnreachable,
)
from chaos.probes.prometheus import QueryFailed
from chaos.targets.launcher import MeshHandle
from tests.prometheus.scrape import instant, replica_count, wait_for

PRODUCTS = 'sum(shop_http_requests_total{service="gateway",route="/products"})'


def _url(handle: MeshHandle) -> str:
    assert handle.state.prometheus_url is not None
    return handle.state.prometheus_url


def test_an_instant_query_returns_its_one_number(prometheus_mesh: MeshHandle) -> None:
    url = _url(prometheus_mesh)
    assert prometheus.query(url, 'count(up{job="shop"} == 1)') == replica_count(prometheus_mesh)
    assert prometheus.query(url, "scalar(vector(0.25))") == 0.25
    configuration = {"gameday_mesh_state": str(prometheus_mesh.state_file)}
    breakers = 'max(shop_circuit_breaker_state{edge="orders->payments"})'
    # Closed, or half-open when an earlier test opened it (its next call is a trial); the
    # newest scrape may still predate the settling, so wait for one that follows it.
    wait_for(
        lambda: prometheus.query(query=breakers, configuration=configuration) in (0.0, 1.0),
        "the orders->payments breakers reported closed or half-open",
    )


def test_no_data_raises_unless_a_default_is_given(prometheus_mesh: MeshHandle) -> None:
    url = _url(prometheus_mesh)
    with pytest.raises(NoData, match="shop_no_such_metric"):
        prometheus.query(url, "shop_no_such_metric")
    assert prometheus.query(url, "shop_no_such_metric", default=0) == 0.0
    with pytest.raises(NoData, match="in the last 5 s"):
        prometheus.query_range(url, "shop_no_such_metric", window_s=5)
    assert prometheus.query_range(url, "shop_no_such_metric", window_s=5, default=-1) == -1.0


def test_bad_promql_names_the_query_and_prometheus_error(prometheus_mesh: MeshHandle) -> None:
    url = _url(prometheus_mesh)
    with pytest.raises(QueryFailed) as caught:
        prometheus.query(url, "sum(rate(shop_http_requests_total[5s])")
    message = str(caught.value)
    assert "sum(rate(shop_http_requests_total[5s])" in message
    assert "bad_data" in message and "parse error" in message
    with pytest.raises(QueryFailed, match="series"):
        prometheus.query(url, 'up{job="shop"}')
    with pytest.raises(QueryFailed, match="returned a matrix"):
        prometheus.query(url, "up[10s]")
    with pytest.raises(InvalidProbeArgument, match="reduce"):
        prometheus.query_range(url, "up", reduce="median")  # type: ignore[arg-type]
    with pytest.raises(InvalidProbeArgument, match="non-empty"):
        prometheus.query(url, "  ")


def _wait_value(url: str, at_least: float) -> float:
    def reached() -> float | None:
        result = instant(url, PRODUCTS)
        value = float(result[0]["value"][1]) if result else 0.0
        return value if value >= at_least else None

    return float(wait_for(reached, f"{PRODUCTS} did not reach {at_least:g}"))


def test_a_range_is_reduced_by_min_max_avg_and_last(prometheus_mesh: MeshHandle) -> None:
    url = _url(prometheus_mesh)
    gateway = prometheus_mesh.state.gateway_url
    started = time.monotonic()
    before = instant(url, PRODUCTS)
    baseline = float(before[0]["value"][1]) if before else 0.0
    with httpx.Client(base_url=gateway, timeout=5.0) as client:
        for _ in range(5):
            assert client.get("/products").status_code == 200
        first = _wait_value(url, baseline + 5)
        # A second batch after the first was scraped: the counter's range has two levels.
        wait_for(lambda: time.monotonic() - started > 2.5, "time did not pass")
        for _ in range(10):
            assert client.get("/products").status_code == 200
        second = _wait_value(url, first + 10)
    # The value 2 s ago is already the final one: the range ends on a settled value.
    settled = PRODUCTS.replace("})", "} offset 2s)")

    def two_seconds_old() -> bool:
        result = instant(url, settled)
        return bool(result) and float(result[0]["value"][1]) == second

    wait_for(two_seconds_old, "the final value did not age 2 s")
    window = time.monotonic() - started + 5
    values = {
        reduce: prometheus.query_range(url, PRODUCTS, window_s=window, reduce=reduce)
        for reduce in ("min", "max", "avg", "last")
    }
    assert values["max"] == values["last"] == second
    assert values["min"] <= first < second
    assert values["min"] < values["avg"] < values["max"]


def test_a_server_that_is_down_or_silent_is_unreachable() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(ProbeUnreachable, match=f"127.0.0.1:{port}"):
        prometheus.query(f"http://127.0.0.1:{port}", "up")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        started = time.monotonic()
        with pytest.raises(ProbeUnreachable, match="no answer within 0.3 s"):
            prometheus.query(f"http://127.0.0.1:{silent.getsockname()[1]}", "up", timeout_s=0.3)
        assert time.monotonic() - started < 2.9


def test_a_mesh_without_prometheus_says_how_to_start_one(gameday_mesh: MeshHandle) -> None:
    with pytest.raises(ProbeTargetUnknown, match="--prometheus"):
        prometheus.query(
            query="up", configuration={"gameday_mesh_state": str(gameday_mesh.state_file)}
        )
