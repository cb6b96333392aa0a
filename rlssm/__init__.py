"""rlssm: composable reinforcement-learning sequential-sampling models."""

from ._errors import DataError, LANRangeWarning
from .decision import AbstractDecisionModel

__all__ = ["AbstractDecisionModel", "DataError", "LANRangeWarning"]
