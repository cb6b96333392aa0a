"""rlssm: composable reinforcement-learning sequential-sampling models.

Public names are re-exported here from private modules (``rlssm.learning``,
``rlssm.decision``, ``rlssm.mapping``, ``rlssm.model``, ...).
"""

from ._errors import DataError, LANRangeWarning
from .decision import DDM, AbstractDecisionModel, Angle, AngleLAN
from .environments import AbstractEnvironment, BernoulliBandit, GaussianBandit
from .learning import AbstractLearningRule, DualRateRW, RescorlaWagner
from .mapping import AbstractMapping, DriftScaling
from .model import RLSSM
from . import comparison, data, fitting, sharding  # noqa: E402  (submodules users reach as rlssm.X)

__version__ = "0.1.0"

__all__ = [
    "RLSSM",
    "AbstractDecisionModel",
    "AbstractEnvironment",
    "AbstractLearningRule",
    "AbstractMapping",
    "Angle",
    "AngleLAN",
    "BernoulliBandit",
    "DDM",
    "DataError",
    "DriftScaling",
    "DualRateRW",
    "GaussianBandit",
    "LANRangeWarning",
    "RescorlaWagner",
]
