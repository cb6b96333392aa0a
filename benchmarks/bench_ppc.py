"""Generative posterior predictive: rlssm's batched simulator against ssm-simulators'.

The work: ``--draws`` posterior draws, each simulating ``--participants`` x ``--trials``
trials of a dual-rate Rescorla-Wagner learner with the angle decision model on a
two-armed Bernoulli bandit (ssm-simulators' preset ``2AB_RW_DualAlpha_Angle``, same
task: p = (0.7, 0.3), responses -1 / +1).

rlssm runs every draw in one jitted closed loop (`rlssm.simulation.simulate_draws`); its
first call includes compilation. ssm-simulators' ``ssms.rl.Simulator`` runs one
Python loop per participant and trial; it is timed on ``--ssms-draws`` draws and
extrapolated linearly to ``--draws``.

Usage::

    python benchmarks/bench_ppc.py                        # angle, float64, 100 x 20 x 200
    python benchmarks/bench_ppc.py --decision ddm --precision float32
"""

import argparse
import time

import numpy as np


def _draws(n_draws: int, n_participants: int, seed: int) -> dict[str, np.ndarray]:
    """Posterior-like draws: per-participant learning rates, shared decision parameters."""
    rng = np.random.default_rng(seed)
    shape = (n_draws, n_participants)
    return {
        "rl_alpha": rng.uniform(0.2, 0.4, shape),
        "rl_alpha_neg": rng.uniform(0.1, 0.3, shape),
        "scaler": rng.uniform(2.5, 3.5, n_draws),
        "a": rng.uniform(1.1, 1.3, n_draws),
        "z": rng.uniform(0.45, 0.55, n_draws),
        "t": rng.uniform(0.25, 0.35, n_draws),
        "theta": rng.uniform(0.15, 0.25, n_draws),
    }


def time_rlssm(
    args: argparse.Namespace, draws: dict[str, np.ndarray]
) -> tuple[list[tuple[float, float]], int]:
    import rlssm
    from rlssm.decision.angle import Angle
    from rlssm.decision.ddm import DDM
    from rlssm.simulation import simulate_draws

    decision = Angle() if args.decision == "angle" else DDM()
    model = rlssm.RLSSM(rlssm.DualRateRW(), decision, choices=(-1, 1), precision=args.precision)
    params = {k: v for k, v in draws.items() if k in model.param_names}
    env = rlssm.BernoulliBandit((0.7, 0.3))
    times = []
    for seed in range(2):
        # Wall clock, and the process's CPU time (all threads): on a shared machine the
        # latter is closer to what the work costs.
        wall, cpu = time.perf_counter(), time.process_time()
        ppc = simulate_draws(model, params, env, args.participants, args.trials, seed=seed)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return times, len(ppc)


def time_ssms(args: argparse.Namespace, draws: dict[str, np.ndarray]) -> float | None:
    try:
        from ssms.rl import Simulator, preset
    except ImportError:
        return None
    name = "2AB_RW_DualAlpha_Angle" if args.decision == "angle" else "2AB_RW_DDM"
    config = preset.get(name)
    simulator = Simulator(config)
    required = list(config.list_params)
    seconds = []
    for d in range(args.ssms_draws):
        theta = {k: (draws[k][d] if draws[k].ndim == 2 else float(draws[k][d])) for k in required}
        start = time.perf_counter()
        simulator.simulate(theta, n_trials=args.trials, n_participants=args.participants, random_state=d)
        seconds.append(time.perf_counter() - start)
    return float(np.mean(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--decision", choices=("angle", "ddm"), default="angle")
    parser.add_argument("--precision", choices=("float64", "float32"), default="float64")
    parser.add_argument("--ssms-draws", type=int, default=1, help="draws to time ssm-simulators on (0: skip)")
    args = parser.parse_args()

    draws = _draws(args.draws, args.participants, seed=0)
    ((first, first_cpu), (warm, warm_cpu)), rows = time_rlssm(args, draws)
    per_draw = time_ssms(args, draws) if args.ssms_draws > 0 else None

    work = f"{args.draws} draws x {args.participants} participants x {args.trials} trials"
    print(f"generative PPC, {work} ({rows} rows), {args.decision}, {args.precision}")
    print(f"{'':40s}{'wall s':>10s}{'CPU s':>10s}")
    print(f"{'rlssm simulate_draws, first (+compile)':40s}{first:10.2f}{first_cpu:10.2f}")
    print(f"{'rlssm simulate_draws, warm':40s}{warm:10.2f}{warm_cpu:10.2f}")
    if per_draw is not None:
        total = per_draw * args.draws
        print(f"{'ssms.rl.Simulator, per draw':40s}{per_draw:10.2f}")
        print(f"{f'ssms.rl.Simulator, x{args.draws} (extrapolated)':40s}{total:10.1f}")
        print(f"{'ratio ssms / rlssm (first call)':40s}{total / first:9.0f}x")
        print(f"{'ratio ssms / rlssm (warm)':40s}{total / warm:9.0f}x")


if __name__ == "__main__":
    main()
