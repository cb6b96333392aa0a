"""Parameter domains (part of the reliability issue): where components are defined.

Eager entry points refuse values outside a component's domain, `RLSSM(bounds=...)`
refuses bounds beyond it, the command line answers in one line, and the jit path keeps
its floor and gives NaN for NaN parameters. Each error case asserts the error type and
that the message names the offending thing.
"""

from __future__ import annotations

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm._spec import bounds_of
from rlssm.engine import Composition, Domain
from rlssm.simulation import sample_conditional_rows, simulate_conditional, simulate_draws

PARAMS = {"rl_alpha": 0.3, "scaler": 3.0, "a": 1.0, "z": 0.5, "t": 0.2}
ENV = rlssm.BernoulliBandit(p=(0.3, 0.7))


@pytest.fixture(scope="module")
def rw_ddm():
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM())
    data = model.simulate(PARAMS, ENV, n_participants=3, n_trials=6, seed=0).drop(columns="correct")
    data["participant_id"] = data["participant_id"].map({0: "p0", 1: "p1", 2: "p2"})
    return model, data


# ---------------------------------------------------------------------- Domain
def test_domain_parse_contains_and_text():
    unit = Domain.parse("[0, 1]")
    assert (unit.lower, unit.upper, unit.lower_closed, unit.upper_closed) == (0.0, 1.0, True, True)
    np.testing.assert_array_equal(unit.contains([-0.1, 0.0, 0.5, 1.0, 1.5, math.nan]), [0, 1, 1, 1, 0, 0])
    positive = Domain.parse("(0, inf)")
    np.testing.assert_array_equal(positive.contains([0.0, 1e-300, 1e300, math.inf]), [0, 1, 1, 0])
    assert str(Domain.parse(" [0 ,inf ) ")) == "[0, inf)"
    assert str(Domain.parse("(-1.5707963, 1.5707963)")) == "(-1.5707963, 1.5707963)"
    # Bounds are open intervals: those that touch an open end of the domain lie within it.
    assert positive.covers((0.0, 5.0)) and unit.covers((0.0, 1.0))
    assert not Domain.parse("(0, 1)").covers((-1.0, 2.0))
    for text, match in [
        ("0..1", r"expected an interval such as '\(0, inf\)' or '\[0, 1\]', got '0\.\.1'"),
        ("(a, 1)", r"expected an interval of numbers .* got '\(a, 1\)'"),
        ("[0, inf]", r"an infinite end of a domain is open: write \[0, inf\)"),
        ("(1, 0)", r"a domain needs lower < upper, got 1\.0 and 0\.0"),
    ]:
        with pytest.raises(ValueError, match=match):
            Domain.parse(text)


def test_library_declarations():
    """Every library component's domains parse and hold its default bounds; the
    decision models' are the processes' own."""
    parts = [
        rlssm.RescorlaWagner(), rlssm.DualRateRW(), rlssm.ForgettingRW(), rlssm.CounterfactualRW(),
        rlssm.PearceHall(), rlssm.KalmanFilter(), rlssm.ChoiceKernel(), rlssm.RLWM(),
        rlssm.DriftScaling(), rlssm.SigmoidDrift(), rlssm.ValueModulatedThreshold(),
        rlssm.KernelDrift(), rlssm.UncertaintyDrift(), rlssm.DDM(), rlssm.Angle(),
    ]
    for part in parts:
        domains = Composition.component_domains(part)
        assert set(domains) == set(part.params), type(part).__name__
        for name, bound in bounds_of(part.params).items():
            assert domains[name].covers(bound), (type(part).__name__, name)
    ddm = Composition.component_domains(rlssm.DDM())
    assert {k: str(d) for k, d in ddm.items()} == {"v": "(-inf, inf)", "a": "(0, inf)", "z": "(0, 1)", "t": "[0, inf)"}
    assert str(Composition.component_domains(rlssm.Angle())["theta"]) == "(-1.5707963, 1.5707963)"
    assert str(Composition.component_domains(rlssm.RescorlaWagner())["alpha"]) == "[0, 1]"
    model = rlssm.RLSSM(rlssm.KalmanFilter(), rlssm.DDM(), mapping=rlssm.ValueModulatedThreshold())
    shown = {k: str(d) for k, d in model.composition.domains.items()}
    assert shown["rl_decay"] == "[0, 1]" and shown["rl_decay_center"] == "(-inf, inf)"
    assert shown["a_base"] == "(0, inf)" and shown["a"] == "(0, inf)"  # `a` computed: DDM's


