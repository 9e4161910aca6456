"""The run history: one JSON line per run in `<runs dir>/index.jsonl`.

Appending is a single `write` of one line in append mode, so concurrent runs sharing a runs
folder do not interleave their lines.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel, ValidationError

from chaos.gates.errors import RunFolderError
from chaos.gates.run_folder import read_jsonl
from chaos.gates.run_metrics import read_run_metrics

INDEX_NAME = "index.jsonl"


class HistoryEntry(BaseModel):
    ts: float
    experiment: str
    title: str
    slug: str
    run_dir: str
    verdict: str
    exit_code: int
    time_to_recover_s: float | None
    recovered: bool | None = None  # False: the checks never passed again after the fault
    p95_under_fault_ms: float | None


def index_path(runs_dir: Path) -> Path:
    return runs_dir / INDEX_NAME


def append_run(run_dir: Path, experiment: Path | str, runs_dir: Path | None = None) -> HistoryEntry:
    """Summarise `run_dir` and append it to the index of `runs_dir` (default: its parent)."""
    metrics = read_run_metrics(run_dir)
    entry = HistoryEntry(
        ts=time.time(),
        experiment=str(experiment),
        title=metrics.title,
        slug=metrics.slug,
        run_dir=str(run_dir),
        verdict=metrics.verdict,
        exit_code=metrics.exit_code,
        time_to_recover_s=metrics.time_to_recover_s,
        recovered=metrics.recovered,
        p95_under_fault_ms=metrics.p95_under_fault_ms,
    )
    index = index_path(runs_dir if runs_dir is not None else run_dir.parent)
    try:
        index.parent.mkdir(parents=True, exist_ok=True)
        with index.open("a", encoding="utf-8") as handle:
            handle.write(entry.model_dump_json() + "\n")
    except OSError as exc:  # a full disk, or a runs folder gone read-only mid-run
        raise RunFolderError(index, f"cannot append the run: {exc.strerror or exc}") from exc
    return entry


def read_history(runs_dir: Path, experiment: str | None = None) -> list[HistoryEntry]:
    """Entries oldest first; `experiment` matches the file path, its stem, the slug or title."""
    index = index_path(runs_dir)
    entries: list[HistoryEntry] = []
    for number, record in enumerate(read_jsonl(index), start=1):
        try:
            entries.append(HistoryEntry.model_validate(record))
        except ValidationError as exc:
            raise RunFolderError(index, f"entry {number}: {_first_error(exc)}") from exc
    if experiment is not None:
        entries = [entry for entry in entries if _matches(entry, experiment)]
    return sorted(entries, key=lambda entry: entry.ts)


def _matches(entry: HistoryEntry, wanted: str) -> bool:
    path = Path(entry.experiment)
    return (
        wanted
        in {
            entry.experiment,
            path.name,
            path.stem,
            entry.slug,
            entry.title,
        }
        or Path(wanted).resolve() == path.resolve()
    )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    return f"{field}: {error['msg']}"
