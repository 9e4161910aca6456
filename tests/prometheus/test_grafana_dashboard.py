"""The Grafana dashboard shipped in docs/grafana/shop.json: every panel's PromQL is accepted
by the real Prometheus scraping the mesh, and names metrics the shop exports. (It has not
been loaded into a Grafana here.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

from chaos.probes.prometheus_api import instant_query
from chaos.targets.launcher import MeshHandle
from chaos.targets.shop import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "shop.json"


def _expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_every_panel_query_runs_against_the_real_prometheus(prometheus_mesh: MeshHandle) -> None:
    url = prometheus_mesh.state.prometheus_url
    assert url is not None
    expressions = _expressions()
    assert len(expressions) >= 10
    for expr in expressions:
        # Grafana fills $__rate_interval; any range works for checking the query.
        instant_query(url, expr.replace("$__rate_interval", "5s"))  # raises QueryFailed


def test_every_shop_metric_named_by_the_dashboard_exists() -> None:
    exported = {
        collector._name  # noqa: SLF001 - prometheus_client keeps the base name here
        for collector in vars(metrics).values()
        if hasattr(collector, "_name")
    }
    named = {
        re.sub(r"_(total|bucket)$", "", name)
        for expr in _expressions()
        for name in re.findall(r"\b(shop_[a-z_]+)", expr)
    }
    assert named and named <= exported, named - exported
