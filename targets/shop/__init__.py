"""The bundled sample shop: gateway, catalog, recommendations, inventory, payments, orders
and notifications (`services/`), their topology (`topology.yaml`), the resilience
patterns on every call (`edges.py`) and the data-integrity audit (`invariants.py`)."""
