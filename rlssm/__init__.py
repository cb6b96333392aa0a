"""rlssm: composable reinforcement-learning sequential-sampling models.

Public names are re-exported here from the rooms of the package: the components
(``rlssm.learning``, ``rlssm.mapping``, ``rlssm.decision``, ``rlssm.environments``),
the data layer (``rlssm.data``), the engine (reached through ``rlssm.internal``), the
model (``rlssm.model``), simulation and predictive checks (``rlssm.simulation``),
inference (``rlssm.fitting``, ``rlssm.hssm_bridge``, ``rlssm.sharding``) and the front
ends (``rlssm.plots``, ``rlssm.cli``). See the Architecture page of the docs.
"""

from ._errors import DataError, FastResponseWarning, LANRangeWarning
from .decision import (
    DDM,
    DDMSdv,
    Diffusion,
    LAN,
    LBA,
    RDM,
    AbstractDecisionModel,
    AdvantageRDM,
    Angle,
    AngleLAN,
    Fixed,
    Lapse,
    Softmax,
)
from .environments import AbstractEnvironment, BernoulliBandit, GaussianBandit
from .learning import (
    RLWM,
    AbstractLearningRule,
    ChoiceKernel,
    CounterfactualRW,
    DualRateFictitiousRW,
    DualRateRW,
    EWA,
    FictitiousRW,
    ForgettingRW,
    KalmanFilter,
    PearceHall,
    RescorlaWagner,
    RewardPunishmentRW,
    SignOfFeedback,
)
from .mapping import (
    AbstractMapping,
    Advantage,
    DriftScaling,
    IndecisionPoint,
    KernelDrift,
    RaceScaling,
    SigmoidDrift,
    UncertaintyDrift,
    ValueModulatedThreshold,
    Values,
)
from .model import RLSSM
from . import data, fitting, internal, sharding, simulation  # noqa: E402  (submodules users reach as rlssm.X)
from . import io, screening  # noqa: E402  (data formats and screening: rlssm.io, rlssm.screening)
from . import boundaries, hbayesdm  # noqa: E402  (hBayesDM's models by name: rlssm.hbayesdm)
from .io import from_hssm, load_hbayesdm  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "DDM",
    "EWA",
    "LAN",
    "LBA",
    "RDM",
    "RLSSM",
    "RLWM",
    "AbstractDecisionModel",
    "AbstractEnvironment",
    "AbstractLearningRule",
    "AbstractMapping",
    "Advantage",
    "AdvantageRDM",
    "Angle",
    "AngleLAN",
    "BernoulliBandit",
    "ChoiceKernel",
    "CounterfactualRW",
    "DDMSdv",
    "Diffusion",
    "DataError",
    "DriftScaling",
    "DualRateFictitiousRW",
    "DualRateRW",
    "FastResponseWarning",
    "FictitiousRW",
    "Fixed",
    "ForgettingRW",
    "GaussianBandit",
    "IndecisionPoint",
    "KalmanFilter",
    "KernelDrift",
    "LANRangeWarning",
    "Lapse",
    "PearceHall",
    "RaceScaling",
    "RescorlaWagner",
    "RewardPunishmentRW",
    "SigmoidDrift",
    "SignOfFeedback",
    "Softmax",
    "UncertaintyDrift",
    "ValueModulatedThreshold",
    "Values",
    "from_hssm",
    "load_hbayesdm",
]
