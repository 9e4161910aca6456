"""Post-incident verification: scaffold an experiment and a runbook from an incident's facts."""

from chaos.incident.errors import IncidentError
from chaos.incident.facts import FAULT_KINDS, SIZE_UNITS, IncidentFacts, Slo, parse_slo
from chaos.incident.scaffold import build_experiment, render_runbook, write_scaffold

__all__ = [
    "FAULT_KINDS",
    "SIZE_UNITS",
    "IncidentError",
    "IncidentFacts",
    "Slo",
    "build_experiment",
    "parse_slo",
    "render_runbook",
    "write_scaffold",
]
