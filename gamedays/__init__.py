"""The bundled game-day plans (package data of chaos.bundled.gamedays; see chaos.bundled)."""