def _rw_update(values, option, feedback, alpha):
    return values.at[option].add(alpha * (feedback - values[option]))


class WideRW(rlssm.AbstractLearningRule):
    """Default bounds beyond the declared domain."""

    initial_value: float = 0.5
    params = {"alpha": (0.0, 2.0)}
    domains = {"alpha": "[0, 1]"}
    fields = ("feedback",)

    def update(self, values, option, feedback, alpha):
        return _rw_update(values, option, feedback, alpha)


class TypoRW(rlssm.AbstractLearningRule):
    initial_value: float = 0.5
    params = {"alpha": (0.0, 1.0)}
    domains = {"alhpa": "[0, 1]"}
    fields = ("feedback",)

    def update(self, values, option, feedback, alpha):
        return _rw_update(values, option, feedback, alpha)


class BadTextRW(rlssm.AbstractLearningRule):
    initial_value: float = 0.5
    params = {"alpha": (0.0, 1.0)}
    domains = {"alpha": "0 to 2"}
    fields = ("feedback",)

    def update(self, values, option, feedback, alpha):
        return _rw_update(values, option, feedback, alpha)


def test_component_declarations_are_checked_at_construction():
    with pytest.raises(ValueError, match=r"WideRW: the default bounds \(0\.0, 2\.0\) of 'alpha' reach outside its domain \[0, 1\]"):
        rlssm.RLSSM(WideRW(), rlssm.DDM())
    with pytest.raises(ValueError, match=r"TypoRW: domains names \['alhpa'\], which are not its parameters \('alpha',\)"):
        rlssm.RLSSM(TypoRW(), rlssm.DDM())
    with pytest.raises(ValueError, match=r"BadTextRW: domain of 'alpha': expected an interval .* got '0 to 2'"):
        rlssm.RLSSM(BadTextRW(), rlssm.DDM())


# ---------------------------------------------------------------------- bounds (item 4)
@pytest.mark.parametrize(
    "decision, bounds, match",
    [
        (rlssm.DDM(), {"z": (-1.0, 2.0)}, r"bounds: 'z' = \(-1\.0, 2\.0\) reaches outside \(0, 1\), the domain of DDM's z"),
        (rlssm.DDM(), {"a": (-1.0, 3.0)}, r"bounds: 'a' = \(-1\.0, 3\.0\) reaches outside \(0, inf\), the domain of DDM's a"),
        (rlssm.DDM(), {"rl_alpha": (0.0, 1.5)},
         r"bounds: 'rl_alpha' = \(0\.0, 1\.5\) reaches outside \[0, 1\], the domain of RescorlaWagner's alpha"),
        (rlssm.Angle(), {"theta": (-0.1, 1.6)},
         r"bounds: 'theta' = \(-0\.1, 1\.6\) reaches outside \(-1\.5707963, 1\.5707963\), the domain of Angle's theta"),
        (rlssm.Angle(), {"t": (-0.5, 1.0)}, r"bounds: 't' = \(-0\.5, 1\.0\) reaches outside \[0, inf\), the domain of Angle's t"),
    ],
)
def test_bounds_beyond_the_domain_are_refused(decision, bounds, match):
    with pytest.raises(ValueError, match=match):
        rlssm.RLSSM(rlssm.RescorlaWagner(), decision, bounds=bounds)


def test_bounds_within_the_domain_are_taken():
    model = rlssm.RLSSM(
        rlssm.RescorlaWagner(), rlssm.Angle(),
        bounds={"z": (0.0, 1.0), "a": (0.0, 5.0), "theta": (-1.5, 1.5), "scaler": (-10.0, 10.0)},
    )
    assert model.bounds["theta"] == (-1.5, 1.5) and model.default_params["z"] == 0.5


