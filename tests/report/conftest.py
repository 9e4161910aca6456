"""A run folder in the documented format (docs/architecture.md, "Run folder"), built from
raw load samples with the load runner's own stream writer, so the stream and the samples
agree the way they do in a real run."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from chaos.load.samples import Sample
from chaos.load.stream import StreamWriter

T0 = 1_800_000_000.0
RUNBOOK = "runbooks/payments-latency.md"
EXPERIMENT = {
    "title": "Payments latency under load",
    "description": "Every call from orders to payments is delayed by 400 ms.",
    "teaches": "Timeouts and retries turn a slow dependency into slower checkouts.",
    "runbook": RUNBOOK,
    "tags": ["payments", "latency"],
    "target": {"kind": "local"},
    "steady-state-hypothesis": {
        "title": "Checkout keeps working",
        "probes": [
            {
                "type": "probe",
                "name": "checkout-error-rate",
                "tolerance": {"type": "range", "range": [0.0, 0.05]},
                "provider": {"type": "python", "module": "chaos.probes.load", "func": "error_rate"},
            },
            {
                "type": "probe",
                "name": "no-order-lost-or-charged-twice",
                "tolerance": True,
                "provider": {
                    "type": "python",
                    "module": "chaos.probes.invariants",
                    "func": "invariants_hold",
                },
            },
        ],
    },
    "method": [
        {
            "type": "action",
            "name": "delay-orders-to-payments",
            "provider": {
                "type": "python",
                "module": "chaos.faults.network",
                "func": "add_latency",
                "arguments": {"edge": "orders->payments", "latency_ms": 400},
            },
        }
    ],
}

# Offsets (s) from T0 of the synthetic run.
PHASES = [
    ("warmup", 0.0, 3.0),
    ("baseline", 3.0, 8.0),
    ("steady_state_before", 8.0, 8.3),
    ("method", 8.3, 23.5),
    ("recovery", 23.5, 26.5),
    ("steady_state_after", 26.5, 26.8),
    ("rollbacks", 26.8, 27.0),
]
FAULT = (8.5, 23.5)
LOAD_SECONDS = 30


def _samples(fault_errors: bool) -> list[Sample]:
    """20 requests a second; under the fault 400 ms slower, and 25 % failing if asked."""
    samples = []
    for second in range(LOAD_SECONDS):
        for i in range(20):
            end = T0 + second + i / 20
            under_fault = FAULT[0] <= end - T0 < FAULT[1]
            latency = 20.0 + i + (400.0 if under_fault else 0.0)
            failed = under_fault and fault_errors and i % 4 == 0
            samples.append(Sample(end, "POST /checkout", latency, "HTTP 503" if failed else None))
    return samples


def write_run_folder(
    run_dir: Path,
    *,
    verdict: str = "held",
    exit_code: int = 0,
    fault_errors: bool = False,
    aborted: bool = False,
    notes: tuple[tuple[float, str], ...] = ((12.0, "checkout spinner visible"),),
    with_samples: bool = True,
) -> Path:
    load = run_dir / "load"
    (load / "samples").mkdir(parents=True)
    samples = _samples(fault_errors)
    if with_samples:
        (load / "samples" / "local.jsonl").write_text(
            "".join(
                json.dumps([s.end_ts, s.endpoint, s.latency_ms, s.kind]) + "\n" for s in samples
            )
        )
    writer = StreamWriter(load)
    writer.start_at(T0)
    writer.add(samples)
    writer.write_all(T0 + LOAD_SECONDS - 0.5)

    fault_end = 15.0 if aborted else FAULT[1]
    events: list[dict[str, Any]] = []
    for name, start, end in PHASES:
        if aborted and start > fault_end:
            continue
        events.append({"ts": T0 + start, "kind": "phase", "name": name, "edge": "start"})
        end = min(end, fault_end + 0.5) if aborted else end
        events.append({"ts": T0 + end, "kind": "phase", "name": name, "edge": "end"})
    events.append(
        {
            "ts": T0 + FAULT[0],
            "kind": "fault",
            "id": "a1b2c3",
            "name": "delay-orders-to-payments",
            "target": "orders->payments",
            "edge": "start",
        }
    )
    events.append(
        {"ts": T0 + fault_end, "kind": "fault", "id": "a1b2c3", "edge": "end", "status": "undone"}
    )
    check_times = [8.1] + [9.0 + k for k in range(15)] + [26.7]
    for offset in check_times:
        if aborted and offset > fault_end:
            continue
        phase = (
            "steady_state_before"
            if offset < 8.3
            else ("steady_state_after" if offset > 26 else "method")
        )
        under_fault = FAULT[0] <= offset < fault_end
        rate = 0.25 if (under_fault and fault_errors) else 0.0
        events.append(
            {
                "ts": T0 + offset,
                "kind": "check",
                "probe": "checkout-error-rate",
                "phase": phase,
                "value": rate,
                "tolerance": {"type": "range", "range": [0.0, 0.05]},
                "ok": rate <= 0.05,
            }
        )
    for offset in (8.15, 26.75):
        if not (aborted and offset > fault_end):
            events.append(
                {
                    "ts": T0 + offset,
                    "kind": "check",
                    "probe": "no-order-lost-or-charged-twice",
                    "phase": "steady_state",
                    "value": True,
                    "tolerance": True,
                    "ok": True,
                }
            )
    for offset, text in notes:
        events.append({"ts": T0 + offset, "kind": "note", "text": text, "author": "observer"})
    if aborted:
        events.append(
            {"ts": T0 + 14.5, "kind": "guardrail", "condition": "error_rate > 0.2", "value": 0.25}
        )
        events.append({"ts": T0 + 15.2, "kind": "abort", "reason": "guardrail error-rate held"})
    events.sort(key=lambda e: e["ts"])
    (run_dir / "timeline.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))

    undo = {
        "module": "chaos.faults.network",
        "func": "remove_toxics",
        "arguments": {"edge": "orders->payments"},
    }
    ledger = [
        {
            "id": "a1b2c3",
            "ts": T0 + FAULT[0] - 0.05,
            "status": "intent",
            "kind": "latency",
            "target": "orders->payments",
            "undo": undo,
            "expires_at": T0 + 130,
            "run_dir": None,
        },
        {
            "id": "a1b2c3",
            "ts": T0 + FAULT[0],
            "status": "applied",
            "kind": "latency",
            "target": "orders->payments",
            "undo": undo,
            "expires_at": T0 + 130,
            "run_dir": None,
        },
        {
            "id": "a1b2c3",
            "ts": T0 + fault_end,
            "status": "undone",
            "kind": "latency",
            "target": "orders->payments",
            "undo": undo,
            "expires_at": T0 + 130,
            "run_dir": None,
        },
    ]
    (run_dir / "ledger.jsonl").write_text("".join(json.dumps(line) + "\n" for line in ledger))
    (run_dir / "experiment.json").write_text(json.dumps(EXPERIMENT))
    (run_dir / "summary.json").write_text(
        json.dumps(
            {
                "verdict": verdict,
                "exit_code": exit_code,
                "title": EXPERIMENT["title"],
                "slug": "payments-latency-under-load",
                "started_at": "2027-01-15T08:00:00+00:00",
                "ended_at": "2027-01-15T08:00:30+00:00",
                "target": "local",
                "reason": "guardrail error-rate held" if aborted else None,
            }
        )
    )
    return run_dir


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "20270115T080000Z-payments-latency", **kwargs: Any) -> Path:
        return write_run_folder(tmp_path / "runs" / name, **kwargs)

    return make


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder holding the runbook the experiment links, as `runs/` sits in one."""
    runbook = tmp_path / RUNBOOK
    runbook.parent.mkdir(parents=True)
    runbook.write_text(
        "# Runbook: payments is slow\n\n## Symptoms\n- Checkout p95 rises.\n- More.\n\n"
        "## Mitigation\nShorten the timeout so the breaker opens sooner.\n\n"
        "## Rollback\n- `gameday rollback <run>` undoes what the ledger lists.\n"
    )
    return tmp_path


