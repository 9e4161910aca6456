"""Topology parsing: the bundled file, overrides, replica counts and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.targets.shop.topology import PUBLIC_EDGE, TopologyError, load_topology


def test_bundled_topology_has_every_edge_with_defaults_applied() -> None:
    topology = load_topology()
    assert topology.services["gateway"].replicas == 2
    assert topology.services["notifications"].replicas == 1
    assert topology.edge_names()[0] == PUBLIC_EDGE
    assert "orders->payments" in topology.edges
    recommendations = topology.edges["gateway->recommendations"]
    assert recommendations.fallback.enabled and recommendations.retry.attempts == 1
    # Defaults fill what an edge leaves out.
    assert recommendations.circuit_breaker.enabled
    assert recommendations.retry.initial_backoff_s == 0.05
    assert topology.edges["orders->payments"].fallback.enabled is False


def test_overrides_deep_merge_and_replicas_apply() -> None:
    topology = load_topology(
        overrides={"edges": {"orders->payments": {"circuit_breaker": {"enabled": False}}}},
        replicas={"catalog": 3},
    )
    payments = topology.edges["orders->payments"]
    assert payments.circuit_breaker.enabled is False
    assert payments.timeout_s == 1.0  # the rest of the edge is untouched
    assert payments.circuit_breaker.fail_max == 5
    assert topology.services["catalog"].replicas == 3


def test_unknown_replica_service_is_named() -> None:
    with pytest.raises(TopologyError, match="no service 'billing'"):
        load_topology(replicas={"billing": 2})


def test_bad_field_names_file_line_and_path(tmp_path: Path) -> None:
    text = load_topology().source
    bad = tmp_path / "topology.yaml"
    content = Path(text).read_text().replace("orders->payments: {timeout_s: 1.0}",
                                              "orders->payments: {timeout_s: -1}")  # fmt: skip
    bad.write_text(content)
    line = next(n for n, text in enumerate(content.splitlines(), 1) if "timeout_s: -1" in text)
    with pytest.raises(TopologyError) as info:
        load_topology(bad)
    message = str(info.value)
    assert f"{bad}:{line}:" in message
    assert "edges.orders->payments.timeout_s" in message


def test_missing_edge_and_typo_are_rejected(tmp_path: Path) -> None:
    content = Path(load_topology().source).read_text()
    missing = tmp_path / "missing.yaml"
    missing.write_text(content.replace("  orders->catalog: {timeout_s: 1.0}\n", ""))
    with pytest.raises(TopologyError, match=r"missing \['orders->catalog'\]"):
        load_topology(missing)
    typo = tmp_path / "typo.yaml"
    typo.write_text(content.replace("fallback: {enabled: true}", "fallbak: {enabled: true}"))
    with pytest.raises(TopologyError, match="fallbak"):
        load_topology(typo)


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="cannot read"):
        load_topology(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("services: [\n")
    with pytest.raises(TopologyError, match="not valid YAML"):
        load_topology(broken)
