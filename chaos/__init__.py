"""chaos-gameday: chaos experiments under load, with guaranteed rollback and game-day reports."""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("chaos-gameday")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"


def discover(discover_system: bool = True) -> dict[str, Any]:
    """Chaos Toolkit discovery (`chaos discover chaos-gameday`); imported on call so that
    `import chaos` stays light."""
    from chaos.discovery import discover_activities

    return discover_activities(discover_system)
