"""Before/after benchmark of an engine refactor: two rlssm source trees measured side by side.

The *baseline* is an older rlssm source tree (by default a temporary ``git worktree`` of
``--baseline-rev``, removed at exit); the *candidate* is another tree (by default this
repository). Both run under this interpreter and its environment: for each tree the
script starts a child process, ``sys.executable bench_engine.py --child ...`` with the
tree first on ``PYTHONPATH`` (ahead of the editable install), and the child checks that
``rlssm`` was imported from that tree. In each of ``--rounds`` rounds one fresh child per
tree is started and set up (import, compile, warm-up, totals, first simulation) one after
the other; then both stay alive and take turns: blocks of ``--block`` timed rounds,
baseline then candidate, then candidate then baseline, and so on (the waiting child uses no
CPU), so that drift and bursts of load on the machine hit both sides alike. Every number
in the table is the median over rounds of each child's median; which tree goes first
alternates between rounds.

A child uses only the public API (``rlssm.RLSSM``, ``rlssm.DualRateRW``, ``rlssm.Angle``,
``rlssm.AngleLAN(path)``, ``model.logp_fn``, ``model.loglik``, ``model.simulate``,
``rlssm.GaussianBandit``), so any tree with that API can be measured. It measures:

- value+grad: ``jax.jit(jax.value_and_grad(total))`` of the summed log-likelihood of the
  seed data (20 x 200) with respect to all seven parameters (what one NUTS leapfrog step
  costs; as in ``bench_likelihood.py``), for the exact ``Angle`` and ``AngleLAN``, float32
  and float64, scalar parameters and per-trial (4000-long) vectors: 8 rows. Median ms
  over ``--repeats`` rounds after compiling and ``--warmup`` calls, every function once
  per round in rotating order, ``jax.block_until_ready`` on the result;
- the total log-likelihood at ``SEED_POINT`` in float64 for both decision models
  (``model.loglik`` summed, and ``logp_fn``), which must agree between the trees;
- closed-loop simulation, ``model.simulate(SEED_POINT, GaussianBandit(means=(0.2, 0.8),
  sd=0.1), --sim-participants, --sim-trials, seed)`` with the exact ``Angle`` in float32
  and float64: a first call (compile), then ``--sim-repeats`` timed calls with the same
  seed. The frames of the two trees are compared (identical, or the max difference).

Exit status 0 when every ratio is within its limit (value+grad ``--lik-tol``; simulation
``max(--sim-tol, 1 + IQR of the paired ratios)``) and the results agree, 1 otherwise.

Run: ``.venv/bin/python benchmarks/bench_engine.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

DEFAULT_BASELINE_REV = "0d111db"

VG_ROWS = [
    (decision, prec, form)
    for decision in ("Angle", "AngleLAN")
    for prec in ("float32", "float64")
    for form in ("scalar", "per-trial")
]
"""The value+grad rows: (decision model, precision, parameter form)."""

SIM_PRECISIONS = ("float32", "float64")


def vg_label(decision: str, prec: str, form: str) -> str:
    return f"value+grad {decision:8} {prec} {form}"


def sim_label(prec: str) -> str:
    return f"simulate Angle {prec}"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    base = p.add_mutually_exclusive_group()
    base.add_argument("--baseline", metavar="DIR", default=None,
                      help="source tree of the old rlssm (a folder holding rlssm/); overrides --baseline-rev")
    base.add_argument("--baseline-rev", metavar="REV", default=DEFAULT_BASELINE_REV,
                      help=f"git revision checked out in a temporary worktree as the baseline (default {DEFAULT_BASELINE_REV})")
    p.add_argument("--candidate", metavar="DIR", default=str(common.REPO_ROOT),
                   help="source tree of the new rlssm (default: this repository)")
    p.add_argument("--rounds", type=int, default=2,
                   help="rounds, each with a fresh child per tree (default 2); the table takes the median over rounds")
    p.add_argument("--repeats", type=int, default=100,
                   help="timed value+grad calls of every function per child and round (default 100)")
    p.add_argument("--block", type=int, default=10,
                   help="the children take turns every BLOCK value+grad rounds (default 10)")
    p.add_argument("--warmup", type=int, default=5, help="untimed value+grad calls per function after compiling")
    p.add_argument("--sim-participants", type=int, default=2000)
    p.add_argument("--sim-trials", type=int, default=200)
    p.add_argument("--sim-repeats", type=int, default=3,
                   help="timed simulate calls per child and round after the compiling one, same seed, "
                        "alternating between the children (default 3)")
    p.add_argument("--sim-seed", type=int, default=0)
    p.add_argument("--no-sim", action="store_true", help="skip the simulation rows")
    p.add_argument("--lik-tol", type=float, default=1.05,
                   help="pass if every value+grad ratio after/before <= this (default 1.05)")
    p.add_argument("--sim-tol", type=float, default=1.05,
                   help="simulation ratios pass up to max(this, 1 + the largest IQR of their paired ratios) (default 1.05)")
    p.add_argument("--rtol", type=float, default=1e-9,
                   help="relative tolerance of the float64 totals between trees (default 1e-9)")
    p.add_argument("--xla-flags", default="", help="appended to XLA_FLAGS in the children")
    p.add_argument("--data-dir", default=None, help="folder with rldm_data.npy and angle.onnx")
    p.add_argument("--json", metavar="FILE", default=None, help="also write all results here")
    # internal: the measuring child
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--expect-root", default=None, help=argparse.SUPPRESS)
    p.add_argument("--frames-prefix", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ====================================================================== child
PROTOCOL = "@@bench_engine "
"""Prefix of the child's answer lines on stdout (anything else there is ignored)."""


