"""The bundled runbooks (package data of chaos.bundled.runbooks; see chaos.bundled)."""
