"""The pytest plugin, loaded through its `pytest11` entry point inside pytester sessions."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

EXPERIMENT = Path(__file__).parent / "experiments" / "catalog-latency-short.yaml"


def test_plugin_is_registered_and_inert_when_unused(pytester):
    pytester.makepyfile(test_plain="def test_nothing_to_do_with_chaos():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [
            "*gameday_mesh_options* [[]session scope[]]*",
            "*gameday_mesh* [[]session scope[]]*",
            "*run_gameday_experiment*",
        ]
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "gameday" not in result.stdout.str().replace("chaos-gameday", "")


@pytest.mark.slow
def test_resilience_gate_inside_a_test_suite(pytester):
    pytester.makepyfile(
        test_resilience=f"""
        def test_catalog_latency_holds(run_gameday_experiment, gameday_mesh):
            result = run_gameday_experiment({str(EXPERIMENT)!r})
            assert result.verdict == "held", (result.reason, result.run_dir)
            assert result.exit_code == 0
            assert result.run_dir.parent.name == "runs"
            assert (result.run_dir.parent / "index.jsonl").is_file()
            assert gameday_mesh.state.gateway_url.startswith("http://127.0.0.1:")

        def test_a_deviation_fails_the_gate(run_gameday_experiment):
            result = run_gameday_experiment({str(EXPERIMENT)!r}, vars={{"latency_ms": 1500}})
            assert result.verdict == "held"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", timeout=170)
    # the second test asserts "held" on a run whose error rate blows through the SLO
    # (1.5 s latency against a 1 s edge timeout): a failing gate fails its test
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_a_deviation_fails_the_gate FAILED*", "*deviated*"])
