"""What the experiment was: title, teaching, target, blast radius and its runbook."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from chaos import bundled
from chaos.experiment.extension import gameday_settings
from chaos.report.model import ExperimentInfo, Runbook, RunbookSection

# Provider arguments that name what a fault touches.
TARGET_ARGUMENTS = (
    "edge",
    "edges",
    "proxy",
    "service",
    "services",
    "namespace",
    "label_selector",
    "deployment",
    "pod",
    "count",
    "percent",
)
RUNBOOK_SUMMARY_CHARS = 220
BULLET = re.compile(r"^(?:[-*+]|\d+\.)\s+(.*)")


def parse_time(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def describe_target(value: Any) -> str:
    if isinstance(value, dict):
        kind = value.get("kind", "")
        rest = ", ".join(f"{key}={item}" for key, item in value.items() if key != "kind")
        return f"{kind} ({rest})" if rest and kind else str(kind or rest)
    return "" if value is None else str(value)


def blast_radius(summary: dict[str, Any], experiment: dict[str, Any]) -> list[str]:
    """The engine's own statement when it wrote one, else what each method action targets."""
    declared = summary.get("blast_radius")
    if isinstance(declared, list):
        return [str(item) for item in declared]
    if isinstance(declared, str) and declared:
        return [declared]
    lines = []
    for activity in experiment.get("method") or []:
        if not isinstance(activity, dict) or activity.get("type") != "action":
            continue
        provider = activity.get("provider") or {}
        arguments = provider.get("arguments") or {}
        touched = ", ".join(
            f"{key}={arguments[key]}" for key in TARGET_ARGUMENTS if key in arguments
        )
        func = provider.get("func") or provider.get("path") or provider.get("url") or ""
        line = f"{activity.get('name', func)}: {func}"
        lines.append(f"{line} on {touched}" if touched else line)
    return lines


def experiment_info(summary: dict[str, Any], experiment: dict[str, Any]) -> ExperimentInfo:
    tags = experiment.get("tags") or []
    return ExperimentInfo(
        title=str(summary.get("title") or experiment.get("title") or "untitled experiment"),
        slug=str(summary.get("slug") or ""),
        description=str(experiment.get("description") or "").strip(),
        teaches=str(gameday_settings(experiment).get("teaches") or "").strip(),
        tags=[str(tag) for tag in tags] if isinstance(tags, list) else [str(tags)],
        target=describe_target(summary.get("target") or gameday_settings(experiment).get("target")),
        blast_radius=blast_radius(summary, experiment),
        started_at=parse_time(summary.get("started_at")),
        ended_at=parse_time(summary.get("ended_at")),
    )


def _find_runbook(reference: str, run_dir: Path) -> Path | None:
    path = Path(reference)
    if path.is_absolute():
        return path if path.is_file() else None
    # Runbook paths are relative to the project the experiment lives in: try each folder
    # above the run folder (runs/ usually sits in the project), then the working directory,
    # then the bundled runbooks (a bundled experiment run from any folder).
    for base in (*run_dir.resolve().parents, Path.cwd(), bundled.root()):
        if (base / path).is_file():
            return base / path
    return None


def summarise_runbook(text: str) -> tuple[str, list[RunbookSection]]:
    """The title and, per `##` section, its first bullet or paragraph."""
    title = ""
    bodies: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("# ") and not title:
            title = line[2:].strip()
        elif line.startswith("## "):
            bodies.append((line[3:].strip(), []))
        elif bodies:
            bodies[-1][1].append(line)
    return title, [
        RunbookSection(heading=heading, summary=_first_block(lines)) for heading, lines in bodies
    ]


def _first_block(lines: list[str]) -> str:
    """The first bullet (with its continuation lines) or paragraph, shortened."""
    block: list[str] = []
    for line in lines:
        bullet = BULLET.match(line)
        if block and (not line or bullet):
            break
        if line:
            block.append(bullet.group(1) if bullet else line)
    summary = " ".join(block)
    if len(summary) > RUNBOOK_SUMMARY_CHARS:
        summary = summary[:RUNBOOK_SUMMARY_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return summary


def runbook(experiment: dict[str, Any], run_dir: Path, report_dir: Path) -> Runbook | None:
    reference = gameday_settings(experiment).get("runbook")
    if not isinstance(reference, str) or not reference:
        return None
    found = _find_runbook(reference, run_dir)
    if found is None:
        return Runbook(path=reference, link=reference, found=False)
    title, sections = summarise_runbook(found.read_text(encoding="utf-8"))
    link = os.path.relpath(found.resolve(), report_dir.resolve())
    return Runbook(path=reference, link=link, found=True, title=title, sections=sections)