def _say(obj: dict) -> None:
    sys.stdout.write(PROTOCOL + json.dumps(obj) + "\n")
    sys.stdout.flush()


def child(args: argparse.Namespace) -> int:
    """Set up and compile everything, answer ``ready``, then time blocks on request.

    Commands, one JSON object per line on stdin: ``{"cmd": "vg", "n": k}`` (``k``
    rotating rounds of every value+grad function; answers the times in ms),
    ``{"cmd": "sim"}`` (one timed ``simulate`` per precision) and ``{"cmd": "quit"}``.
    While it waits for a command the child uses no CPU, so the other tree's child can
    be timed in between.
    """
    if args.xla_flags:
        common.add_xla_flags(extra=args.xla_flags)
    out: dict = {"errors": [], "vg": {}, "totals": {}, "sim": {}}
    t_start = time.perf_counter()
    import jax
    import numpy as np

    import rlssm

    out["rlssm_file"] = rlssm.__file__
    if args.expect_root:
        root = Path(args.expect_root).resolve()
        if root not in Path(rlssm.__file__).resolve().parents:
            _say({"fatal": f"imported rlssm from {rlssm.__file__}, not from {root}"})
            return 2
    out["machine"] = common.machine_note()
    out["import_s"] = time.perf_counter() - t_start

    folder = common.data_dir(args.data_dir)
    data = common.seed_data(folder)
    n_rows = len(data)
    onnx_file = folder / "angle.onnx"
    decisions = {"Angle": lambda: rlssm.Angle(), "AngleLAN": lambda: rlssm.AngleLAN(onnx_file)}

    def error(where: str, exc: BaseException) -> None:
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
        out["errors"].append(f"{where}: {type(exc).__name__}: {text}")
        traceback.print_exc()

    # ---------------------------------------------------------------- value + grad: compile
    timed: dict[str, tuple] = {}
    for decision, prec, form in VG_ROWS:
        label = vg_label(decision, prec, form)
        try:
            model = rlssm.RLSSM(rlssm.DualRateRW(), decisions[decision](), precision=prec)
            f = model.logp_fn(data)
            vg = jax.jit(jax.value_and_grad(lambda p, f=f: f(p).sum()))
            dtype = np.dtype(prec)
            if form == "scalar":
                params = {n: np.asarray(v, dtype=dtype) for n, v in common.SEED_POINT.items()}
            else:
                params = {n: np.full(n_rows, v, dtype=dtype) for n, v in common.SEED_POINT.items()}
            x64 = prec == "float64"
            t0 = time.perf_counter()
            with jax.enable_x64(x64):
                val, grad = jax.block_until_ready(vg(params))
            out["vg"][label] = {
                "compile_s": time.perf_counter() - t0,
                "value": float(val),
                "grad": {n: float(np.sum(np.asarray(g, dtype=np.float64))) for n, g in grad.items()},
            }
            timed[label] = (vg, params, x64)
        except Exception as exc:  # noqa: BLE001 - report and go on (code under development)
            error(label, exc)
    keys = list(timed)
    for key in keys:
        fn, params, x64 = timed[key]
        with jax.enable_x64(x64):
            for _ in range(args.warmup):
                jax.block_until_ready(fn(params))

    # ---------------------------------------------------------------- float64 totals
    for decision in decisions:
        try:
            model = rlssm.RLSSM(rlssm.DualRateRW(), decisions[decision](), precision="float64")
            with jax.enable_x64(True):
                ll = np.asarray(model.loglik(data, dict(common.SEED_POINT)), dtype=np.float64)
                f = model.logp_fn(data)
                params = {n: np.asarray(v, dtype=np.float64) for n, v in common.SEED_POINT.items()}
                via_fn = float(np.asarray(jax.jit(lambda p: f(p).sum())(params)))
            out["totals"][decision] = {"loglik": float(ll.sum()), "logp_fn": via_fn, "rows": int(ll.size)}
        except Exception as exc:  # noqa: BLE001
            error(f"total {decision}", exc)

    # ---------------------------------------------------------------- simulation: compile
    sims: dict[str, object] = {}
    if not args.no_sim:
        env = rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1)
        for prec in SIM_PRECISIONS:
            label = sim_label(prec)
            try:
                model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Angle(), precision=prec)
                call = (lambda m: lambda: m.simulate(  # noqa: E731
                    dict(common.SEED_POINT), env, args.sim_participants, args.sim_trials, args.sim_seed
                ))(model)
                t0 = time.perf_counter()
                frame = call()
                entry = {
                    "first_s": time.perf_counter() - t0,
                    "rows": len(frame),
                    "missed": int(frame["rt"].isna().sum()),
                }
                if args.frames_prefix:
                    entry["frame"] = f"{args.frames_prefix}-{prec}.pkl"
                    frame.to_pickle(entry["frame"])
                del frame
                out["sim"][label] = entry
                sims[label] = call
            except Exception as exc:  # noqa: BLE001
                error(label, exc)
    out["setup_s"] = time.perf_counter() - t_start
    _say({"ready": out})

    # ---------------------------------------------------------------- timing on request
    shift = 0
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "vg":
            times: dict[str, list[float]] = {k: [] for k in keys}
            for _ in range(int(cmd["n"])):
                for key in keys[shift:] + keys[:shift]:
                    fn, params, x64 = timed[key]
                    with jax.enable_x64(x64):
                        t0 = time.perf_counter()
                        jax.block_until_ready(fn(params))
                        times[key].append(1e3 * (time.perf_counter() - t0))
                shift = (shift + 1) % max(len(keys), 1)
            _say({"vg": times})
        elif cmd["cmd"] == "sim":
            stimes = {}
            for label, call in sims.items():
                t0 = time.perf_counter()
                call()
                stimes[label] = [1e3 * (time.perf_counter() - t0)]
            _say({"sim": stimes})
        else:
            break
    return 0


