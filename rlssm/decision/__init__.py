"""Decision models: the likelihood and sampler of (rt, choice) on one trial."""

from .base import AbstractDecisionModel

__all__ = ["AbstractDecisionModel"]
