"""chaos-gameday: chaos experiments under load, with guaranteed rollback and game-day reports."""

__version__ = "0.1.0"
