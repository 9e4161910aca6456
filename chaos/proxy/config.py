"""Proxy config files: Toxiproxy's /populate array, where each proxy may list toxics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chaos.proxy.collection import decode_proxy_config
from chaos.proxy.errors import ToxiproxyError
from chaos.proxy.toxics import decode_new_toxic


class ProxyConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the entry."""


def load_proxy_config(path: Path) -> list[dict[str, Any]]:
    """Read and check a config file before anything is started.

    The format is ``[{"name", "listen", "upstream", "enabled"?, "toxics"?: [toxic…]}]``,
    each toxic as the body of ``POST /proxies/{name}/toxics`` (``ttl_ms`` allowed).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProxyConfigError(f"{path}: cannot read the config file: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProxyConfigError(
            f"{path}, line {exc.lineno} column {exc.colno}: not valid JSON: {exc.msg}"
        ) from exc
    if not isinstance(data, list):
        raise ProxyConfigError(
            f"{path}: expected a JSON array of proxies "
            '([{"name": ..., "listen": ..., "upstream": ...}]), got a JSON '
            f"{type(data).__name__}"
        )
    names: set[str] = set()
    for index, item in enumerate(data):
        where = f"{path}, proxy [{index}]"
        try:
            config = decode_proxy_config(item)
        except ToxiproxyError as exc:
            raise ProxyConfigError(f"{where}: {exc.message}") from exc
        where = f"{path}, proxy [{index}] {config.name!r}"
        if config.name in names:
            raise ProxyConfigError(f"{where}: the name is used twice")
        names.add(config.name)
        toxic_names: set[str] = set()
        for t_index, raw in enumerate(config.toxics or []):
            try:
                toxic = decode_new_toxic(raw, toxic_names)
            except ToxiproxyError as exc:
                raise ProxyConfigError(f"{where}, toxics[{t_index}]: {exc.message}") from exc
            toxic_names.add(toxic.name)
    return data
