"""Learning rules: histories of choices and feedback become trial-wise values."""

from .base import AbstractLearningRule, AbstractWrappedLearningRule
from .choice_kernel import ChoiceKernel
from .counterfactual import CounterfactualRW
from .ewa import EWA
from .fictitious import DualRateFictitiousRW, FictitiousRW
from .fixed import FixedRule
from .forgetting import ForgettingRW
from .kalman import KalmanFilter
from .pearce_hall import PearceHall
from .rescorla_wagner import DualRateRW, RescorlaWagner
from .reward_punishment import RewardPunishmentRW
from .rlwm import RLWM
from .signed_feedback import SignOfFeedback

__all__ = [
    "AbstractLearningRule",
    "AbstractWrappedLearningRule",
    "ChoiceKernel",
    "CounterfactualRW",
    "DualRateFictitiousRW",
    "DualRateRW",
    "EWA",
    "FictitiousRW",
    "FixedRule",
    "ForgettingRW",
    "KalmanFilter",
    "PearceHall",
    "RLWM",
    "RescorlaWagner",
    "RewardPunishmentRW",
    "SignOfFeedback",
]
