"""A parent process that runs load until it is interrupted (driven by test_interrupt.py)."""

import json
import sys
import time
from pathlib import Path

from chaos.load import LoadRunner, LoadSpec

host, locustfile, out, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
spec = LoadSpec(
    host=host,
    locustfile=Path(locustfile),
    user_classes=["FastUser"],
    users=2,
    spawn_rate=20,
    workers=workers,
    output_dir=Path(out),
)
with LoadRunner(spec) as runner:
    runner.wait_ready(timeout=60)
    print(json.dumps(runner.pids), flush=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.1)
