"""Whole-range fuzz: attribute values drawn across their whole type range (i64 extremes, huge,
denormal, negative, NaN and infinite floats, long and unicode strings, unknown names) go through
every tool -- sattn-opt with both pipelines, ``sattn run`` on each backend, the RVV bridge,
compile_and_sim, emit_artifacts, calibrate, profile and show -- under a memory limit and a
timeout. Each run ends in a result or in one clear error line: never a traceback, an internal
error, a kill or a hang.

The tools run in one worker process (``fuzz_worker.py``) limited to :data:`MEM_LIMIT` of address
space (RLIMIT_AS, inherited by qemu and the Verilator model) with ``SATTN_TIME_LIMIT`` set to
:data:`TIME_LIMIT` seconds, so the resource estimates must refuse whatever would not finish in
:data:`ANSWER_TIMEOUT`. Shapes are tiny most of the time (the backends run), whole-range
otherwise (the estimates refuse). The default suite draws :data:`EXAMPLES` examples; the slow
variant (``make test-slow``) draws :data:`SLOW_EXAMPLES`.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need_tool
from fd_util import PY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sattn.ir.schema import SCHEMA, SPECS

HERE = Path(__file__).resolve().parent
MEM_LIMIT = 4 << 30
TIME_LIMIT = 20
ANSWER_TIMEOUT = 180
EXAMPLES = 40
SLOW_EXAMPLES = 1000

I64 = (-(2**63), 2**63 - 1)
SHAPES = {"seq_len", "tile_S", "head_dim", "tile_D", "num_heads", "tile_M"}
TINY = {"seq_len": (1, 48), "tile_S": (1, 48), "head_dim": (1, 24), "tile_D": (1, 24),
        "num_heads": (1, 4), "tile_M": (1, 64)}


def _int_text(v: int) -> str:
    return f"{v} : i64"


def _float_text(v: float) -> str:
    if math.isnan(v):
        return "0x7FF8000000000000 : f64"
    if math.isinf(v):
        return ("0xFFF0000000000000" if v < 0 else "0x7FF0000000000000") + " : f64"
    return f"{v:.17e} : f64"


def _string_text(s: str) -> str:
    """An MLIR string literal holding ``s``: other characters as they are (UTF-8), quotes,
    backslashes and control characters escaped as MLIR does (``\\XX``, which xDSL reads as
    bytes: a second kind of string to be refused cleanly)."""
    out = []
    for c in s:
        if c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F:
            out.append("".join(f"\\{b:02X}" for b in c.encode()))
        elif 0xD800 <= ord(c) < 0xE000:  # a lone surrogate has no UTF-8 form
            out.append("?")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def weighted(*pairs):
    """One of the strategies, chosen with the given weights ((weight, strategy), ...):
    ``st.one_of`` picks uniformly among *distinct* strategies, so repeating one does not
    weight it."""
    total = sum(w for w, _ in pairs)

    def pick(x: int):
        for w, strat in pairs:
            if x < w:
                return strat
            x -= w
        return pairs[-1][1]

    return st.integers(0, total - 1).flatmap(pick)


EDGE_INTS = st.sampled_from([0, 1, -1, 2, 3, 7, 8, 64, 255, 256, 4096, 65535, 65536, 2**31 - 1,
                             2**31, 2**32, 2**62, 2**63 - 1, -(2**63), -(2**31)])


def _int_value(name: str, medium: int):
    whole = st.integers(*I64)
    if name in SHAPES:
        lo, hi = TINY[name]
        return weighted((8, st.integers(lo, hi)), (1, EDGE_INTS), (1, whole),
                        (medium, st.integers(hi, 1 << 17)))
    if name in ("wrap", "causal"):
        return weighted((6, st.integers(0, 1)), (1, EDGE_INTS), (1, whole))
    return weighted((5, st.integers(1, 12)), (2, st.integers(0, 80)), (2, EDGE_INTS), (1, whole))


FLOATS = weighted(
    (5, st.floats(0.01, 1.0)),
    (2, st.floats(allow_nan=True, allow_infinity=True)),
    (2, 
    st.sampled_from([0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1e-45, 1.1754943508222875e-38,
                     3.4028234663852886e38, 3.5e38, 1e300, 1.7976931348623157e308, -1.0, 1.0,
                     0.05, 0.125, 1e-30])),
)
TEXT = st.one_of(st.text(max_size=12), st.text(min_size=1000, max_size=3000),
                 st.sampled_from(["", "fp32", "bf16", "i8", "i4", "fp8", *SPECS, "bogus",
                                  "\u00e9\u4e2d\U0001F600", "a\nb", 'q"uote', "back\\slash"]))


def _value(name: str, medium: int = 0):
    spec = next(a for a in SCHEMA if a.name == name)
    wrong = st.sampled_from(['"text"', "1.5 : f64", "unit", "[1, 2]", "3 : i8", "true"])
    if spec.kind == "int":
        good = _int_value(name, medium).map(_int_text)
    elif spec.kind == "float":
        good = weighted((6, FLOATS.map(_float_text)), (1, st.integers(*I64).map(_int_text)))
    else:
        choices = {"precision": ["fp32", "bf16", "i8", "i4"], "spec": list(SPECS),
                   "force_spec": list(SPECS)}[name]
        good = weighted((5, st.sampled_from(choices)), (1, TEXT)).map(_string_text)
    return weighted((15, good), (1, wrong))


UNKNOWN = st.sampled_from(["windw_size", "pattern", "softmax_mode", "tiled", "\u00fcber"])
def _pair_nm(d: dict[str, str], together: bool) -> dict[str, str]:
    """Usually keep N:M pairs together (one without the other is always refused)."""
    if together and ("nm_n" in d) != ("nm_m" in d):
        d = {**d, "nm_n": d.get("nm_n", "2 : i64"), "nm_m": d.get("nm_m", "4 : i64")}
    return d


def attr_dicts(medium: int = 0):
    """Attribute dicts (MLIR text values); ``medium`` weights shapes between tiny and 2**17,
    where the estimates decide between running and refusing (the slow variant)."""
    return st.dictionaries(st.sampled_from([a.name for a in SCHEMA]), st.none(),
                           max_size=7).flatmap(
        lambda d: st.fixed_dictionaries({k: _value(k, medium) for k in d})
    ).flatmap(lambda d: weighted(
        (7, st.just(d)),
        (1, st.builds(lambda k, v: {**d, k: v}, UNKNOWN, st.sampled_from(['"block_topk"', "2 : i64"])))
    )).flatmap(lambda d: st.builds(_pair_nm, st.just(d), weighted((9, st.just(True)),
                                                                    (1, st.just(False)))))


ENVS = st.sampled_from([{}, {}, {}, {"SATTN_PREFER_BSR": "1"}, {"SATTN_PREFER_SW": "yes"},
                        {"SATTN_DISABLE_BSR": "1", "SATTN_DISABLE_SW": "on"},
                        {"SATTN_FORCE_SPEC": "lsh"}, {"SATTN_FORCE_SPEC": "dense"},
                        {"SATTN_HW_L1_BYTES": "1"}, {"SATTN_PREFER_BSR": "garbage"},
                        {"SATTN_TARGET": "rocc"}])

#: case -> (worker tool, argv before the file, how the file is passed, outputs it writes)
TOOL_CASES: dict[str, tuple[str, list[str]]] = {
    "opt_rocc": ("opt", ["--allow-unregistered-dialect", "-pass-pipeline=builtin.module(sattn-lower-rocc)"]),
    "opt_rvv": ("opt", ["--allow-unregistered-dialect", "-pass-pipeline=builtin.module(sattn-lower-rvv)",
                        "--explain-selection"]),
    "run_reference": ("sattn", ["run", "--backend", "reference", "--out", "o.npy"]),
    "run_rvv": ("sattn", ["run", "--backend", "rvv", "--out", "o.npy"]),
    "run_rocc": ("sattn", ["run", "--backend", "rocc", "--out", "o.npy"]),
    "rvv_bridge": ("run_rvv", ["--out", "o.npy"]),
    "compile_and_sim": ("compile_and_sim", ["--out", "o.npy"]),
    "emit": ("emit", ["--out-stem", "idx"]),
    "calibrate": ("calibrate", ["--precision", "i8"]),
    "profile": ("profile", ["--backend", "all"]),
    "show": ("sattn", ["show", "--out", "o.png"]),
}
PROG = {"opt": "sattn-opt", "sattn": "sattn", "run_rvv": "sattn_run_rvv_from_mlir.py",
        "compile_and_sim": "sattn_compile_and_sim.py", "emit": "sattn_emit_artifacts.py",
        "calibrate": "sattn_calibrate_scales.py", "profile": "sattn_profile.py"}


class Worker:
    """The fuzz worker process (restarted after a failure)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ, SATTN_TIME_LIMIT=str(TIME_LIMIT))
        env["PATH"] = f"{Path(PY).parent}{os.pathsep}{env.get('PATH', '')}"
        env = {k: v for k, v in env.items() if not k.startswith("SATTN_") or k in (
            "SATTN_TIME_LIMIT", "SATTN_REQUIRE_TOOLS", "SATTN_CACHE_DIR")}
        self.proc = subprocess.Popen([sys.executable, str(HERE / "fuzz_worker.py"), str(MEM_LIMIT)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)

    def call(self, req: dict) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], ANSWER_TIMEOUT)
        if not ready:
            self.stop()
            raise AssertionError(f"hang: no answer within {ANSWER_TIMEOUT} s to {req}")
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.proc = None
            raise AssertionError(f"the worker died (status {rc}) on {req}: {err[-2000:]}")
        return json.loads(line)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module")
