from pathlib import Path

import pydantic
import pytest

from chaos.load import LoadSpec
from chaos.load.processes import locust_error_message, primary_args, worker_args


def spec(**overrides: object) -> LoadSpec:
    return LoadSpec(host="http://127.0.0.1:1", output_dir=Path("/tmp/x"), **overrides)


def test_error_message_names_the_exception_and_where() -> None:
    log = """[2026] vm/INFO/locust.main: Starting
Traceback (most recent call last):
  File "/usr/lib/locust/main.py", line 10, in main
    x()
  File "/tmp/bad.py", line 3
    def broken(:
               ^
SyntaxError: invalid syntax
"""
    message = locust_error_message(log)
    assert message.startswith("SyntaxError: invalid syntax")
    assert '/tmp/bad.py", line 3' in message


def test_error_message_uses_locust_error_log_lines() -> None:
    log = (
        "[t] vm/INFO/locust.main: Starting Locust\n[t] vm/ERROR/locust.main: No User class found!\n"
    )
    assert "No User class found!" in locust_error_message(log)


def test_timed_standalone_run_arguments() -> None:
    args = primary_args(spec(users=7, spawn_rate=3.5, duration_s=2.4, user_classes=["A"]))
    assert args[args.index("--users") + 1] == "7"
    assert args[args.index("--spawn-rate") + 1] == "3.5"
    assert "--run-time" not in args  # the runner times the run from test start
    assert "--headless" in args and "--master" not in args
    assert args[-1] == "A"


def test_distributed_master_binds_loopback_on_a_free_port_and_workers_follow() -> None:
    args = primary_args(spec(workers=2))
    assert args[args.index("--master-bind-host") + 1] == "127.0.0.1"
    assert args[args.index("--master-bind-port") + 1] == "0"
    assert args[args.index("--expect-workers") + 1] == "2"
    worker = worker_args(spec(workers=2), master_port=40123)
    assert worker[worker.index("--master-port") + 1] == "40123"
    assert worker[worker.index("--master-host") + 1] == "127.0.0.1"


def test_spec_requires_a_url_host() -> None:
    with pytest.raises(pydantic.ValidationError, match="must be a URL"):
        LoadSpec(host="localhost:80", output_dir=Path("/tmp/x"))
    assert LoadSpec(host="http://h:1/", output_dir=Path("/tmp/x")).host == "http://h:1"
