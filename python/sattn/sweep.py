"""Selector quality: run a grid of shapes and attributes through every spec the selector could
have chosen, measure each on a backend, and score the selector's choice.

One *case* is one attribute set (shape + window_size, keep_ratio, block_size, ...). Its
*candidates* are the specs of the selector's cost comparison that it could choose under the
current hints (status ``ok``/``chosen`` in :class:`sattn.selector.Decision`). Each candidate
runs on the backend with the case's synthetic inputs; its *cost* is a measured number:

=============  ==================================================================  ==========
backend        default cost                                                         kind
=============  ==================================================================  ==========
rvv            ``model_cycles``: the qemu plugin's cycle model of the instructions  a model
               retired in the kernel region (docs/rvv.md; ``--cost instructions``:
               the count itself, measured)
rocc           ``cycles`` of the RTL run (Verilator)                                measured
reference      ``wall_s``: fastest of 9 interleaved runs of the NumPy executor      measured
reference      ``model_pairs``: selected (query, key) pairs (``--cost model_pairs``) a model
=============  ==================================================================  ==========

Any counter the backend reports can be the cost (``--cost vector``, ``--cost dma_bytes``).
The selector selects for the backend being measured (``SATTN_TARGET`` = the backend, so its
cost model uses that target's fitted weights) unless ``env`` names another target.
Wall times: the candidates of a case run in turns, round after round, and each keeps its
fastest run; :func:`noise` (two independent min-of-N estimates) says how much the measurement
itself moves a cost.
Per case: the *best* candidate is the cheapest measured one (among those within ``max_error``
when the case sets it), *regret* = cost(selected) / cost(best) (1 = optimal), and each
candidate's accuracy against dense fp32 attention (:mod:`sattn.selector.accuracy`).

Cases run in parallel local processes (``concurrent.futures``) or on Ray.
"""

from __future__ import annotations

import itertools
import logging
import math
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sattn.backends import BACKENDS, get_backend
from sattn.errors import SattnError, Terminated
from sattn.ir.schema import params_from_dict
from sattn.reference.data import synthetic
from sattn.reference.threads import limit_blas
from sattn.selector import select_spec
from sattn.selector.accuracy import apply_budget, dense_output, measure

#: Default cost counter per backend (see the module docstring).
DEFAULT_COST: dict[str, str] = {"rvv": "model_cycles", "rocc": "cycles", "reference": "wall_s"}
#: Runs per candidate for ``wall_s`` (the minimum is kept), in interleaved rounds.
WALL_REPEATS = 9
#: Costs that are models, not measurements: their names start with ``model_``.
MODEL_COSTS = ("model_pairs", "model_cycles")
RAY_INSTALL = "pip install ray  (or: pip install -e 'python[ray]')"

#: Named grids: axis -> values. The product of the axes is the set of cases.
GRIDS: dict[str, dict[str, tuple]] = {
    "tiny": {
        "seq_len": (64,), "head_dim": (16,), "window_size": (4, 24), "keep_ratio": (0.25,),
        "block_size": (16,), "gqa_group_size": (1, 2),
    },
    "small": {
        "seq_len": (64, 128), "head_dim": (16, 32), "window_size": (4, 32),
        "keep_ratio": (0.125, 0.5), "block_size": (16, 32), "gqa_group_size": (1,),
    },
    "bench": {
        "seq_len": (64, 128, 256), "head_dim": (16, 32), "window_size": (2, 8, 24, 64),
        "keep_ratio": (0.125, 0.25, 0.5), "block_size": (16, 32), "gqa_group_size": (1, 2),
    },
    # bsr with compression-block scoring against the window and the local blocks (the
    # selector's fit data for the compression terms)
    "comp": {
        "seq_len": (128, 384), "head_dim": (32, 64), "window_size": (4, 48),
        "keep_ratio": (0.125, 0.5), "block_size": (32,), "comp_block_size": (8,),
        "gqa_group_size": (1, 2),
    },
}
AXES = ("seq_len", "head_dim", "window_size", "keep_ratio", "block_size", "gqa_group_size",
        "precision", "comp_block_size", "dilation", "causal")


