"""The one exception type of the load package."""


class LoadError(Exception):
    """Locust could not be started, did not become ready, or the load spec is invalid."""
