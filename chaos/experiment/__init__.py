"""Experiments: load YAML/JSON, apply `--var`s, validate into typed models with located errors."""

from chaos.experiment.errors import ExperimentError, Issue
from chaos.experiment.loader import LoadedExperiment, load_experiment
from chaos.experiment.models import Activity, Experiment, Guardrail, LoadProfile, Target
from chaos.experiment.variables import parse_var

__all__ = [
    "Activity",
    "Experiment",
    "ExperimentError",
    "Guardrail",
    "Issue",
    "LoadProfile",
    "LoadedExperiment",
    "Target",
    "load_experiment",
    "parse_var",
]
