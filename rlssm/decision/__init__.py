"""Decision models: the likelihood and sampler of (rt, choice) on one trial."""

from .base import AbstractDecisionModel
from .lan import AngleLAN, LANNetwork, resolve_lan_path

__all__ = ["AbstractDecisionModel", "AngleLAN", "LANNetwork", "resolve_lan_path"]
