"""How numbers and values read in a report (Jinja2 filters)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

VALUE_CHARS = 80


def number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def percent(rate: float | None, digits: int = 2) -> str:
    return "–" if rate is None else f"{rate * 100:.{digits}f} %"


def millis(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


def offset(value: float | None) -> str:
    return "–" if value is None else f"+{value:.1f} s"


def utc(ts: float | None) -> str:
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def probe_value(value: Any) -> str:
    """A probe output, short: floats to 4 significant digits, JSON for structures."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def markdown_cell(text: Any) -> str:
    """Safe inside a Markdown table cell: no pipes or line breaks."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def inline_code(text: Any) -> Markup:
    """HTML for prose that quotes code Markdown-style: `x` becomes <code>x</code>."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


FILTERS = {
    "number": number,
    "percent": percent,
    "millis": millis,
    "seconds": seconds,
    "offset": offset,
    "utc": utc,
    "probe_value": probe_value,
    "md": markdown_cell,
    "inline_code": inline_code,
}
