"""Game-day mode: plans of experiments under shared load, observers' notes, one report."""