# ====================================================================== parent
def _make_worktree(rev: str) -> Path:
    """A detached ``git worktree`` of ``rev`` in a temporary folder, removed at exit."""
    tmp = Path(tempfile.mkdtemp(prefix="rlssm_bench_baseline_"))
    tree = tmp / "tree"
    repo = str(common.REPO_ROOT)
    res = subprocess.run(
        ["git", "-C", repo, "worktree", "add", "--detach", str(tree), rev],
        capture_output=True, text=True,
    )
    if res.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SystemExit(f"git worktree add {rev} failed:\n{res.stderr}")

    def cleanup() -> None:
        subprocess.run(["git", "-C", repo, "worktree", "remove", "--force", str(tree)],
                       capture_output=True, text=True)
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["git", "-C", repo, "worktree", "prune"], capture_output=True, text=True)

    atexit.register(cleanup)
    return tree


def _check_tree(path: Path, what: str) -> Path:
    path = path.resolve()
    if not (path / "rlssm" / "__init__.py").is_file():
        raise SystemExit(f"--{what} {path}: no rlssm/__init__.py there")
    return path


def _describe(tree: Path) -> str:
    res = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    head = res.stdout.strip() if res.returncode == 0 else "?"
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--", "rlssm"],
                           capture_output=True, text=True)
    state = " (rlssm/ modified)" if dirty.returncode == 0 and dirty.stdout.strip() else ""
    return f"{tree} @ {head}{state}"


