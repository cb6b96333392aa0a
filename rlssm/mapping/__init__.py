"""Mappings: a trial's values (and whatever else they read) become decision parameters."""

from .base import AbstractMapping
from .drift import DriftScaling
from .kernel import KernelDrift
from .per_option import Advantage, RaceScaling, Values
from .sigmoid import SigmoidDrift
from .threshold import ValueModulatedThreshold
from .uncertainty import UncertaintyDrift

__all__ = [
    "AbstractMapping",
    "Advantage",
    "DriftScaling",
    "KernelDrift",
    "RaceScaling",
    "SigmoidDrift",
    "UncertaintyDrift",
    "ValueModulatedThreshold",
    "Values",
]