def worker():
    need_tool("qemu-riscv64")
    need_tool("verilator")
    w = Worker()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


_counter = itertools.count()


def _mlir(attrs: dict[str, str]) -> str:
    body = ", ".join(k if v == "unit" else f"{k} = {v}" for k, v in attrs.items())
    return f'module {{\n  "sattn.sparse_attention"() {{{body}}} : () -> ()\n}}\n'


def check_one(worker: Worker, workdir: Path, attrs: dict[str, str], case: str, env: dict) -> None:
    tool, argv = TOOL_CASES[case]
    d = workdir / f"ex{next(_counter)}"
    d.mkdir()
    (d / "in.mlir").write_text(_mlir(attrs), encoding="utf-8")
    path_args = ["in.mlir"] if tool == "opt" else ["--mlir", "in.mlir"]
    reply = worker.call({"tool": tool, "argv": [*argv, *path_args], "env": env, "cwd": str(d)})
    rc, out, err = reply["rc"], reply["stdout"], reply["stderr"]
    where = f"{case} {env} on:\n{_mlir(attrs)}"
    assert rc != "crash", f"traceback: {err}\n{where}"
    assert "Traceback" not in err and "internal error" not in err, f"{err}\n{where}"
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("sattn: note: ")
             and ": warning: " not in ln]
    prog = PROG[tool]
    if "--explain-selection" in argv:  # its explanation goes to stderr: only an error line counts
        lines = [ln for ln in lines if ln.startswith(f"{prog}: ")]
    if rc == 0:
        assert lines == [], f"stderr on success: {err}\n{where}"
        return
    assert rc == 1, f"status {rc}: {err}\n{where}"
    if not lines:  # the only silent failure allowed is none: a FAIL verdict is a mismatch
        raise AssertionError(f"status {rc} without an error line (a FAIL verdict?):\n{out}\n{where}")
    assert len(lines) == 1, f"{err}\n{where}"
    assert lines[0].startswith(f"{prog}: error: "), f"{lines[0]}\n{where}"
    # nothing half-written: a failed run leaves no output file behind
    assert not [p.name for p in d.iterdir() if p.name not in ("in.mlir",)], \
        f"left behind: {sorted(p.name for p in d.iterdir())}\n{where}"


