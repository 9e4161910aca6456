"""Typed errors of the CI gates: a run folder that cannot be read, a bad gate setting."""

from __future__ import annotations

from pathlib import Path


class GateError(Exception):
    """Base of every error raised by `chaos.gates`."""


class RunFolderError(GateError):
    """A run folder is missing a file or holds a line that is not in the documented format."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
