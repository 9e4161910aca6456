"""Typed errors of report rendering."""

from __future__ import annotations

from pathlib import Path


class ReportError(Exception):
    """A run folder cannot be turned into a report; names the file and what is wrong."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
