"""Decision models: the likelihood and sampler of (rt, choice) on one trial."""

from .advantage import AdvantageRDM
from .angle import Angle
from .base import AbstractDecisionModel
from .ddm import DDM
from .diffusion import Diffusion
from .ddm_sdv import DDMSdv
from .fixed import Fixed, FixedDecisionModel
from .lapse import LAPSE_PARAM, AbstractLapseRT, Lapse, MixtureRT, UniformRT
from .lan import LAN, AngleLAN, LANNetwork, resolve_lan_path
from .race import LBA, RDM
from .softmax import Softmax

__all__ = [
    "DDM",
    "DDMSdv",
    "LAN",
    "LAPSE_PARAM",
    "LBA",
    "RDM",
    "AbstractDecisionModel",
    "AbstractLapseRT",
    "AdvantageRDM",
    "Angle",
    "AngleLAN",
    "Diffusion",
    "Fixed",
    "FixedDecisionModel",
    "LANNetwork",
    "Lapse",
    "MixtureRT",
    "Softmax",
    "UniformRT",
    "resolve_lan_path",
]
