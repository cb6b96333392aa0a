"""Mappings: a trial's values (and whatever else they read) become decision parameters."""

from .base import AbstractMapping
from .drift import DriftScaling
from .kernel import KernelDrift
from .sigmoid import SigmoidDrift
from .threshold import ValueModulatedThreshold
from .uncertainty import UncertaintyDrift

__all__ = [
    "AbstractMapping",
    "DriftScaling",
    "KernelDrift",
    "SigmoidDrift",
    "UncertaintyDrift",
    "ValueModulatedThreshold",
]
