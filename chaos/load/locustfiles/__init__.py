"""Locustfiles bundled with chaos-gameday (loaded by Locust by path, never imported here)."""
