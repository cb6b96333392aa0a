"""Decision models: the likelihood and sampler of (rt, choice) on one trial."""

from .angle import Angle
from .base import AbstractDecisionModel
from .ddm import DDM
from .lan import AngleLAN, LANNetwork, resolve_lan_path

__all__ = ["DDM", "AbstractDecisionModel", "Angle", "AngleLAN", "LANNetwork", "resolve_lan_path"]
