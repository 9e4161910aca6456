"""Benchmark of report rendering (by hand; results in benchmarks/README.md).

Time to build the report model and render each format, and the size of what is written:
- a real run folder given on the command line (e.g. one written by `gameday run`), and/or
- a synthetic run of `--minutes` minutes at `--rps` requests a second (raw samples and the
  per-second stream written with the load runner's own StreamWriter, a check every second,
  one fault over the middle third), to see how rendering scales with run length.

    .venv/bin/python benchmarks/report.py runs/<run> --repeat 3
    .venv/bin/python benchmarks/report.py --minutes 10 60 --rps 50 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from chaos.load.samples import Sample
from chaos.load.stream import StreamWriter
from chaos.report import build_report
from chaos.report.chart import write_png
from chaos.report.render import render_html, render_junit, render_markdown


def synthetic_run(folder: Path, minutes: float, rps: int) -> Path:
    seconds = int(minutes * 60)
    t0 = 1_800_000_000.0
    fault = (t0 + seconds / 3, t0 + 2 * seconds / 3)
    load = folder / "load"
    (load / "samples").mkdir(parents=True)
    writer = StreamWriter(load)
    writer.start_at(t0)
    with (load / "samples" / "local.jsonl").open("w") as out:
        for second in range(seconds):
            batch = []
            for i in range(rps):
                end = t0 + second + i / rps
                slow = fault[0] <= end < fault[1]
                latency = 20.0 + (i % 17) + (400.0 if slow else 0.0)
                kind = "HTTP 503" if slow and i % 10 == 0 else None
                batch.append(Sample(end, "GET /products", latency, kind))
                out.write(json.dumps([end, "GET /products", latency, kind]) + "\n")
            writer.add(batch)
    writer.write_all(t0 + seconds - 0.5)
    events = [
        {"ts": t0, "kind": "phase", "name": "baseline", "edge": "start"},
        {"ts": t0 + 10, "kind": "phase", "name": "baseline", "edge": "end"},
        {"ts": fault[0], "kind": "fault", "id": "f", "name": "latency", "edge": "start"},
        {"ts": fault[1], "kind": "fault", "id": "f", "edge": "end"},
    ]
    events += [
        {
            "ts": t0 + s + 0.5,
            "kind": "check",
            "probe": "p95",
            "phase": "method",
            "value": 420.0 if fault[0] <= t0 + s < fault[1] else 30.0,
            "tolerance": {"type": "range", "range": [0, 300]},
            "ok": not fault[0] <= t0 + s < fault[1],
        }
        for s in range(seconds)
    ]
    events.sort(key=lambda e: e["ts"])
    (folder / "timeline.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (folder / "summary.json").write_text(
        json.dumps(
            {
                "verdict": "deviated",
                "exit_code": 1,
                "title": f"synthetic {minutes:g} min",
                "started_at": t0,
                "ended_at": t0 + seconds,
            }
        )
    )
    return folder


def measure(run_dir: Path, repeat: int) -> dict[str, object]:
    timings: dict[str, list[float]] = {"build": [], "md+png": [], "html+svg": [], "junit": []}
    sizes: dict[str, int] = {}
    out = Path(tempfile.mkdtemp(prefix="report-bench-"))
    for _ in range(repeat):
        started = time.perf_counter()
        report = build_report(run_dir)
        timings["build"].append(time.perf_counter() - started)
        started = time.perf_counter()
        png = write_png(report, out / "timeline.png")
        markdown = render_markdown(report, "timeline.png")
        timings["md+png"].append(time.perf_counter() - started)
        started = time.perf_counter()
        html = render_html(report)
        timings["html+svg"].append(time.perf_counter() - started)
        started = time.perf_counter()
        junit = render_junit(report)
        timings["junit"].append(time.perf_counter() - started)
    sizes = {"md": len(markdown), "png": png.stat().st_size, "html": len(html), "junit": len(junit)}
    return {
        "run": str(run_dir),
        "requests_in_phases": sum(p.requests for p in report.phases),
        "checks": report.check_count,
        "median_s": {name: round(statistics.median(v), 3) for name, v in timings.items()},
        "bytes": sizes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="real run folders")
    parser.add_argument("--minutes", nargs="*", type=float, default=[], help="synthetic runs")
    parser.add_argument("--rps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for run in args.runs:
        print(json.dumps(measure(run, args.repeat)))
    for minutes in args.minutes:
        with tempfile.TemporaryDirectory() as folder:
            run = synthetic_run(Path(folder) / "run", minutes, args.rps)
            print(json.dumps(measure(run, args.repeat)))


if __name__ == "__main__":
    main()
