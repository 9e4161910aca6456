"""The shop's services; each module's `build(config)` returns its FastAPI app."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from chaos.targets.shop.config import ServiceConfig

MODULES = {
    name: f"chaos.targets.shop.services.{name}"
    for name in (
        "gateway",
        "catalog",
        "recommendations",
        "inventory",
        "payments",
        "orders",
        "notifications",
    )
}


def build_app(config: ServiceConfig) -> FastAPI:
    return importlib.import_module(MODULES[config.service]).build(config)


def preload() -> None:
    """Import every service module (the launcher's zygote does this once, before forking)."""
    for module in MODULES.values():
        importlib.import_module(module)
