import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.load.statistics import PERCENTILES, nearest_rank_percentiles, request_stats


def _textbook_nearest_rank(values: list[float], p: int) -> float:
    """The definition, in exact arithmetic: the ceil(p/100 * n)-th smallest value."""
    rank = max(1, math.ceil(Fraction(p, 100) * len(values)))
    return sorted(values)[rank - 1]


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


@pytest.mark.parametrize("n", [1, 2, 3, 10, 19, 20, 21, 99, 100, 101, 199, 200, 1000, 1001])
def test_numpy_inverted_cdf_is_the_nearest_rank_at_rank_boundaries(n: int) -> None:
    # p * n / 100 lands exactly on an integer for many of these n (e.g. 95 % of 20, 99 % of
    # 100), where a float rank a hair above it would pick the next sample.
    values = [float(v) for v in np.random.default_rng(n).permutation(n) * 1.5]
    found = nearest_rank_percentiles(np.array(values))
    for p in PERCENTILES:
        assert found[f"p{p}"] == round(_textbook_nearest_rank(values, p), 3), (n, p)
    assert found["max"] == max(values)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda v: round(v, 3)),
        min_size=1,
        max_size=400,
    )
)
def test_numpy_inverted_cdf_matches_the_definition_on_ties_and_any_order(
    values: list[float],
) -> None:
    found = nearest_rank_percentiles(np.array(values))
    for p in PERCENTILES:
        assert found[f"p{p}"] == _textbook_nearest_rank(values, p)
