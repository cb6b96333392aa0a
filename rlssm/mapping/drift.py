"""Mappings to a drift rate from the difference of two options' values."""

from .._types import Array, Float
from .base import AbstractMapping

__all__ = ["DriftScaling"]


class DriftScaling(AbstractMapping):
    """Drift proportional to the value difference: ``v = scaler * (Q[1] - Q[0])``.

    Option 1 is the upper boundary, so a larger value of option 1 drifts up.
    """

    params = {"scaler": (0.0, 10.0)}
    outputs = ("v",)

    def __call__(
        self, values: Float[Array, " options"], scaler: Float[Array, ""]
    ) -> dict[str, Float[Array, ""]]:
        return {"v": scaler * (values[1] - values[0])}
