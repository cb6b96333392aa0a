"""Mappings: a trial's values (and whatever else they read) become decision parameters."""

from .base import AbstractMapping
from .drift import DriftScaling

__all__ = ["AbstractMapping", "DriftScaling"]
