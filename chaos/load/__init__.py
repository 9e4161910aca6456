"""Load: Locust headless in a subprocess, streamed second by second from raw samples."""

from chaos.load.errors import LoadError
from chaos.load.reader import StreamReader
from chaos.load.runner import LoadRunner
from chaos.load.spec import SHOP_LOCUSTFILE, LoadSpec
from chaos.load.statistics import LoadSummary, RequestStats, SecondStats, WindowStats

__all__ = [
    "SHOP_LOCUSTFILE",
    "LoadError",
    "LoadRunner",
    "LoadSpec",
    "LoadSummary",
    "RequestStats",
    "SecondStats",
    "StreamReader",
    "WindowStats",
]
