"""The k8s manifests (package data of chaos.bundled.k8s; see chaos.bundled)."""
