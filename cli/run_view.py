"""The live view of `gameday run`: phase and progress, load, active faults, checks."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from chaos.engine.timeline import PHASE_LABELS, Event

STOP_HINT = "Ctrl-C: stop this run and roll back · `gameday stop`: stop every run"


class StreamTail:
    """The newest line of `load/stream.jsonl`, read incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.latest: dict[str, Any] | None = None

    def poll(self) -> dict[str, Any] | None:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return self.latest
        self.offset += len(chunk)
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        for line in lines:
            try:
                self.latest = json.loads(line)
            except json.JSONDecodeError:
                continue
        return self.latest


def _fmt(value: Any, unit: str = "", scale: float = 1.0, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{float(value) * scale:.{digits}f}{unit}"


def describe_event(event: Event) -> str | None:
    """One plain line per event, for logs (`--no-live` or no terminal)."""
    kind = event.get("kind")
    if kind == "phase":
        label = PHASE_LABELS.get(event.get("name", ""), event.get("name"))
        return f"phase {label} {event.get('edge')}"
    if kind == "fault":
        name = event.get("name") or event.get("id")
        return f"fault {name} {event.get('edge')} {event.get('target') or ''}".rstrip()
    if kind == "check":
        mark = "ok" if event.get("ok") else "FAILED"
        error = f" ({event['error']})" if event.get("error") else ""
        value = event.get("value")
        return f"check [{event.get('phase')}] {event.get('probe')} = {value!r} {mark}{error}"
    if kind == "guardrail":
        return f"guardrail {event.get('condition')} held (value {event.get('value')})"
    if kind == "abort":
        return f"abort: {event.get('reason')}"
    if kind == "rollback":
        return f"rollback {event.get('id')} {'ok' if event.get('ok') else 'FAILED'}"
    if kind == "activity" and event.get("undo"):
        return f"undo {event.get('name')} {'ok' if event.get('ok') else 'FAILED'}"
    return None


class LiveView:
    """A `RunObserver` that renders with rich Live, or prints event lines when not live."""

    def __init__(self, console: Console, live: bool) -> None:
        self.console = console
        self.live_enabled = live
        self.title = ""
        self.run_dir: Path | None = None
        self.phase: str | None = None
        self.phase_started = time.time()
        self.phase_duration: float | None = None
        self.durations: dict[str, float] = {}
        self.faults: dict[str, str] = {}
        self.checks: deque[Event] = deque(maxlen=8)
        self.notes: deque[str] = deque(maxlen=3)
        self.tail: StreamTail | None = None
        self._lock = threading.Lock()
        self._live: Live | None = None

    # -- RunObserver -----------------------------------------------------------------

    def started(self, run_dir: Path, experiment: Any) -> None:
        self.run_dir = run_dir
        self.title = experiment.title
        self.tail = StreamTail(run_dir / "load" / "stream.jsonl")
        model = experiment.model
        method_s = sum(a.pauses.after + a.pauses.before for a in model.method if a.pauses)
        self.durations = {"method": method_s}
        if model.load:
            self.durations.update(
                warmup=model.load.warmup_s,
                baseline=model.load.baseline_s,
                recovery=model.load.recovery_s,
                after=model.load.after_s,
            )
        self.console.print(f"[bold]{self.title}[/] → {run_dir}")
        if self.live_enabled:
            self._live = Live(
                get_renderable=self.render,
                console=self.console,
                refresh_per_second=4,
                transient=False,
            )
            self._live.start()

    def event(self, event: Event) -> None:
        with self._lock:
            kind = event.get("kind")
            if kind == "phase" and event.get("edge") == "start":
                self.phase = event.get("name")
                self.phase_started = float(event["ts"])
                self.phase_duration = self.durations.get(self.phase or "")
            elif kind == "fault":
                key = str(event.get("id"))
                if event.get("edge") == "start":
                    self.faults[key] = f"{event.get('name')} → {event.get('target') or '?'}"
                else:
                    self.faults.pop(key, None)
            elif kind == "check":
                self.checks.append(event)
            elif kind in ("guardrail", "abort"):
                self.notes.append(describe_event(event) or "")
        if not self.live_enabled:
            line = describe_event(event)
            if line:
                self.console.print(line, highlight=False, markup=False)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- rendering ---------------------------------------------------------------------

    def render(self) -> Panel:
        with self._lock:
            phase = PHASE_LABELS.get(self.phase or "", self.phase or "starting")
            elapsed = time.time() - self.phase_started
            if self.phase_duration:
                done = min(elapsed / self.phase_duration, 1.0)
                bar = "█" * int(done * 20) + "░" * (20 - int(done * 20))
                progress = f"{bar} {elapsed:4.0f}/{self.phase_duration:.0f} s"
            else:
                progress = f"{elapsed:.0f} s"
            load = self.tail.poll() if self.tail else None
            head = Table.grid(padding=(0, 2))
            head.add_row(Text("phase", style="dim"), Text(phase, style="bold cyan"), progress)
            head.add_row(
                Text("load", style="dim"),
                f"{_fmt(load and load.get('rps'), ' rps')}",
                f"errors {_fmt(load and load.get('error_rate'), '%', 100, 1)}"
                f"   p95 {_fmt(load and load.get('p95'), ' ms')}",
            )
            faults = ", ".join(self.faults.values()) or "none"
            head.add_row(Text("faults", style="dim"), Text(faults, style="yellow"), "")
            checks = Table(box=None, show_header=True, header_style="dim", expand=False)
            checks.add_column("check")
            checks.add_column("phase")
            checks.add_column("value", overflow="fold", max_width=30)
            checks.add_column("")
            for check in self.checks:
                ok = bool(check.get("ok"))
                checks.add_row(
                    str(check.get("probe")),
                    str(check.get("phase")),
                    str(check.get("error") or check.get("value")),
                    Text("ok" if ok else "FAILED", style="green" if ok else "bold red"),
                )
            parts: list[Any] = [head, checks]
            parts += [Text(note, style="bold red") for note in self.notes]
            # Rich's live view reads no keys; Ctrl-C is the key that stops this run.
            parts.append(Text(STOP_HINT, style="dim"))
        return Panel(Group(*parts), title=self.title, border_style="blue")
