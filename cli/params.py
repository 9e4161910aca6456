"""Parameter types of the command line's durations and margins, given to options as
`parser=`: a bad value is refused while the options are parsed, with the option's name
("Invalid value for '--hold': '5x' is not a duration like 30s, 2m or 1h30m"), before the
command body runs."""

from __future__ import annotations

import re
from typing import Any

import typer

_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s?)?$")


class DurationType:
    """'30s', '2m', '1h30m', '45' (seconds) -> seconds, more than 0."""

    name = "duration"

    def __call__(self, value: Any) -> float:
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip()
        match = _DURATION.match(text)
        if not text or match is None:
            raise typer.BadParameter(f"{value!r} is not a duration like 30s, 2m or 1h30m")
        seconds = int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + float(match["s"] or 0)
        if seconds <= 0:
            raise typer.BadParameter("duration must be more than 0 s")
        return seconds


class MarginType:
    """'20%' or '0.2' -> 0.2, not negative."""

    name = "margin"

    def __call__(self, value: Any) -> float:
        if isinstance(value, int | float):
            return float(value)
        raw = str(value).strip()
        try:
            margin = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a margin like 20% or 0.2") from None
        if margin < 0:
            raise typer.BadParameter("the margin cannot be negative")
        return margin


DURATION = DurationType()
MARGIN = MarginType()


def parse_duration(text: str | None) -> float | None:
    """A duration typed at a prompt; None stays None. Raises `typer.BadParameter`."""
    return None if text is None else DURATION(text)
