"""The bundled experiments (package data of chaos.bundled.experiments; see chaos.bundled)."""
