import numpy as np
import pytest

from chaos.load.statistics import nearest_rank_percentiles, request_stats


def test_nearest_rank_percentiles_are_observed_values() -> None:
    latencies = np.arange(1, 101, dtype=float)  # 1..100 ms
    p = nearest_rank_percentiles(latencies)
    assert p == {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "max": 100.0}


def test_percentiles_of_few_samples_do_not_interpolate() -> None:
    p = nearest_rank_percentiles(np.array([10.0, 1000.0]))
    assert p["p50"] == 10.0
    assert p["p90"] == 1000.0
    assert p["max"] == 1000.0


def test_no_samples_gives_null_latencies_and_zero_rates() -> None:
    stats = request_stats([], [], 1.0)
    assert stats.requests == 0
    assert stats.error_rate == 0.0
    assert stats.p50 is None and stats.max is None


def test_request_stats_counts_failures_by_kind() -> None:
    stats = request_stats(
        [5.0, 6.0, 7.0, 8.0], [None, "http_500", "timeout", "http_500"], seconds=2.0
    )
    assert stats.requests == 4
    assert stats.failures == 3
    assert stats.failures_by_kind == {"http_500": 2, "timeout": 1}
    assert stats.error_rate == pytest.approx(0.75)
    assert stats.rps == pytest.approx(2.0)
