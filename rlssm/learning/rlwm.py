"""Reinforcement learning and working memory (RLWM): Collins & Frank (2012), Collins (2018)."""

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Int
from .base import AbstractLearningRule


class RLWM(AbstractLearningRule):
    """Reinforcement learning plus a capacity-limited, decaying working memory.

    The model of Collins & Frank (2012), *European Journal of Neuroscience* 35,
    1024-1035 ("How much of reinforcement learning is working memory, not
    reinforcement learning?"), in the parameterisation of Collins (2018), *Journal of
    Cognitive Neuroscience* 30, 1422-1432 ("The tortoise and the hare: interactions
    between reinforcement learning and working memory"). Each stimulus (the data's
    ``state`` column; rlssm keeps one rule state per stimulus) has RL values ``Q`` and
    working-memory weights ``W``, one per option; ``n`` is the number of options and
    ``r`` the feedback.

    **Decision.** The values that drive the trial's decision (`values_of`) are

    ``w = rho * min(1, capacity / set_size)``;
    ``V = (1 - epsilon) * (w * W + (1 - w) * Q) + epsilon / n``,

    with ``set_size`` the trial's value of the data column of that name (the number of
    stimuli in the block) and ``W`` the stimulus's working memory decayed to this trial
    (below). With the default [`DriftScaling`][rlssm.DriftScaling] the drift is
    ``scaler * (V[1] - V[0])``: the RL and WM values are mixed *before* the evidence
    accumulation, the RLWM-DDM formulation in which the drift follows the difference of
    the mixed values. (McDougle & Collins 2021, *Psychonomic Bulletin & Review* 28,
    20-39, fed RL and WM into an evidence-accumulation model, a linear ballistic
    accumulator; they are the precedent for driving an accumulator with RLWM.) The
    choice-only model of Collins & Frank mixes *policies* instead,
    ``P = (1 - epsilon) * (w * softmax(beta * W) + (1 - w) * softmax(beta * Q)) +
    epsilon / n``; rlssm's decision models take values, not policies, so this rule
    gives the mixture of values, and ``epsilon`` shrinks the value difference by
    ``1 - epsilon`` (it is not a lapse rate of the choice).

    **Learning** (observed trials only; rlssm skips missed trials). With chosen option
    ``c``:

    * RL: ``delta = r - Q[c]``; ``Q[c] += alpha * delta`` if ``delta > 0``, else
      ``Q[c] += gamma * alpha * delta``;
    * WM: ``delta_wm = r - W[c]``; ``W[c] += delta_wm`` if ``delta_wm > 0`` (one-shot
      storage), else ``W[c] += gamma * delta_wm``.

    ``gamma`` is Collins' negative-feedback scaling (her perseveration parameter
    ``pers`` is ``1 - gamma``): with ``gamma = 1`` negative feedback teaches as much as
    positive feedback.

    **Decay.** On *every* trial, missed trials included, every stimulus's working memory
    decays toward the uninformed value: ``W <- W + phi * (1/n - W)``. Collins' trial
    loop is: decide, learn (the current stimulus), then decay (all stimuli). Since rlssm
    steps only the current stimulus's state, the decay is applied lazily: the state
    keeps ``last``, the ``trial_index`` of the stimulus's last update (trials counted
    within the participant, missed trials included), and W is brought to trial ``t``
    by ``W_t = 1/n + (1 - phi) ** (t - last) * (W - 1/n)``, in `values_of` (for the
    decision) and in `update` (before learning). The exponent ``t - last`` counts the
    decays Collins' loop applies between the learning at trial ``last`` and the
    decision at trial ``t``: one at the end of each trial ``last, ..., t - 1``, the
    learning trial's own included. So a stimulus seen on two consecutive trials
    enters its second decision with ``W`` decayed once, and the decay that follows the
    last trial of a block is never observed. This equals the global loop exactly
    (``tests/test_rules_rlwm.py`` checks it against one): ``W`` decays toward
    ``1/n``, which a decay leaves unchanged, so a stimulus not yet seen since its
    block started needs no clock.

    **Start.** At a participant's or block's first trial every stimulus has
    ``W = 1/n`` and ``Q = initial_value`` (``1/n`` by default).

    The state (`RLWM.State`) holds ``q``, ``wm`` and ``last``;
    [`RLSSM.values`][rlssm.RLSSM.values] reports them (``q_<choice>``,
    ``wm_<choice>``, ``last``) beside ``value_<choice>``, the mixture ``V``. ``wm``
    is the memory as stored at the stimulus's last update, not decayed to the trial
    (the decayed memory is the formula above with ``t`` the row's ``trial_index``).

    With ``rho = 0`` it is RL alone: [`DualRateRW`][rlssm.DualRateRW] with
    ``alpha_neg = gamma * alpha`` ([`RescorlaWagner`][rlssm.RescorlaWagner] when
    ``gamma = 1``), its drift scaled by ``1 - epsilon``.

    Parameters
    ----------
    initial_value
        Start of the RL values ``Q``. ``None`` (default): ``1 / n_options``, as in
        Collins & Frank. The working memory always starts at ``1 / n_options``, the
        value it decays toward.

    Notes
    -----
    Parameters (``rl_``-prefixed in a model): ``alpha`` (0, 1), the RL learning rate;
    ``phi`` (0, 1), the WM decay per trial; ``rho`` (0, 1), the WM reliance;
    ``capacity`` (1, 6), the WM capacity ``K``; ``gamma`` (0, 1), the negative-feedback
    scaling; ``epsilon`` (0, 0.5), the noise. The capacity enters only through
    ``min(1, capacity / set_size)``, so it is identified only between the smallest and
    largest set size of the data: above the largest the weight is ``rho`` at every set
    size (the likelihood is flat in ``capacity``), below the smallest only
    ``rho * capacity`` is. The default bounds (1, 6) are the set sizes of Collins &
    Frank's task (1 to 6 stimuli per block); published fits take ``K`` as an integer
    within them, here it is continuous (the weight is continuous and piecewise linear
    in ``K``) so gradient-based samplers can move it. For other set sizes, override:
    ``RLSSM(..., bounds={"rl_capacity": (2.0, 6.0)})``.

    The data need a ``set_size`` column (a positive number on every trial, missed ones
    included: a [`DataError`][rlssm.DataError] otherwise) and,
    for several stimuli, a ``state`` column. A closed-loop simulation cannot produce
    the stimuli and set sizes; use [`simulate_conditional`][rlssm.simulation.simulate_conditional].
    """

    initial_value: float | None = None
    params = {
        "alpha": (0.0, 1.0),
        "phi": (0.0, 1.0),
        "rho": (0.0, 1.0),
        "capacity": (1.0, 6.0),
        "gamma": (0.0, 1.0),
        "epsilon": (0.0, 0.5, 0.05),
    }
    domains = {
        "alpha": "[0, 1]",
        "phi": "[0, 1]",
        "rho": "[0, 1]",
        "capacity": "[0, inf)",
        "gamma": "[0, 1]",
        "epsilon": "[0, 1]",
    }
    fields = ("feedback",)
    cues = ("set_size", "trial_index")
    # capacity / set_size: a set size of 0 or below has no meaning (the padding cells'
    # 0 is guarded in values_of; the data's are refused).
    field_domains = {"set_size": "(0, inf)"}

    class State(eqx.Module):
        """RL values, working memory and the trial of the last update of one stimulus."""

        q: Float[Array, " options"]
        wm: Float[Array, " options"]
        last: Float[Array, ""]

    def init(self, n_options: int, dtype, **params) -> "RLWM.State":
        del params
        uniform = 1.0 / n_options
        start = uniform if self.initial_value is None else self.initial_value
        return RLWM.State(
            jnp.full((n_options,), start, dtype),
            jnp.full((n_options,), uniform, dtype),
            jnp.zeros((), dtype),
        )

    @staticmethod
    def memory(
        state: "RLWM.State", trial_index: Float[Array, ""], phi: Float[Array, ""]
    ) -> Float[Array, " options"]:
        """The working memory of ``state`` decayed to the trial ``trial_index``."""
        uniform = 1.0 / state.wm.shape[0]
        keep = jnp.power(1.0 - phi, trial_index - state.last)
        return uniform + keep * (state.wm - uniform)

    def values_of(
        self,
        state: "RLWM.State",
        set_size: Float[Array, ""],
        trial_index: Float[Array, ""],
        alpha: Float[Array, ""],
        phi: Float[Array, ""],
        rho: Float[Array, ""],
        capacity: Float[Array, ""],
        gamma: Float[Array, ""],
        epsilon: Float[Array, ""],
    ) -> Float[Array, " options"]:
        n = state.q.shape[0]
        # Padding cells carry set_size 0 (missed trials keep theirs: it is a cue); they
        # are never scored, but capacity / 0 would put 0 * inf = NaN into the gradient.
        size = jnp.where(set_size > 0, set_size, 1.0)
        weight = rho * jnp.minimum(1.0, capacity / size)
        mixed = weight * self.memory(state, trial_index, phi) + (1.0 - weight) * state.q
        return (1.0 - epsilon) * mixed + epsilon / n

    def update(
        self,
        state: "RLWM.State",
        option: Int[Array, ""],
        feedback: Float[Array, ""],
        set_size: Float[Array, ""],
        trial_index: Float[Array, ""],
        alpha: Float[Array, ""],
        phi: Float[Array, ""],
        rho: Float[Array, ""],
        capacity: Float[Array, ""],
        gamma: Float[Array, ""],
        epsilon: Float[Array, ""],
    ) -> "RLWM.State":
        chosen = jax.nn.one_hot(option, state.q.shape[0], dtype=bool)  # one-hot: see RescorlaWagner
        delta = feedback - jnp.sum(jnp.where(chosen, state.q, 0.0))
        rate = jnp.where(delta > 0, alpha, gamma * alpha)
        q = state.q + jnp.where(chosen, rate * delta, 0.0)
        wm = self.memory(state, trial_index, phi)
        delta_wm = feedback - jnp.sum(jnp.where(chosen, wm, 0.0))
        rate_wm = jnp.where(delta_wm > 0, 1.0, gamma)
        wm = wm + jnp.where(chosen, rate_wm * delta_wm, 0.0)
        return RLWM.State(q, wm, jnp.asarray(trial_index, state.last.dtype))

    def named_state(self, state: "RLWM.State") -> dict[str, Array]:
        return {"q": state.q, "wm": state.wm, "last": state.last}
