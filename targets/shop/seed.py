"""The shop's starting data: the product range, each product's starting stock and its
related products. Each service seeds its own database from the part it owns."""

from __future__ import annotations

from typing import NamedTuple

INITIAL_STOCK = 100_000

_NAMES = [
    "Espresso cup", "Pour-over kettle", "Burr grinder", "Milk jug", "Tamper", "Scale",
    "Paper filters", "Cold-brew jar", "Moka pot", "French press", "Latte glass", "Beans 250 g",
    "Beans 1 kg", "Descaler", "Knock box", "Cleaning brush", "Travel mug", "Cup warmer",
    "Dosing funnel", "Barista apron", "Thermometer", "Canister", "Cupping spoon", "Drip tray",
]  # fmt: skip


class Product(NamedTuple):
    id: int
    name: str
    price_cents: int


PRODUCTS: list[Product] = [
    Product(i, name, 250 + (i * 397) % 4750) for i, name in enumerate(_NAMES, start=1)
]


def related(product_id: int, count: int = 3) -> list[int]:
    """Products bought together with `product_id` (a fixed, made-up affinity)."""
    n = len(PRODUCTS)
    return [((product_id - 1 + step * 5) % n) + 1 for step in range(1, count + 1)]


def fallback_recommendations(product_id: int, count: int = 3) -> list[int]:
    """The static best-sellers list the gateway shows when recommendations fail."""
    return [p.id for p in PRODUCTS[: count + 1] if p.id != product_id][:count]