class _Child:
    """A measuring child process of one tree, driven over stdin/stdout."""

    def __init__(self, tree: Path, args: argparse.Namespace, workdir: Path, tag: str):
        self.tree, self.tag = tree, tag
        cmd = [
            sys.executable, str(Path(__file__).resolve()), "--child", "--expect-root", str(tree),
            "--warmup", str(args.warmup),
            "--sim-participants", str(args.sim_participants), "--sim-trials", str(args.sim_trials),
            "--sim-seed", str(args.sim_seed), "--frames-prefix", str(workdir / tag),
        ]
        if args.no_sim:
            cmd.append("--no-sim")
        if args.data_dir:
            cmd += ["--data-dir", str(Path(args.data_dir).resolve())]
        if args.xla_flags:
            cmd += ["--xla-flags", args.xla_flags]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(tree)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        self.stderr_path = workdir / f"{tag}.stderr"
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115
        self.t0 = time.perf_counter()
        # cwd: a neutral folder, so that no other rlssm shadows the tree's
        self.proc = subprocess.Popen(cmd, env=env, cwd=str(workdir), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1)

    def read(self) -> dict:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(PROTOCOL):
                msg = json.loads(line[len(PROTOCOL):])
                if "fatal" in msg:
                    self.fail(msg["fatal"])
                return msg
        self.fail(f"exited ({self.proc.wait()}) without answering")
        raise AssertionError  # unreachable

    def ask(self, cmd: dict) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")  # type: ignore[union-attr]
                self.proc.stdin.close()  # type: ignore[union-attr]
                self.proc.wait(timeout=60)
            except Exception:  # noqa: BLE001
                self.proc.kill()
        self._stderr.close()

    def fail(self, why: str) -> None:
        self.proc.kill()
        self._stderr.close()
        sys.stderr.write(self.stderr_path.read_text()[-8000:])
        raise SystemExit(f"child {self.tag} ({self.tree}): {why}")


