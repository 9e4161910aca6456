"""One edge's resilience patterns against a scripted callee (no network)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from prometheus_client import REGISTRY

from chaos.targets.shop.config import EdgeTarget
from chaos.targets.shop.edges import EdgeClient, EdgeUnavailable
from chaos.targets.shop.topology import EdgePolicy


def _client(handler, **policy: object) -> EdgeClient:
    target = EdgeTarget(
        name="a->b", url="http://b.invalid", policy=EdgePolicy.model_validate(policy)
    )
    return EdgeClient(target, transport=httpx.MockTransport(handler))


def _fast_retry(attempts: int = 3) -> dict:
    return {"attempts": attempts, "initial_backoff_s": 0.001, "max_backoff_s": 0.002, "jitter_s": 0}


def test_retries_transient_failures_then_succeeds() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers.get("x-request-id", "?"))
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"ok": True})

    async def scenario() -> None:
        client = _client(handler, retry=_fast_retry())
        response = await client.request("GET", "/x")
        assert response.json() == {"ok": True}
        await client.aclose()

    asyncio.run(scenario())
    assert len(calls) == 3


def test_client_errors_pass_through_without_retry() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(409, json={"detail": "out of stock"})

    async def scenario() -> None:
        client = _client(handler, retry=_fast_retry())
        assert (await client.request("POST", "/x", json={})).status_code == 409
        await client.aclose()

    asyncio.run(scenario())
    assert calls == [1]


def test_no_retry_when_disabled_or_not_safe() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503)

    async def scenario() -> None:
        client = _client(handler, retry=_fast_retry())
        with pytest.raises(EdgeUnavailable, match="answered 503"):
            await client.request("POST", "/x", retry=False)
        off = _client(handler, retry={**_fast_retry(), "enabled": False})
        with pytest.raises(EdgeUnavailable):
            await off.request("GET", "/x")
        await client.aclose()
        await off.aclose()

    asyncio.run(scenario())
    assert calls == [1, 1]


def test_breaker_opens_and_fails_fast_until_reset() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500)

    async def scenario() -> None:
        client = _client(
            handler,
            retry={"enabled": False},
            circuit_breaker={"fail_max": 3, "reset_timeout_s": 60},
        )
        for _ in range(3):
            with pytest.raises(EdgeUnavailable):
                await client.request("GET", "/x")
        assert client.breaker is not None and client.breaker.current_state == "open"
        with pytest.raises(EdgeUnavailable, match="circuit breaker open"):
            await client.request("GET", "/x")
        await client.aclose()

    asyncio.run(scenario())
    assert len(calls) == 3  # the fourth call never reached the callee


def test_breaker_disabled_keeps_calling() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500)

    async def scenario() -> None:
        client = _client(
            handler, retry={"enabled": False}, circuit_breaker={"enabled": False, "fail_max": 1}
        )
        for _ in range(5):
            with pytest.raises(EdgeUnavailable):
                await client.request("GET", "/x")
        await client.aclose()

    asyncio.run(scenario())
    assert len(calls) == 5


def test_timeout_is_reported_as_such() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async def scenario() -> None:
        client = _client(handler, retry={"enabled": False})
        with pytest.raises(EdgeUnavailable) as info:
            await client.request("GET", "/x")
        assert info.value.timed_out
        await client.aclose()

    asyncio.run(scenario())


def test_bulkhead_refuses_beyond_its_bound() -> None:
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200)

    async def scenario() -> None:
        client = _client(
            slow, retry={"enabled": False}, bulkhead={"max_concurrent": 2, "max_wait_s": 0.05}
        )
        first = [asyncio.create_task(client.request("GET", "/x")) for _ in range(2)]
        await asyncio.sleep(0.01)
        with pytest.raises(EdgeUnavailable, match="bulkhead full"):
            await client.request("GET", "/x")
        release.set()
        assert [r.status_code for r in await asyncio.gather(*first)] == [200, 200]
        await client.aclose()

    asyncio.run(scenario())


def _reported_breaker_state(edge: str) -> float | None:
    return REGISTRY.get_sample_value("shop_circuit_breaker_state", {"edge": edge})


def test_breaker_gauge_turns_half_open_once_the_reset_timeout_has_passed() -> None:
    # pybreaker leaves "open" only on the next call; the gauge must not report an idle
    # edge as open once its next call would be a trial.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)

    async def scenario() -> None:
        target = EdgeTarget(
            name="gauge->b",
            url="http://b.invalid",
            policy=EdgePolicy.model_validate(
                {
                    "retry": {"enabled": False},
                    "circuit_breaker": {"fail_max": 1, "reset_timeout_s": 0.3},
                }
            ),
        )
        client = EdgeClient(target, transport=httpx.MockTransport(handler))
        assert _reported_breaker_state("gauge->b") == 0
        with pytest.raises(EdgeUnavailable):
            await client.request("GET", "/x")
        assert _reported_breaker_state("gauge->b") == 2
        deadline = time.monotonic() + 10
        while _reported_breaker_state("gauge->b") == 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert _reported_breaker_state("gauge->b") == 1
        assert client.breaker is not None and client.breaker.current_state == "open"
        await client.aclose()

    asyncio.run(scenario())
