"""A small typed client for the Toxiproxy HTTP API, with a timeout on every call.

It talks to the embedded server and to a real Toxiproxy alike (a real Toxiproxy ignores
``ttl_ms``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from chaos.proxy.errors import ProxyUnreachable, ToxiproxyError, error_for
from chaos.proxy.models import ProxyInfo, ToxicInfo


def _seg(name: str) -> str:
    return quote(name, safe="")


class ToxiproxyClient:
    """Client of one Toxiproxy API, e.g. ``ToxiproxyClient("http://127.0.0.1:8474")``."""

    def __init__(self, url: str = "http://127.0.0.1:8474", timeout: float = 5.0) -> None:
        if "://" not in url:
            url = f"http://{url}"
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            headers={"User-Agent": "chaos-gameday", "Content-Type": "application/json"},
            trust_env=False,
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._http.request(method, path, json=body if body is not None else None)
        except httpx.TimeoutException as exc:
            raise ProxyUnreachable(
                f"{method} {self.url}{path} timed out after {self.timeout} s"
            ) from exc
        except httpx.TransportError as exc:
            raise ProxyUnreachable(f"{method} {self.url}{path}: {exc}") from exc
        if response.status_code >= 400:
            raise self._error(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ToxiproxyError(
                response.status_code, f"reply is not JSON: {response.text[:200]!r}"
            ) from exc

    @staticmethod
    def _error(response: httpx.Response) -> ToxiproxyError:
        try:
            body = response.json()
            message = str(body.get("error", response.text))
            status = int(body.get("status", response.status_code))
        except (ValueError, AttributeError, TypeError):
            message, status = response.text.strip(), response.status_code
        return error_for(status, message)

    # -- server ------------------------------------------------------------------------

    def version(self) -> str:
        """The server's version string (``git`` for development builds)."""
        return str(self._call("GET", "/version")["version"])

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")

    # -- proxies -----------------------------------------------------------------------

    def proxies(self) -> dict[str, ProxyInfo]:
        """All proxies by name."""
        body = self._call("GET", "/proxies") or {}
        return {name: ProxyInfo.model_validate(p) for name, p in body.items()}

    def get_proxy(self, name: str) -> ProxyInfo:
        """One proxy; raises NotFound."""
        return ProxyInfo.model_validate(self._call("GET", f"/proxies/{_seg(name)}"))

    def create_proxy(
        self, name: str, upstream: str, listen: str = "127.0.0.1:0", enabled: bool = True
    ) -> ProxyInfo:
        """Create a proxy; ``listen`` port 0 picks a free port (read it from the result)."""
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return ProxyInfo.model_validate(self._call("POST", "/proxies", body))

    def update_proxy(
        self,
        name: str,
        *,
        listen: str | None = None,
        upstream: str | None = None,
        enabled: bool | None = None,
    ) -> ProxyInfo:
        """Change only the given fields; ``enabled=False`` cuts every live connection."""
        body = {
            k: v
            for k, v in (("listen", listen), ("upstream", upstream), ("enabled", enabled))
            if v is not None
        }
        return ProxyInfo.model_validate(self._call("POST", f"/proxies/{_seg(name)}", body))

    def delete_proxy(self, name: str) -> None:
        """Delete a proxy; raises NotFound."""
        self._call("DELETE", f"/proxies/{_seg(name)}")

    def populate(self, proxies: Iterable[Mapping[str, Any] | ProxyInfo]) -> list[ProxyInfo]:
        """Create or replace proxies in bulk; proxies whose config is unchanged are kept."""
        items = []
        for p in proxies:
            if isinstance(p, ProxyInfo):
                p = {"name": p.name, "listen": p.listen, "upstream": p.upstream}
            items.append(dict(p))
        body = self._call("POST", "/populate", items) or {}
        return [ProxyInfo.model_validate(p) for p in body.get("proxies") or []]

    # -- toxics ------------------------------------------------------------------------

    def toxics(self, proxy: str) -> list[ToxicInfo]:
        """The toxics of a proxy (upstream ones first)."""
        body = self._call("GET", f"/proxies/{_seg(proxy)}/toxics") or []
        return [ToxicInfo.model_validate(t) for t in body]

    def get_toxic(self, proxy: str, name: str) -> ToxicInfo:
        """One toxic; raises NotFound."""
        return ToxicInfo.model_validate(
            self._call("GET", f"/proxies/{_seg(proxy)}/toxics/{_seg(name)}")
        )

    def add_toxic(
        self,
        proxy: str,
        type: str,
        *,
        name: str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
        attributes: Mapping[str, int] | None = None,
        ttl_ms: int | None = None,
    ) -> ToxicInfo:
        """Add a toxic; its default name is ``<type>_<stream>``.

        ``ttl_ms`` makes the toxic remove itself after that many milliseconds (embedded
        server only; a real Toxiproxy ignores it).
        """
        body: dict[str, Any] = {
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": dict(attributes or {}),
        }
        if name is not None:
            body["name"] = name
        if ttl_ms is not None:
            body["ttl_ms"] = ttl_ms
        return ToxicInfo.model_validate(self._call("POST", f"/proxies/{_seg(proxy)}/toxics", body))

    def update_toxic(
        self,
        proxy: str,
        name: str,
        *,
        attributes: Mapping[str, int] | None = None,
        toxicity: float | None = None,
        ttl_ms: int | None = None,
    ) -> ToxicInfo:
        """Change only the given attributes/toxicity; ``ttl_ms`` re-arms the expiry."""
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = dict(attributes)
        if toxicity is not None:
            body["toxicity"] = toxicity
        if ttl_ms is not None:
            body["ttl_ms"] = ttl_ms
        return ToxicInfo.model_validate(
            self._call("POST", f"/proxies/{_seg(proxy)}/toxics/{_seg(name)}", body)
        )

    def remove_toxic(self, proxy: str, name: str) -> None:
        """Remove a toxic; raises NotFound."""
        self._call("DELETE", f"/proxies/{_seg(proxy)}/toxics/{_seg(name)}")
