"""Learning rules: histories of choices and feedback become trial-wise values."""

from .base import AbstractLearningRule
from .choice_kernel import ChoiceKernel
from .counterfactual import CounterfactualRW
from .forgetting import ForgettingRW
from .kalman import KalmanFilter
from .pearce_hall import PearceHall
from .rescorla_wagner import DualRateRW, RescorlaWagner
from .rlwm import RLWM

__all__ = [
    "AbstractLearningRule",
    "ChoiceKernel",
    "CounterfactualRW",
    "DualRateRW",
    "ForgettingRW",
    "KalmanFilter",
    "PearceHall",
    "RLWM",
    "RescorlaWagner",
]
