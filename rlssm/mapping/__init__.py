"""Mappings: a trial's values (and whatever else they read) become decision parameters."""

from .base import AbstractMapping, AbstractWrappedMapping
from .drift import DriftScaling
from .fixed import FixedMapping
from .indecision import IndecisionPoint
from .kernel import KernelDrift
from .per_option import Advantage, RaceScaling, Values
from .sigmoid import SigmoidDrift
from .threshold import ValueModulatedThreshold
from .uncertainty import UncertaintyDrift

__all__ = [
    "AbstractMapping",
    "AbstractWrappedMapping",
    "Advantage",
    "DriftScaling",
    "FixedMapping",
    "IndecisionPoint",
    "KernelDrift",
    "RaceScaling",
    "SigmoidDrift",
    "UncertaintyDrift",
    "ValueModulatedThreshold",
    "Values",
]