def check_cost(backend: str, cost: str) -> str:
    """``cost`` if ``backend`` reports it (a counter of the backend's ``COUNTERS``, ``wall_s``,
    ``model_pairs``, or ``cycles`` for rocc), else one SattnError line listing the choices --
    checked once, before any case runs."""
    choices = ["wall_s", "model_pairs", *(["cycles"] if backend == "rocc" else []),
               *get_backend(backend).COUNTERS]
    if cost not in choices:
        raise SattnError(f"--cost {cost!r}: backend '{backend}' reports no such counter "
                         f"(choose from {', '.join(choices)})")
    return cost


def grid_cases(axes: dict[str, Iterable], fixed: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every combination of the axis values (plus ``fixed`` attributes), as attribute dicts.
    ``gqa_group_size`` G also sets ``num_heads = G`` (one KV head)."""
    names = list(axes)
    out = []
    for combo in itertools.product(*(tuple(axes[n]) for n in names)):
        attrs = dict(zip(names, combo))
        attrs.update(fixed or {})
        if "gqa_group_size" in attrs:
            attrs.setdefault("num_heads", attrs["gqa_group_size"])
        out.append(attrs)
    return out


#: The two ways an op gives its shape (docs/selector.md): the spec's own form, where S and D
#: come from the tile hints ``tile_S`` / ``tile_D`` (one KV head: H = gqa_group_size), and the
#: explicit form with ``seq_len`` / ``head_dim`` / ``num_heads``.
FORMS: tuple[str, ...] = ("tiles", "explicit")


def random_cases(seed: int, n: int, form: str) -> list[dict[str, Any]]:
    """``n`` random sliding_window-vs-bsr contests (attribute dicts) of one input ``form``,
    drawn from ``seed`` alone (the same seed always gives the same contests):
    S log-uniform in [128, 1024], D 32 or 64, window_size log-uniform in [2, 128],
    keep_ratio uniform in [0.05, 0.9], block_size 16/32/64/128, precision fp32 (60%), bf16 or
    i8 (20% each), GQA groups of 2 (25%; block_local_global then competes), causal (25%).
    ``tiles`` gives the shape as tile_S = S, tile_D = D with tile_M 16/32/64; ``explicit``
    as seq_len, head_dim and num_heads (1 or 2 KV heads), with tile hints half the time."""
    if form not in FORMS:
        raise SattnError(f"unknown input form '{form}' (choose from {', '.join(FORMS)})")
    rng = np.random.default_rng([seed, FORMS.index(form)])
    out = []
    for _ in range(n):
        s = round(math.exp(rng.uniform(math.log(128), math.log(1024))))
        d = int(rng.choice([32, 64]))
        attrs: dict[str, Any] = {
            "window_size": round(math.exp(rng.uniform(math.log(2), math.log(128)))),
            "keep_ratio": round(float(rng.uniform(0.05, 0.9)), 2),
            "block_size": int(rng.choice([16, 32, 64, 128])),
        }
        prec = str(rng.choice(["fp32", "fp32", "fp32", "bf16", "i8"]))
        group = 2 if rng.uniform() < 0.25 else 1
        causal = int(rng.uniform() < 0.25)
        tile_m = int(rng.choice([16, 32, 64]))
        if form == "tiles":
            attrs.update(tile_M=tile_m, tile_D=d, tile_S=s)
        else:
            attrs.update(seq_len=s, head_dim=d, num_heads=group * int(rng.choice([1, 2])))
            if rng.uniform() < 0.5:
                attrs.update(tile_M=tile_m, tile_D=int(rng.choice([32, 64])),
                             tile_S=int(rng.choice([64, 128, 256])))
        if prec != "fp32":
            attrs["precision"] = prec
        if group > 1:
            attrs["gqa_group_size"] = group
        if causal:
            attrs["causal"] = 1
        out.append(attrs)
    return out


@dataclass
class Candidate:
    """One spec measured on one case."""

    spec: str
    cost: float
    model_cost: float | None
    max_rel_error: float
    off_share: float
    density: float
    #: every wall-time run of a ``wall_s`` cost, in round order (the cost is their minimum)
    samples: list[float] = field(default_factory=list)
    #: :func:`noise` of the samples: the measurement's own relative uncertainty
    noise: float = 0.0


@dataclass
class CaseResult:
    """The outcome of one case: its candidates, the selector's choice, the measured best."""

    attrs: dict[str, Any]
    selected: str
    rule: str
    candidates: list[Candidate]
    best: str
    regret: float
    seconds: float
    error: str | None = None


@dataclass
class Summary:
    """Aggregate selector quality over a sweep."""

    backend: str
    cost: str
    cases: int
    scored: int  # cases with >= 2 candidates
    best_share: float
    within10_share: float
    mean_regret: float
    max_regret: float
    failed: int
    per_case: list[CaseResult] = field(default_factory=list)
    #: what the selector selected for (SATTN_TARGET: the backend unless ``env`` said otherwise)
    target: str = ""

    def lines(self) -> list[str]:
        kind = "model" if self.cost.startswith("model_") else "measured"
        return [
            (f"sweep: backend={self.backend} cost={self.cost} ({kind}) cases={self.cases} "
             f"scored={self.scored} failed={self.failed}"),
            (f"selector: best_share={self.best_share:.3f} "
             f"within10_share={self.within10_share:.3f} "
             f"mean_regret={self.mean_regret:.4f} max_regret={self.max_regret:.4f}"),
        ]


def _wall(result) -> float:
    return float(sum(result.timings.values()))


def _cost_of(result, backend: str, cost: str) -> float:
    """The measured (or ``model_``) cost of one run; ``wall_s`` is taken in :func:`run_case`."""
    if cost == "wall_s":
        return _wall(result)
    if cost == "model_pairs":
        return float(result.counters["selected_pairs"])
    if cost in result.counters:
        return float(result.counters[cost])
    if cost == "cycles":  # the RTL's total under whichever name the driver gives it
        for key in ("total_cycles", "cycles_total", "cycles"):
            if key in result.counters:
                return float(result.counters[key])
    raise SattnError(
        f"backend '{backend}' reports no counter '{cost}' (it has: {', '.join(result.counters)})"
    )


def noise(samples: list[float]) -> float:
    """Relative disagreement of two independent min-of-N estimates of one wall time (the runs
    of even and of odd rounds): how far the measurement itself moves the cost. 0 for a
    deterministic cost (fewer than two runs)."""
    if len(samples) < 2:
        return 0.0
    a, b = min(samples[0::2]), min(samples[1::2])
    return abs(a - b) / min(a, b) if min(a, b) > 0 else 0.0


def run_case(attrs: dict[str, Any], backend: str = "reference", cost: str | None = None,
             threshold: float = 1e-2, seed: int = 0, env: dict[str, str] | None = None,
             options: dict[str, Any] | None = None) -> CaseResult:
    """Measure every candidate of one case (runs in a worker process)."""
    t0 = time.perf_counter()
    cost = cost or DEFAULT_COST[backend]
    params = params_from_dict(attrs)
    # the selector selects for the backend being measured (unless env names a target)
    sel_env = {"SATTN_TARGET": backend, **(env or {})}
    # the budget rule on this sweep's seed (select_spec applies it on seed 0)
    decision = select_spec(params.replace(max_error=None), sel_env)
    decision = apply_budget(params, decision, seed=seed)
    usable = [c for c in decision.candidates if c.status in ("ok", "chosen") and c.cost is not None]
    specs = [c.spec for c in usable]
    model = {c.spec: c.cost.total for c in usable}
    if params.max_error is not None and "dense" not in specs:
        specs.append("dense")  # the budget's last resort is a candidate too
    if decision.spec not in specs:
        specs.append(decision.spec)
    q, k, v = synthetic(params.shape(), seed)
    dense = dense_output(params, q, k, v)
    mod = get_backend(backend)
    first = {spec: mod.run(params.replace(spec=spec), q, k, v, **(options or {}))
             for spec in specs}
    runs = {spec: [_wall(res)] for spec, res in first.items()}
    if cost == "wall_s":
        # the candidates take turns, round after round, so that a burst of load from other
        # processes slows every candidate's run in that round rather than all runs of one
        for _ in range(WALL_REPEATS - 1):
            for spec in specs:
                runs[spec].append(_wall(mod.run(params.replace(spec=spec), q, k, v,
                                                **(options or {}))))
    cands = []
    for spec, res in first.items():
        acc = measure(res.output, dense, threshold)
        if cost == "wall_s":
            samples, c = runs[spec], min(runs[spec])  # the least disturbed run
        else:
            samples, c = [], _cost_of(res, backend, cost)
        cands.append(Candidate(spec, c, model.get(spec), acc.max_rel_error, acc.off_share,
                               float(res.density), samples, noise(samples)))
    eligible = [c for c in cands
                if params.max_error is None or c.max_rel_error <= params.max_error] or cands
    best = min(eligible, key=lambda c: c.cost)
    chosen = next(c for c in cands if c.spec == decision.spec)
    regret = chosen.cost / best.cost if best.cost > 0 else (1.0 if chosen.cost == 0 else math.inf)
    return CaseResult(attrs, decision.spec, decision.rule, cands, best.spec, regret,
                      time.perf_counter() - t0)


def _safe_case(task: tuple) -> tuple[int, CaseResult]:
    """``run_case`` for a worker: ``(index, result)``; a failing case is recorded, not fatal."""
    global _IN_CASE
    index, args = task
    _IN_CASE = True
    try:
        return index, run_case(*args)
    except SattnError as e:
        return index, CaseResult(args[0], "", "", [], "", math.nan, 0.0, error=str(e))
    except Terminated:
        # a local worker told to stop (see _worker_init): its tool's process group is killed
        # and its scratch directory removed by now; leave without taking the next case
        os._exit(143)
    finally:
        _IN_CASE = False


#: Whether this worker is running a case (SIGTERM between cases just exits).
_IN_CASE = False


class Progress:
    """A progress bar on stderr (redrawn in place on a terminal, every 10% otherwise)."""

    def __init__(self, total: int, label: str = "sweep", stream=None, enabled: bool = True):
        self.total, self.done, self.label = total, 0, label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()
        self._last_decile = -1

    def step(self, note: str = "") -> None:
        self.done += 1
        if not self.enabled:
            return
        frac = self.done / max(self.total, 1)
        decile = int(frac * 10)
        if not self.tty and decile == self._last_decile and self.done != self.total:
            return
        self._last_decile = decile
        width = 30
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        text = (f"{self.label} [{bar}] {self.done}/{self.total} "
                f"{time.perf_counter() - self.t0:.0f}s {note}")
        self.stream.write(("\r" + text[:110].ljust(110)) if self.tty else text + "\n")
        if self.tty and self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


#: Workers run single-threaded BLAS: several workers (and other processes) on few cores would
#: otherwise oversubscribe them, and measured wall times became up to 100x slower under load.
#: Local workers limit the BLAS they loaded (:func:`sattn.reference.threads.limit_blas`, no
#: environment is written); Ray workers get these variables in their runtime environment.
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _local(tasks: list[tuple], jobs: int) -> Iterator[tuple[int, CaseResult]]:
    """Worker processes started fresh ("spawn") with single-threaded BLAS, even for one job, so
    every measurement runs under the same conditions."""
    with ProcessPoolExecutor(
            max_workers=max(1, jobs), mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init) as pool:
        try:
            pending = {pool.submit(_safe_case, t) for t in tasks}
            while pending:
                # wake up now and then: a signal may be delivered to another thread, and its
                # Python handler runs only when this (main) thread runs
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        except BaseException:
            # Ctrl-C, SIGTERM or an error: drop the queued cases and stop the running ones
            # (each worker stops its tool's process group and removes its scratch directory)
            workers = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in workers:
                if proc.is_alive():
                    proc.terminate()
            raise


def _worker_init() -> None:
    """In each worker: SIGTERM raises :class:`sattn.errors.Terminated`, so that a running tool
    is stopped with its process group and the scratch directory removed (sattn.toolrun)."""
    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if not _IN_CASE:
            os._exit(143)
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    limit_blas(1)


def ray_available() -> bool:
    """Whether the optional Ray extra is importable."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _ray(tasks: list[tuple], jobs: int, address: str | None) -> Iterator[tuple[int, CaseResult]]:
    try:
        import ray
    except ImportError:
        raise SattnError(f"--executor ray needs the optional Ray extra; install it with: {RAY_INSTALL}") from None
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "logging_level": logging.ERROR,
                                  "runtime_env": {"env_vars": dict(WORKER_ENV)}}
        if address:
            check_ray_address(address)  # Ray itself retries an unreachable one for minutes
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = max(1, jobs)
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
            raise SattnError(f"--ray-address {address}: cannot start or join a Ray cluster: "
                             f"{' '.join(str(e).split()) or type(e).__name__}") from None
        started = True
    try:
        remote = ray.remote(_safe_case)
        pending = [remote.remote(t) for t in tasks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield ray.get(ref)
    finally:
        if started:
            ray.shutdown()


#: Seconds to wait for a Ray cluster's port before giving up.
RAY_CONNECT_TIMEOUT = 5.0


def check_ray_address(address: str) -> None:
    """Refuse, within :data:`RAY_CONNECT_TIMEOUT` seconds, a Ray address whose port does not
    answer (``host:port``, ``ray://host:port``; ``auto`` and ``local`` are Ray's to resolve)."""
    if address in ("auto", "local"):
        return
    hostport = address.removeprefix("ray://")
    host, sep, port_text = hostport.rpartition(":")
    if not sep:
        host, port_text = hostport, "10001" if address.startswith("ray://") else "6379"
    try:
        port = int(port_text)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise SattnError(f"--ray-address {address}: expected host:port (or ray://host:port)") from None
    try:
        socket.create_connection((host.strip("[]"), port), timeout=RAY_CONNECT_TIMEOUT).close()
    except OSError as e:
        why = e.strerror or type(e).__name__
        if isinstance(e, TimeoutError):
            why = f"no answer within {RAY_CONNECT_TIMEOUT:g} s"
        raise SattnError(f"--ray-address {address}: cannot reach the Ray cluster at "
                         f"{host}:{port}: {why}") from None


def sweep(
    cases: list[dict[str, Any]],
    backend: str = "reference",
    *,
    cost: str | None = None,
    jobs: int | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    threshold: float = 1e-2,
    seed: int = 0,
    env: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
    progress: bool = True,
) -> Summary:
    """Run every case (see the module docstring) and summarise the selector's quality.

    ``env`` holds the selector variables (``SATTN_PREFER_BSR``, ...) every case selects with
    (default: none, whatever this process's environment says); ``SATTN_TARGET`` defaults to
    ``backend``."""
    if backend not in BACKENDS:
        raise SattnError(f"unknown backend '{backend}' (choose from {', '.join(BACKENDS)})")
    if executor not in ("local", "ray"):
        raise SattnError(f"unknown executor '{executor}' (choose from local, ray)")
    if not cases:
        raise SattnError("the sweep grid is empty")

    for attrs in cases:  # bad attributes fail the whole sweep up front, with the name
        params_from_dict(attrs)
    cost = check_cost(backend, cost or DEFAULT_COST[backend])
    jobs = jobs or os.cpu_count() or 1
    tasks = [(i, (a, backend, cost, threshold, seed, env or {}, options or {}))
             for i, a in enumerate(cases)]
    bar = Progress(len(tasks), f"sweep {backend}", enabled=progress)
    results: list[CaseResult | None] = [None] * len(cases)
    it = _ray(tasks, jobs, ray_address) if executor == "ray" else _local(tasks, jobs)
    for i, r in it:
        results[i] = r
        bar.step("(failed)" if r.error else f"{r.selected} vs best {r.best}")
    target = (env or {}).get("SATTN_TARGET", backend)
    return summarize([r for r in results if r is not None], backend, cost, target)


def summarize(results: list[CaseResult], backend: str, cost: str,
              target: str | None = None) -> Summary:
    """Best-pick share, within-10% share and mean regret over the scored cases."""
    ok = [r for r in results if r.error is None]
    scored = [r for r in ok if len(r.candidates) >= 2]
    regrets = [r.regret for r in scored]
    n = len(scored)
    return Summary(
        backend=backend, cost=cost, cases=len(results), scored=n,
        best_share=sum(r.selected == r.best or r.regret <= 1.0 for r in scored) / n if n else math.nan,
        within10_share=sum(r.regret <= 1.1 + 1e-12 for r in scored) / n if n else math.nan,
        mean_regret=sum(regrets) / n if n else math.nan,
        max_regret=max(regrets) if n else math.nan,
        failed=len(results) - len(ok), per_case=results, target=target or backend,
    )


def accuracy_table(summary: Summary) -> str:
    """Per spec: how often it was a candidate, selected and best, its mean cost share of the
    best, and its error against dense attention (mean and max of max_rel_error, mean off_share)."""
    stats: dict[str, dict[str, list[float]]] = {}
    for r in summary.per_case:
        for c in r.candidates:
            s = stats.setdefault(c.spec, {"n": [], "sel": [], "best": [], "err": [], "off": [],
                                          "ratio": []})
            best = next(x for x in r.candidates if x.spec == r.best)
            s["n"].append(1)
            s["sel"].append(float(r.selected == c.spec))
            s["best"].append(float(r.best == c.spec))
            s["err"].append(c.max_rel_error)
            s["off"].append(c.off_share)
            s["ratio"].append(c.cost / best.cost if best.cost else 1.0)
    head = (f"{'spec':<20} {'cases':>6} {'selected':>9} {'best':>6} {'cost/best':>10} "
            f"{'mean_err':>10} {'max_err':>10} {'off_share':>10}")
    lines = [head, "-" * len(head)]
    for spec, s in sorted(stats.items()):
        n = len(s["n"])
        lines.append(f"{spec:<20} {n:>6} {int(sum(s['sel'])):>9} {int(sum(s['best'])):>6} "
                     f"{sum(s['ratio']) / n:>10.3f} {sum(s['err']) / n:>10.3e} "
                     f"{max(s['err']):>10.3e} {sum(s['off']) / n:>10.4f}")
    return "\n".join(lines)


def case_table(summary: Summary, limit: int | None = None) -> str:
    """One line per case: attributes, selected vs best, regret, and each candidate's cost and
    error (the sweep's detailed report)."""
    lines = []
    for r in summary.per_case[:limit]:
        key = " ".join(f"{k}={v}" for k, v in r.attrs.items() if k != "num_heads")
        if r.error:
            lines.append(f"{key} | FAILED: {r.error}")
            continue
        cands = "; ".join(f"{c.spec} cost={c.cost:.4g} err={c.max_rel_error:.2e} off={c.off_share:.3f}"
                          for c in r.candidates)
        mark = "best" if r.regret <= 1.0 else f"regret={r.regret:.3f}"
        lines.append(f"{key} | selected={r.selected} ({r.rule}) best={r.best} {mark} | {cands}")
    return "\n".join(lines)


def to_json(summary: Summary) -> dict[str, Any]:
    """The summary and every case as plain data (for ``--json``)."""
    d = asdict(summary)
    return d
