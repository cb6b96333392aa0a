"""Decision models: the likelihood and sampler of (rt, choice) on one trial."""

from .advantage import AdvantageRDM
from .angle import Angle
from .base import AbstractDecisionModel
from .ddm import DDM
from .fixed import Fixed
from .lapse import LAPSE_PARAM, AbstractLapseRT, Lapse, MixtureRT, UniformRT
from .lan import LAN, AngleLAN, LANNetwork, resolve_lan_path
from .race import LBA, RDM
from .softmax import Softmax

__all__ = [
    "DDM",
    "LAN",
    "LAPSE_PARAM",
    "LBA",
    "RDM",
    "AbstractDecisionModel",
    "AbstractLapseRT",
    "AdvantageRDM",
    "Angle",
    "AngleLAN",
    "Fixed",
    "LANNetwork",
    "Lapse",
    "MixtureRT",
    "Softmax",
    "UniformRT",
    "resolve_lan_path",
]
