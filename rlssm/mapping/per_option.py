"""Mappings to one input per option (``v0 .. v{N-1}``), for N-option decision models."""

from .._types import Array, Float
from .base import AbstractMapping

__all__ = ["Advantage", "RaceScaling", "Values"]


def _per_option(v: Float[Array, " options"]) -> dict[str, Float[Array, ""]]:
    return {f"v{k}": v[k] for k in range(v.shape[0])}


class Values(AbstractMapping):
    """The values themselves, one input per option: ``v_k = Q[k]``.

    No parameters. The mapping for [`Softmax`][rlssm.Softmax], which multiplies the
    inputs by its inverse temperature ``beta`` (a scale here would not be identified
    apart from ``beta``), and for race models whose drifts are given by the values
    directly.
    """

    params = {}
    outputs = ("v{k}",)

    def __call__(self, values: Float[Array, " options"]) -> dict[str, Float[Array, ""]]:
        return _per_option(values)


class RaceScaling(AbstractMapping):
    """One drift per option, proportional to its value: ``v_k = scaler * Q[k]``.

    The contract of ssm-simulators' reinforcement-learning races (``ssms.rl``:
    ``RescorlaWagnerRaceDrifts``, used by the preset ``4AB_RW_RaceNoBiasAngle``, sets
    ``v_i = scaler * q_i`` for every action from the values before the trial's update),
    for any number of options. With values in [0, 1] the drifts are nonnegative.

    Notes
    -----
    Sampled parameter: ``scaler`` in (0, 10), as [`DriftScaling`][rlssm.DriftScaling]
    (ssm-simulators bounds it by (0.001, 10)).
    """

    params = {"scaler": (0.0, 10.0)}
    outputs = ("v{k}",)

    def __call__(
        self, values: Float[Array, " options"], scaler: Float[Array, ""]
    ) -> dict[str, Float[Array, ""]]:
        return _per_option(scaler * values)


class Advantage(AbstractMapping):
    """The advantage framework for two options (Miletic et al., 2021):

        v0 = urgency + wd * (Q[0] - Q[1]) + ws * (Q[0] + Q[1])
        v1 = urgency + wd * (Q[1] - Q[0]) + ws * (Q[0] + Q[1])

    Each option's accumulator is driven by an urgency signal common to both
    (``urgency``, the paper's ``V0``), by its advantage over the other option, weighted
    by ``wd``, and by the summed value of the pair, weighted by ``ws``. The sum term
    lets the overall value of a choice speed (``ws > 0``) all responses without changing
    which option is preferred; the difference term drives accuracy. This is the
    RL-ARD of Miletic et al., built on the advantage accumulation of van Ravenzwaaij et
    al. (2020), and the mapping of Fontanesi's Stan package ``rlssm`` (``RLARDM_2A``).

    Only two options: for more, the paper's advantages are pairwise (one accumulator
    per ordered pair of options), which a per-option mapping cannot express: that needs
    a decision model of its own: [`AdvantageRDM`][rlssm.AdvantageRDM], with the
    [`Values`][rlssm.Values] mapping (for two options it is this mapping with an
    [`RDM`][rlssm.RDM]).
    Calling it on another number of values raises ``ValueError``, so ``RLSSM(...)``
    with more options fails at construction.

    Notes
    -----
    Sampled parameters: ``urgency`` in (0, 10), ``wd`` in (0, 10), ``ws`` in (0, 10).
    All three are nonnegative in the framework as published: a positive urgency keeps
    the race's drifts positive (every accumulator finishes), a positive ``wd`` makes
    the better option's accumulator the faster one, and ``ws`` captures responses
    getting faster as the pair's total value grows; Fontanesi's implementation maps all
    three to positive values (softplus). The mapping itself is defined for any reals:
    override the bounds (e.g. ``RLSSM(..., bounds={"ws": (-10, 10)})``) to let the
    data decide the sign of ``ws``. The ranges suit values in [0, 1].

    References
    ----------
    Miletic, S., Boag, R. J., Trutti, A. C., Stevenson, N., Forstmann, B. U., &
    Heathcote, A. (2021). A new model of decision processing in instrumental learning
    tasks. *eLife*, 10, e63055.

    van Ravenzwaaij, D., Brown, S. D., Marley, A. A. J., & Heathcote, A. (2020).
    Accumulating advantages: A new conceptualization of rapid multiple choice.
    *Psychological Review*, 127(2), 186-215.
    """

    params = {"urgency": (0.0, 10.0), "wd": (0.0, 10.0), "ws": (0.0, 10.0)}
    outputs = ("v{k}",)

    def __call__(
        self,
        values: Float[Array, " options"],
        urgency: Float[Array, ""],
        wd: Float[Array, ""],
        ws: Float[Array, ""],
    ) -> dict[str, Float[Array, ""]]:
        if values.shape[0] != 2:
            raise ValueError(
                f"Advantage is defined for two options, got {values.shape[0]}: more options need "
                "the pairwise advantage race, rlssm.AdvantageRDM with the Values mapping"
            )
        total = ws * (values[0] + values[1])
        advantage = wd * (values[0] - values[1])
        return {"v0": urgency + advantage + total, "v1": urgency - advantage + total}