def _measure_round(trees: dict[str, Path], args: argparse.Namespace, workdir: Path, r: int) -> dict[str, dict]:
    """One round: a fresh child per tree, set up one after the other, then timed blocks
    alternating between them (A B B A A B ...), then the simulation calls alike."""
    order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
    children: dict[str, _Child] = {}
    results: dict[str, dict] = {}
    try:
        for side in order:  # set-up (compilation) of one child while the other waits
            children[side] = _Child(trees[side], args, workdir, f"{side}{r}")
            results[side] = children[side].read()["ready"]
            results[side]["setup_wall_s"] = time.perf_counter() - children[side].t0
        vg_times: dict[str, dict[str, list[float]]] = {side: {} for side in order}
        sim_times: dict[str, dict[str, list[float]]] = {side: {} for side in order}
        blocks = [min(args.block, args.repeats - i) for i in range(0, args.repeats, args.block)]
        for i, n in enumerate(blocks):
            for side in order if i % 2 == 0 else order[::-1]:
                for key, ts in children[side].ask({"cmd": "vg", "n": n})["vg"].items():
                    vg_times[side].setdefault(key, []).append(ts)
        if not args.no_sim:
            for i in range(args.sim_repeats):
                for side in order if i % 2 == 0 else order[::-1]:
                    for key, ts in children[side].ask({"cmd": "sim"})["sim"].items():
                        sim_times[side].setdefault(key, []).append(ts)
    finally:
        for c in children.values():
            c.close()
    for side in order:
        for kind, times in (("vg", vg_times[side]), ("sim", sim_times[side])):
            for key, blocks_ms in times.items():
                flat = [t for block in blocks_ms for t in block]
                entry = results[side][kind][key]
                entry["times_ms"] = flat
                entry["median_ms"] = statistics.median(flat) if flat else None
                # per block (turn): the median, for the paired ratios
                entry["block_ms"] = [statistics.median(block) for block in blocks_ms if block]
    return results