# ---------------------------------------------------------------------- eager values (item 2)
ENTRY_POINTS = {
    "loglik": lambda m, d, p: m.loglik(d, p),
    "values": lambda m, d, p: m.values(d, p),
    "simulate": lambda m, d, p: m.simulate(p, ENV, n_participants=3, n_trials=6),
    "simulate_conditional": lambda m, d, p: simulate_conditional(m, d, p),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize(
    "bad, match",
    [
        ({"z": 1.5}, r"params\['z'\] = 1\.5 lies outside \(0, 1\), the domain of DDM's z$"),
        ({"z": 0.0}, r"params\['z'\] = 0\.0 lies outside \(0, 1\), the domain of DDM's z$"),
        ({"z": 1.0}, r"params\['z'\] = 1\.0 lies outside \(0, 1\)"),
        ({"a": 0.0}, r"params\['a'\] = 0\.0 lies outside \(0, inf\), the domain of DDM's a$"),
        ({"a": -1.0}, r"params\['a'\] = -1\.0 lies outside \(0, inf\)"),
        ({"t": -0.5}, r"params\['t'\] = -0\.5 lies outside \[0, inf\), the domain of DDM's t$"),
        ({"rl_alpha": 1.5}, r"params\['rl_alpha'\] = 1\.5 lies outside \[0, 1\], the domain of RescorlaWagner's alpha$"),
        ({"rl_alpha": -0.1}, r"params\['rl_alpha'\] = -0\.1 lies outside \[0, 1\]"),
    ],
)
def test_values_outside_the_domain_are_refused(rw_ddm, entry, bad, match):
    model, data = rw_ddm
    with pytest.raises(rlssm.DataError, match=match):
        ENTRY_POINTS[entry](model, data, PARAMS | bad)


def test_messages_name_the_participant_row_and_draw(rw_ddm):
    model, data = rw_ddm
    z = pd.Series([0.5, 1.2, 1.3], index=["p0", "p1", "p2"])
    with pytest.raises(rlssm.DataError, match=r"params\['z'\] = 1\.2 \(participant 'p1'\) lies outside \(0, 1\), the domain of DDM's z; 1 more value lies outside too$"):
        model.loglik(data, PARAMS | {"z": z})
    t = np.full(len(data), 0.2)
    t[13] = -0.1
    with pytest.raises(rlssm.DataError, match=r"params\['t'\] = -0\.1 \(row 13, participant 'p2'\) lies outside \[0, inf\)"):
        model.loglik(data, PARAMS | {"t": t})
    with pytest.raises(rlssm.DataError, match=r"params\['a'\] = -1\.0 \(participant 1\) lies outside \(0, inf\)"):
        model.simulate(PARAMS | {"a": np.array([1.0, -1.0, 1.0])}, ENV, 3, 6)
    with pytest.raises(rlssm.DataError, match=r"params\['a'\] = 0\.0 \(draw 2\) lies outside \(0, inf\)"):
        simulate_draws(model, PARAMS | {"a": np.array([1.0, 1.0, 0.0])}, ENV, 3, 6)
    rows = {k: np.full((2, len(data)), v) for k, v in PARAMS.items()}
    rows["z"][1, 4] = 1.0
    with pytest.raises(rlssm.DataError, match=r"params\['z'\] = 1\.0 \(draw 1, row 4, participant 'p0'\) lies outside \(0, 1\)"):
        sample_conditional_rows(model, data, rows, key=0)


def test_values_inside_the_domain_but_outside_the_bounds_are_taken(rw_ddm):
    """Bounds are prior ranges, not domains: theta = 1.5 (angle's bounds end at 1.3;
    the bounds meet 0.07 s after t, so t is set per row just below rt), alpha = 1 and
    t = 0 (closed ends of their domains) give finite log-likelihoods above the floor."""
    model, data = rw_ddm
    angle = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Angle())
    t = data["rt"].to_numpy() - 0.03
    ll = angle.loglik(data, PARAMS | {"theta": 1.5, "t": t, "rl_alpha": 1.0})
    assert np.isfinite(ll).all() and (ll > -66.1).all()
    ll = model.loglik(data, PARAMS | {"t": 0.0, "rl_alpha": 1.0})
    assert np.isfinite(ll).all() and (ll > -66.1).all()


class LinearThreshold(rlssm.AbstractMapping):
    """A boundary that falls linearly with the value difference: negative for strong
    preferences (a model problem the check names)."""

    params = {"scaler": (0.0, 10.0), "a_base": (0.3, 3.0), "a_slope": (-10.0, 10.0)}
    outputs = ("v", "a")

    def __call__(self, values, scaler, a_base, a_slope):
        diff = values[1] - values[0]
        return {"v": scaler * diff, "a": a_base + a_slope * diff}


