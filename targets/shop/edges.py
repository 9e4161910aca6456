"""A caller's client for one edge, with the edge's resilience patterns applied in the
order production clients apply them: bulkhead (bounded concurrency) around retries
(exponential backoff with jitter) around a circuit breaker around one timed attempt.

4xx answers are the callee's verdict and pass through untouched; connection errors,
timeouts and 5xx are failures: retried, counted by the breaker, and finally raised as
`EdgeUnavailable` for the caller's fallback or error answer.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import httpx
import pybreaker
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from chaos.targets.shop.config import EdgeTarget
from chaos.targets.shop.metrics import BREAKER_STATE, BULKHEAD_IN_USE, EDGE_CALLS, EDGE_RETRIES
from chaos.targets.shop.tracing import outgoing_trace_headers
from chaos.targets.shop.transport import FRESH_CONNECTION, LeanTransport

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
_BREAKER_VALUES = {"closed": 0, "half-open": 1, "open": 2}


class _BreakerClock(pybreaker.CircuitBreakerListener):
    """Remembers when a breaker opened. pybreaker only leaves the open state on the next
    call, so without this an idle edge would report "open" long after its reset timeout,
    when the next call is in fact a trial (half-open)."""

    def __init__(self) -> None:
        self.opened_at = 0.0

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state, new_state) -> None:
        if new_state is not None and new_state.name == pybreaker.STATE_OPEN:
            self.opened_at = time.monotonic()

    def gauge_value(self, breaker: pybreaker.CircuitBreaker) -> int:
        state = breaker.current_state
        if state == pybreaker.STATE_OPEN and (
            time.monotonic() >= self.opened_at + breaker.reset_timeout
        ):
            return _BREAKER_VALUES[pybreaker.STATE_HALF_OPEN]
        return _BREAKER_VALUES.get(state, 0)


class EdgeUnavailable(Exception):
    """The callee could not give an answer (after retries), or the breaker or bulkhead
    refused the call. `timed_out` tells a 504 from a 503."""

    def __init__(self, edge: str, reason: str, timed_out: bool = False) -> None:
        super().__init__(f"{edge}: {reason}")
        self.edge = edge
        self.reason = reason
        self.timed_out = timed_out


class _AttemptFailed(Exception):
    def __init__(self, reason: str, timed_out: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out


class EdgeClient:
    def __init__(
        self, target: EdgeTarget, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.name = target.name
        self.policy = target.policy
        policy = target.policy
        # httpx's Request/Response and exceptions, sent straight to the transport: the
        # client layer (URL joining, cookies, auth, redirects) is all cost and no use here.
        self._base = target.url.rstrip("/")
        self._transport = transport or LeanTransport()
        self._timeouts = httpx.Timeout(policy.timeout_s).as_dict()
        self._outcomes = {
            outcome: EDGE_CALLS.labels(self.name, outcome)
            for outcome in ("ok", "client_error", "error", "timeout")
        }
        self.breaker: pybreaker.CircuitBreaker | None = None
        if policy.circuit_breaker.enabled:
            clock = _BreakerClock()
            self.breaker = pybreaker.CircuitBreaker(
                fail_max=policy.circuit_breaker.fail_max,
                reset_timeout=policy.circuit_breaker.reset_timeout_s,
                name=target.name,
                listeners=[clock],
            )
            breaker = self.breaker
            BREAKER_STATE.labels(self.name).set_function(lambda: clock.gauge_value(breaker))
        else:
            BREAKER_STATE.labels(self.name).set(0)
        self._bulkhead = (
            asyncio.Semaphore(policy.bulkhead.max_concurrent) if policy.bulkhead.enabled else None
        )
        self._in_use = BULKHEAD_IN_USE.labels(self.name)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> httpx.Response:
        """One logical call. `retry=False` for calls that are not safe to repeat."""
        bulkhead = self._bulkhead
        if bulkhead is not None:
            if bulkhead.locked():
                try:
                    await asyncio.wait_for(bulkhead.acquire(), self.policy.bulkhead.max_wait_s)
                except TimeoutError:
                    EDGE_CALLS.labels(self.name, "bulkhead_full").inc()
                    raise EdgeUnavailable(self.name, "bulkhead full") from None
            else:
                await bulkhead.acquire()  # free: no waiting, no timer
        self._in_use.inc()
        try:
            return await self._with_retries(method, path, json, headers, retry)
        finally:
            self._in_use.dec()
            if self._bulkhead is not None:
                self._bulkhead.release()

    async def _with_retries(
        self,
        method: str,
        path: str,
        json: Any,
        headers: Mapping[str, str] | None,
        retry: bool,
    ) -> httpx.Response:
        policy = self.policy.retry
        attempts = policy.attempts if (retry and policy.enabled) else 1
        try:
            try:
                return await self._attempt(method, path, json, headers)
            except _AttemptFailed:
                if attempts == 1:
                    raise
            # Tenacity only once the first attempt failed: the common path stays cheap.
            EDGE_RETRIES.labels(self.name).inc()
            first_wait = min(policy.max_backoff_s, policy.initial_backoff_s)
            await asyncio.sleep(first_wait + random.uniform(0, policy.jitter_s))
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(attempts - 1),
                wait=wait_exponential(
                    multiplier=2 * policy.initial_backoff_s, max=policy.max_backoff_s
                )
                + wait_random(0, policy.jitter_s),
                retry=retry_if_exception_type(_AttemptFailed),
                before_sleep=lambda _state: EDGE_RETRIES.labels(self.name).inc(),
                reraise=True,
            ):
                with attempt:
                    # A retry never reuses a pooled connection: the one that failed may
                    # have company (all of them led to a replica that just died).
                    return await self._attempt(method, path, json, headers, fresh=True)
        except _AttemptFailed as exc:
            raise EdgeUnavailable(self.name, exc.reason, exc.timed_out) from exc
        except pybreaker.CircuitBreakerError as exc:
            EDGE_CALLS.labels(self.name, "breaker_open").inc()
            raise EdgeUnavailable(self.name, "circuit breaker open") from exc
        raise AssertionError("unreachable: tenacity either returns or reraises")

    async def _attempt(
        self,
        method: str,
        path: str,
        json: Any,
        headers: Mapping[str, str] | None,
        fresh: bool = False,
    ) -> httpx.Response:
        if self.breaker is None:
            return await self._send(method, path, json, headers, fresh)
        with self.breaker.calling():
            return await self._send(method, path, json, headers, fresh)

    async def _send(
        self, method: str, path: str, json: Any, headers: Mapping[str, str] | None, fresh: bool
    ) -> httpx.Response:
        sent = {"x-request-id": REQUEST_ID.get()}
        trace_headers = outgoing_trace_headers()
        if trace_headers:
            sent.update(trace_headers)
        if headers:
            sent.update(headers)
        request = httpx.Request(
            method, self._base + path, json=json, headers=sent,
            extensions={"timeout": self._timeouts, FRESH_CONNECTION: fresh},
        )  # fmt: skip
        try:
            response = await self._transport.handle_async_request(request)
            await response.aread()
        except httpx.TimeoutException as exc:
            self._outcomes["timeout"].inc()
            raise _AttemptFailed(f"timed out ({type(exc).__name__})", timed_out=True) from exc
        except httpx.TransportError as exc:
            self._outcomes["error"].inc()
            raise _AttemptFailed(f"{type(exc).__name__}: {exc}", timed_out=False) from exc
        if response.status_code >= 500:
            self._outcomes["error"].inc()
            raise _AttemptFailed(f"answered {response.status_code}", timed_out=False)
        self._outcomes["ok" if response.status_code < 400 else "client_error"].inc()
        return response