def _fuzz(worker: Worker, workdir: Path, examples: int, medium: int = 0):
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(attrs=attr_dicts(medium), case=st.sampled_from(list(TOOL_CASES)), env=ENVS)
    def run(attrs, case, env) -> None:
        check_one(worker, workdir, attrs, case, env)

    run()


def test_whole_range_attributes_through_every_tool(worker: Worker, workdir: Path) -> None:
    _fuzz(worker, workdir, EXAMPLES)


@pytest.mark.slow
def test_whole_range_attributes_through_every_tool_slow(worker: Worker, workdir: Path) -> None:
    _fuzz(worker, workdir, SLOW_EXAMPLES, medium=1)


@pytest.mark.parametrize("case", list(TOOL_CASES))
def test_every_tool_on_extremes(worker: Worker, workdir: Path, case: str) -> None:
    """Each tool once on the values the adversarial round used, deterministically."""
    extremes = [
        {"window_size": _int_text(2**62), "tile_D": _int_text(32), "tile_S": _int_text(128)},
        {"lsh_buckets": _int_text(10**9), "tile_S": _int_text(128), "tile_D": _int_text(16)},
        {"spec": _string_text("dense"), "tile_D": _int_text(32), "tile_S": _int_text(100000)},
        {"seq_len": _int_text(2**63 - 1), "head_dim": _int_text(2**63 - 1)},
        {"scale_q": _float_text(1e300), "precision": _string_text("i8"), "tile_S": _int_text(16)},
        {"max_error": _float_text(5e-324), "tile_S": _int_text(16), "tile_D": _int_text(8)},
        {"precision": _string_text("\U0001F600" * 300), "tile_S": _int_text(16)},
    ]
    for attrs in extremes:
        check_one(worker, workdir, attrs, case, {})
