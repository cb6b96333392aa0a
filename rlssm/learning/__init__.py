"""Learning rules: histories of choices and feedback become trial-wise values."""

from .base import AbstractLearningRule
from .pearce_hall import PearceHall
from .rescorla_wagner import DualRateRW, RescorlaWagner

__all__ = ["AbstractLearningRule", "DualRateRW", "PearceHall", "RescorlaWagner"]