@pytest.fixture
def timing() -> SimpleNamespace:
    """When the synthetic run's load starts (`t0`) and its fault window (offsets)."""
    return SimpleNamespace(t0=T0, fault=FAULT)


VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}


class _Balance(HTMLParser):
    """Every non-void element outside inline SVG is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.svg_depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.svg_depth += 1
        if self.svg_depth or tag in VOID:
            return
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        return

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.svg_depth -= 1
            return
        if self.svg_depth or tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.svg_depth:
            self.text.append(data)


def check_html(html: str) -> tuple[str, list[ET.Element]]:
    """Assert the page is balanced, self-contained and its SVGs are well-formed XML;
    return its visible text and the parsed SVG roots."""
    parser = _Balance()
    parser.feed(html)
    parser.close()
    assert parser.errors == [], parser.errors
    assert parser.stack == [], f"unclosed: {parser.stack}"
    # Self-contained: nothing fetched from elsewhere.
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "url(http" not in html
    svgs = []
    for source in re.findall(r"<svg\b.*?</svg>", html, flags=re.S):
        svg = ET.fromstring(source)
        ids = {element.get("id") for element in svg.iter()}
        references = re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', source)
        assert {a or b for a, b in references} <= ids, "an SVG refers to an id it lacks"
        svgs.append(svg)
    return " ".join(" ".join(parser.text).split()), svgs


@pytest.fixture
def html_checker() -> Callable[[str], tuple[str, list[ET.Element]]]:
    """`check_html`: balanced, self-contained, SVGs well-formed; returns text and SVGs."""
    return check_html