def test_computed_parameters_outside_the_domain_name_the_mapping(rw_ddm):
    _, data = rw_ddm
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM(), mapping=LinearThreshold())
    params = {"rl_alpha": 0.5, "scaler": 3.0, "a_base": 0.5, "a_slope": 0.0, "z": 0.5, "t": 0.1}
    diff = model.values(data, params).eval("value_1 - value_0").to_numpy()
    slope = -10.0
    a = 0.5 + slope * diff
    assert (a <= 0).any() and (a > 0).any()
    first = int(np.flatnonzero(a <= 0)[0])  # data sorted by participant and trial
    label = data["participant_id"].iloc[first]
    match = (
        rf"LinearThreshold computed a = (\S+) \(row {first}, participant '{label}'\) from the "
        r"parameters given, outside \(0, inf\), the domain of DDM's a"
    )
    for method in (model.loglik, model.values):
        with pytest.raises(rlssm.DataError, match=match) as caught:
            method(data, params | {"a_slope": slope})
        shown = re.search(match, str(caught.value))
        assert shown is not None and float(shown.group(1)) == pytest.approx(a[first], rel=1e-12)
    with pytest.raises(rlssm.DataError, match=r"LinearThreshold computed a = -?[0-9.e-]+ \(participant \d, trial \d+\) .*\(0, inf\)"):
        model.simulate(params | {"a_slope": slope}, ENV, 3, 30)


# ---------------------------------------------------------------------- jit path
def test_jit_path_keeps_the_floor_and_propagates_nan(rw_ddm):
    model, data = rw_ddm
    f = jax.jit(model.logp_fn(data))
    with jax.enable_x64(True):
        # t above some response times: exactly the floor there, no error.
        late = {k: jnp.asarray(v) for k, v in (PARAMS | {"t": float(data["rt"].median())}).items()}
        ll = np.asarray(f(late))
        assert (ll == -66.1).any() and (ll > -66.1).any() and np.isfinite(ll).all()
        # No eager check under jit: a value outside a domain is evaluated, unchecked.
        assert np.asarray(f(late | {"z": jnp.asarray(1.5)})).shape == (len(data),)
        for name in PARAMS:
            out = np.asarray(f(late | {name: jnp.asarray(jnp.nan)}))
            assert np.isnan(out).all(), (name, out)
        # A NaN for one participant reaches that participant's rows only.
        alpha = jnp.asarray([0.3, jnp.nan, 0.3])
        out = np.asarray(f(late | {"rl_alpha": alpha}))
        np.testing.assert_array_equal(np.isnan(out), (data["participant_id"] == "p1").to_numpy())


@pytest.mark.parametrize("decision", [rlssm.DDM(), rlssm.Angle()], ids=["DDM", "Angle"])
def test_decision_models_give_nan_for_nan_parameters(decision):
    base = {"v": 1.0, "a": 1.0, "z": 0.5, "t": 0.2} | ({"theta": 0.2} if "theta" in decision.params else {})
    with jax.enable_x64(True):
        assert np.isfinite(decision.logp(0.8, 1, **base))
        for name in base:
            assert np.isnan(decision.logp(0.8, 1, **base | {name: math.nan})), name


# ---------------------------------------------------------------------- command line (item 7)
def _one_line_exit_2(capsys, argv) -> str:
    from rlssm.cli import main

    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, (argv, code, err)
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.mark.parametrize(
    "param, match",
    [
        ("a=-1", r"params['a'] = -1.0 lies outside (0, inf), the domain of Angle's a"),
        ("t=-1", r"params['t'] = -1.0 lies outside [0, inf), the domain of Angle's t"),
        ("z=1", r"params['z'] = 1.0 lies outside (0, 1)"),
        ("a=abc", "--param a=abc: expected NAME=NUMBER"),
    ],
)
def test_cli_simulate_out_of_domain_gives_one_line(capsys, tmp_path, param, match):
    out = tmp_path / "x.csv"
    argv = ["simulate", "--participants", "1", "--trials", "2", "--param", param, "--out", str(out)]
    line = _one_line_exit_2(capsys, argv)
    assert match in line and line.startswith("rlssm simulate: error: "), line
    assert not out.exists()


# ---------------------------------------------------------------------- HSSM and x64 (item 9)
def test_to_hssm_documents_the_x64_flag():
    """`import hssm` turns JAX's x64 flag on for the process; rlssm leaves it on because
    HSSM's samplers need it at sample time (turned back off, a small numpyro fit got
    float32 truncation warnings and divergences): the API docs say so."""
    from rlssm.hssm_bridge import to_hssm

    for doc in (to_hssm.__doc__, rlssm.RLSSM.to_hssm.__doc__):
        assert doc is not None and "jax_enable_x64" in doc
        assert re.search(r"leaves (it|the flag) on", " ".join(doc.split())), doc