def _compare_frames(path_a: str, path_b: str) -> str:
    import numpy as np
    import pandas as pd

    a, b = pd.read_pickle(path_a), pd.read_pickle(path_b)
    if list(a.columns) != list(b.columns):
        return f"different columns: {list(a.columns)} vs {list(b.columns)}"
    if a.shape != b.shape:
        return f"different shapes: {a.shape} vs {b.shape}"
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        return "identical"
    except AssertionError:
        pass
    parts = []
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if a[col].dtype != b[col].dtype:
            parts.append(f"{col}: dtype {a[col].dtype} vs {b[col].dtype}")
        try:
            xf, yf = x.astype(np.float64), y.astype(np.float64)
        except (TypeError, ValueError):
            n = int((x != y).sum())
            if n:
                parts.append(f"{col}: {n} rows differ")
            continue
        nan_diff = int((np.isnan(xf) != np.isnan(yf)).sum())
        both = ~np.isnan(xf) & ~np.isnan(yf)
        diff = np.abs(xf[both] - yf[both])
        if nan_diff or (diff.size and diff.max() > 0):
            parts.append(
                f"{col}: max |diff| {diff.max() if diff.size else 0:.3g}, "
                f"{int((diff > 0).sum())} rows differ, {nan_diff} NaN mismatches"
            )
    return "; ".join(parts) if parts else "equal values (index or dtype differ)"


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def parent(args: argparse.Namespace) -> int:
    t_all = time.perf_counter()
    if min(args.rounds, args.repeats, args.block) < 1 or args.sim_repeats < 0:
        raise SystemExit("--rounds, --repeats and --block must be positive, --sim-repeats not negative")
    common.data_dir(args.data_dir)  # fail early without the data
    if args.baseline:
        baseline = _check_tree(Path(args.baseline), "baseline")
    else:
        baseline = _check_tree(_make_worktree(args.baseline_rev), "baseline")
    candidate = _check_tree(Path(args.candidate), "candidate")
    workdir = Path(tempfile.mkdtemp(prefix="rlssm_bench_engine_"))
    atexit.register(shutil.rmtree, workdir, True)

    print("== bench_engine: before (baseline) vs after (candidate), children interleaved ==")
    print(f"before: {_describe(baseline)}")
    print(f"after:  {_describe(candidate)}")
    print(
        f"rounds {args.rounds} per tree; value+grad: seed data, {args.repeats} timed rounds after "
        f"{args.warmup} warm-up calls; simulation: "
        + ("skipped" if args.no_sim else
           f"{args.sim_participants} x {args.sim_trials}, seed {args.sim_seed}, "
           f"{args.sim_repeats} timed call(s) after the compiling one")
    )

    sides = {"before": baseline, "after": candidate}
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for r in range(args.rounds):
        t0 = time.perf_counter()
        res = _measure_round(sides, args, workdir, r)
        for side in ("before", "after"):
            runs[side].append(res[side])
        print(f"  round {r + 1}: {time.perf_counter() - t0:.0f} s; set-up (import, compile, totals, first "
              f"simulate) before {res['before']['setup_wall_s']:.0f} s, after {res['after']['setup_wall_s']:.0f} s",
              flush=True)
    for side in ("before", "after"):
        print(f"  {side:6} imports {Path(runs[side][0]['rlssm_file']).parent}")
    print(runs["before"][0]["machine"])

    # ---------------------------------------------------------------- timings
    def per_round(side: str, kind: str, label: str) -> list[float]:
        vals = []
        for res in runs[side]:
            entry = res[kind].get(label)
            if entry and entry.get("median_ms") is not None:
                vals.append(entry["median_ms"])
        return vals

    def paired(kind: str, label: str) -> list[float]:
        """after/before of each pair of consecutive turns (same round, same block index)."""
        out = []
        for rb, ra in zip(runs["before"], runs["after"]):
            eb, ea = rb[kind].get(label), ra[kind].get(label)
            if eb and ea:
                out += [a / b for b, a in zip(eb.get("block_ms", []), ea.get("block_ms", []))]
        return out

    rows = [("vg", vg_label(*row)) for row in VG_ROWS]
    if not args.no_sim:
        rows += [("sim", sim_label(p)) for p in SIM_PRECISIONS]
    header = (f"{'measure':38} | {'before ms':>10} | {'after ms':>10} | {'ratio after/before':>18} | "
              f"{'IQR':>13} | {'n':>3} | compile s before/after")
    print(
        "\n-- ms: median over rounds of each child's median. ratio: median of the n paired ratios\n"
        "   after/before of consecutive turns (IQR: their interquartile range; a ratio whose IQR\n"
        "   straddles 1 is noise). compile: first call, median over rounds --"
    )
    print(header)
    print("-" * len(header))
    ratios: dict[str, tuple[str, float]] = {}
    spreads: dict[str, float] = {}
    missing: list[str] = []
    for kind, label in rows:
        b, a = per_round("before", kind, label), per_round("after", kind, label)
        if not b or not a:
            print(f"{label:38} | {'failed' if not b else '':>10} | {'failed' if not a else '':>10} |")
            missing.append(label)
            continue
        mb, ma = statistics.median(b), statistics.median(a)
        pairs = paired(kind, label)
        ratio = statistics.median(pairs)
        q1, _, q3 = statistics.quantiles(pairs, n=4, method="inclusive") if len(pairs) > 1 else (ratio,) * 3
        spreads[label] = q3 - q1
        ratios[label] = (kind, ratio)
        ckey = "compile_s" if kind == "vg" else "first_s"
        cb = statistics.median(res[kind][label][ckey] for res in runs["before"])
        ca = statistics.median(res[kind][label][ckey] for res in runs["after"])
        print(f"{label:38} | {mb:10.2f} | {ma:10.2f} | {ratio:18.3f} | {q1:.3f}-{q3:.3f} | {len(pairs):3d} | "
              f"{cb:.1f} / {ca:.1f}")
    print("(simulation rows: wall time of one model.simulate call, pandas frame included; "
          "'compile' there is the first call's wall time)")

    # ---------------------------------------------------------------- correctness
    ok_values = True
    print("\n-- float64 totals at SEED_POINT (model.loglik summed | logp_fn total) --")
    for decision in ("Angle", "AngleLAN"):
        tb = runs["before"][0]["totals"].get(decision)
        ta = runs["after"][0]["totals"].get(decision)
        if not tb or not ta:
            print(f"  {decision:8}: failed on {'before' if not tb else 'after'}")
            ok_values = False
            continue
        worst = max(_rel(ta["loglik"], tb["loglik"]), _rel(ta["logp_fn"], tb["logp_fn"]))
        agree = worst <= args.rtol
        ok_values &= agree
        print(f"  {decision:8}: before {tb['loglik']:.10f} | {tb['logp_fn']:.10f}")
        print(f"  {'':8}  after  {ta['loglik']:.10f} | {ta['logp_fn']:.10f}   "
              f"max rel diff {worst:.2e} ({'ok' if agree else 'DIFFERENT'}, rtol {args.rtol:g})")
    print("-- value+grad results, after vs before (max relative difference of the value and the summed gradients) --")
    for decision, prec, form in VG_ROWS:
        label = vg_label(decision, prec, form)
        vb, va = runs["before"][0]["vg"].get(label), runs["after"][0]["vg"].get(label)
        if not vb or not va:
            continue
        diffs = [_rel(va["value"], vb["value"])]
        diffs += [_rel(va["grad"][n], vb["grad"][n]) for n in vb["grad"] if n in va["grad"]]
        if set(va["grad"]) != set(vb["grad"]):
            diffs.append(float("inf"))
        tol = args.rtol if prec == "float64" else 1e-4
        good = max(diffs) <= tol
        if prec == "float64":
            ok_values &= good
        print(f"  {label:38}: {max(diffs):.2e}  ({'ok' if good else 'DIFFERENT'}, rtol {tol:g})")
    if not args.no_sim:
        print("-- simulated frames (first round of each side) --")
        for prec in SIM_PRECISIONS:
            label = sim_label(prec)
            sb, sa = runs["before"][0]["sim"].get(label), runs["after"][0]["sim"].get(label)
            if not sb or not sa:
                print(f"  {label}: failed")
                ok_values = False
                continue
            verdict = _compare_frames(sb["frame"], sa["frame"])
            ok_values &= verdict == "identical"
            repeat_note = ""
            for side in ("before", "after"):
                if len(runs[side]) > 1:
                    again = _compare_frames(runs[side][0]["sim"][label]["frame"], runs[side][-1]["sim"][label]["frame"])
                    if again != "identical":
                        repeat_note += f"; {side} not reproducible across rounds: {again}"
            print(f"  {label}: {sb['rows']} rows, {sb['missed']} / {sa['missed']} missed; "
                  f"after vs before: {verdict}{repeat_note}")

    errors = [(side, e) for side in runs for res in runs[side] for e in res["errors"]]
    for side, e in dict.fromkeys(errors):
        print(f"NOTE: {side}: {e}")

    # ---------------------------------------------------------------- verdict
    sim_noise = max((spreads[lab] for lab, (kind, _) in ratios.items() if kind == "sim"), default=0.0)
    sim_limit = max(args.sim_tol, 1.0 + sim_noise)
    lik_bad = [lab for lab, (kind, r) in ratios.items() if kind == "vg" and r > args.lik_tol]
    sim_bad = [lab for lab, (kind, r) in ratios.items() if kind == "sim" and r > sim_limit]
    speed_ok = not lik_bad and not sim_bad and not missing
    print(
        f"\nwall time {time.perf_counter() - t_all:.0f} s. "
        f"Ratios within limits (value+grad <= {args.lik_tol:.2f}, simulation <= {sim_limit:.2f}): "
        + ("YES" if speed_ok else "NO (" + ", ".join(lik_bad + sim_bad + [m + " missing" for m in missing]) + ")")
        + f"; results agree: {'YES' if ok_values else 'NO'}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"before": str(baseline), "after": str(candidate), "runs": runs,
             "ratios": {k: r for k, (_, r) in ratios.items()}, "spreads": spreads,
             "speed_ok": speed_ok, "values_ok": ok_values}, indent=1))
    return 0 if (speed_ok and ok_values) else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
