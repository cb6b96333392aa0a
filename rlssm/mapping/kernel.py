"""A drift rate from the value difference and the choice-kernel difference."""

from .._types import Array, Float
from .base import AbstractMapping

__all__ = ["KernelDrift"]


class KernelDrift(AbstractMapping):
    """Drift from values and choice kernel:
    ``v = scaler * (Q[1] - Q[0]) + beta_ck * (CK[1] - CK[0])``.

    The two-boundary counterpart of Wilson & Collins's (2019, *eLife* 8, e49547) choice
    rule ``softmax(beta * Q + beta_c * CK)``: for two options the softmax depends on
    ``beta * (Q[1] - Q[0]) + beta_c * (CK[1] - CK[0])``, which here sets the drift.
    Option 1 is the upper boundary. ``beta_ck > 0`` pulls toward the options chosen
    recently (perseveration), ``beta_ck < 0`` away from them (alternation);
    ``beta_ck = 0`` is [`DriftScaling`][rlssm.DriftScaling].

    It reads the rule's state part ``kernel``: pair it with
    [`ChoiceKernel`][rlssm.ChoiceKernel] (``RLSSM`` refuses a rule without one).

    Notes
    -----
    Sampled parameters: ``scaler`` in (0, 10); ``beta_ck`` in (-10, 10).
    """

    params = {"scaler": (0.0, 10.0), "beta_ck": (-10.0, 10.0)}
    outputs = ("v",)
    rule_state = ("kernel",)

    def __call__(
        self,
        values: Float[Array, " options"],
        scaler: Float[Array, ""],
        beta_ck: Float[Array, ""],
        kernel: Float[Array, " options"],
    ) -> dict[str, Float[Array, ""]]:
        return {"v": scaler * (values[1] - values[0]) + beta_ck * (kernel[1] - kernel[0])}
