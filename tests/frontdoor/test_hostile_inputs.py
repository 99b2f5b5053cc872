"""Faults and hostile input (issue 9, section 4): every case ends in one clear line, a non-zero
exit and nothing written -- or, where the input is legitimate, runs with a one-line note.

Cases: non-finite and overflowing values (API and command line, every backend alike), unreadable
or malformed files, directories in the way, the cache directory, a byte-order mark, big-endian
and float64/float16 arrays, an unreachable Ray cluster, a bogus sweep cost, an empty output stem,
calibration's x1000 fields, one latency validator, strict flag variables and the override note.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool
from fd_util import PY, REPO, assert_one_line_error, run_cmd, unprivileged
from sattn import api
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.data import FLT_MAX, check_values, synthetic
from sattn.reference.executor import attention

TOOLS = REPO / "compiler" / "mlir" / "tools"
SHAPE = "tile_S = 32 : i64, tile_D = 16 : i64"
OP = '"sattn.sparse_attention"() {{ {attrs} }} : () -> ()'
GOOD = "module {\n  " + OP.format(attrs=f"window_size = 2 : i64, {SHAPE}") + "\n}\n"


@pytest.fixture
def good(tmp_path: Path) -> Path:
    (tmp_path / "good.mlir").write_text(GOOD)
    return tmp_path / "good.mlir"


def _qkv(tmp_path: Path, scale: float = 1.0, dtype=np.float32, names=("q", "k", "v")) -> list[str]:
    rng = np.random.default_rng(0)
    args = []
    for n in names:
        np.save(tmp_path / f"{n}.npy", (scale * rng.standard_normal((1, 32, 16))).astype(dtype))
        args += [f"--{n}", str(tmp_path / f"{n}.npy")]
    return args


def _files(d: Path) -> set[str]:
    return {p.name for p in d.iterdir()}


# ---- non-finite and overflowing values: refused everywhere, the same way -------------------

@pytest.mark.parametrize("backend", ["reference", "rvv", "rocc"])
def test_api_refuses_nan_on_every_backend(good: Path, backend: str) -> None:
    q, k, v = synthetic(params_from_dict({"tile_S": 32, "tile_D": 16}).shape())
    k = k.copy()
    k[0, 3, 5] = np.nan
    with pytest.raises(SattnError, match=re.escape("K contains nan at [0, 3, 5]: NaN and infinite")):
        api.run(good, backend, q, k, v, compare=True)
    v = v.copy()
    v[0, 1, 2] = -np.inf
    with pytest.raises(SattnError, match=re.escape("V contains -inf at [0, 1, 2]")):
        api.run(good, backend, q, synthetic(params_from_dict({"tile_S": 32, "tile_D": 16}).shape())[1], v)


def test_api_wrappers_refuse_nan(good: Path) -> None:
    q, k, v = synthetic(params_from_dict({"tile_S": 32, "tile_D": 16}).shape())
    q = q.copy()
    q[0, 0, 0] = np.nan
    for call in (api.run_rvv_from_mlir, api.compile_and_sim):
        with pytest.raises(SattnError, match=re.escape("Q contains nan at [0, 0, 0]")):
            call(good, q=q, k=k, v=v)
    with pytest.raises(SattnError, match="Q contains nan"):
        api.compare(good, ("reference", "rvv"), q=q, k=k, v=v)
    with pytest.raises(SattnError, match="Q contains nan"):
        attention(params_from_dict({"tile_S": 32, "tile_D": 16, "spec": "dense"}), q, k, v)


TOOLS_WITH_NPY = {
    "reference": [PY, "-m", "sattn", "run", "--backend", "reference"],
    "rvv": [PY, str(TOOLS / "sattn_run_rvv_from_mlir.py")],
    "rocc": [PY, str(TOOLS / "sattn_compile_and_sim.py")],
}


def test_overflowing_scores_are_the_same_error_on_every_backend(good: Path, tmp_path: Path) -> None:
    """Finite inputs near 1e20 used to give checksum=nan on the reference and different finite
    numbers on rvv and rocc; now every backend refuses them with the same line."""
    qkv = _qkv(tmp_path, scale=1e20)
    lines = set()
    for argv in TOOLS_WITH_NPY.values():
        proc = run_cmd([*argv, "--mlir", str(good), *qkv, "--out", "o.npy"], cwd=tmp_path)
        line = assert_one_line_error(proc, "scores can overflow fp32", "> 1.701e+38")
        assert "RuntimeWarning" not in proc.stderr and not (tmp_path / "o.npy").exists()
        lines.add(line.split(": error: ", 1)[1])
    assert len(lines) == 1, lines
    (line,) = lines
    q = np.load(tmp_path / "q.npy")
    top = np.abs(q).max()
    assert re.match(r"[QK] has \|x\| = \S+ at \[0, \d+, \d+\]", line)
    assert f"{top:.6g}" in line or f"{np.abs(np.load(tmp_path / 'k.npy')).max():.6g}" in line


def test_overflow_rule_is_the_cauchy_schwarz_bound() -> None:
    """Accepted just below FLT_MAX / 2, refused just above (one row each, D = 4)."""
    p = params_from_dict({"seq_len": 2, "head_dim": 4})
    q = np.zeros((1, 2, 4), np.float32)
    k = np.zeros((1, 2, 4), np.float32)
    v = np.ones((1, 2, 4), np.float32)
    # |q| |k| / sqrt(4) with q = (a, 0, 0, 0), k = (a, 0, 0, 0): a^2 / 2
    a = np.float32(np.sqrt(FLT_MAX / 2 * 2) * 0.999)
    q[0, 0, 0] = k[0, 1, 0] = a
    check_values(p, q, k, v)
    q[0, 0, 0] = k[0, 1, 0] = np.float32(a * 1.01)
    with pytest.raises(SattnError, match="scores can overflow fp32"):
        check_values(p, q, k, v)
    big_v = v.copy()
    big_v[0, 1, 3] = np.float32(FLT_MAX / 3)  # 2 keys x FLT_MAX/3 > FLT_MAX/2
    with pytest.raises(SattnError, match=re.escape("V has |x| = ") + ".*" + re.escape("at [0, 1, 3]")):
        check_values(p, np.ones_like(q), np.ones_like(k), big_v)
    with pytest.raises(SattnError, match="rounds to infinity in bf16"):
        check_values(p.replace(precision="bf16"), q.clip(0, 1) + np.float32(3.4e38), k * 0, v)


# ---- files that cannot be read -------------------------------------------------------------

def test_unreadable_npy_is_one_line(good: Path, tmp_path: Path) -> None:
    qkv = _qkv(tmp_path)
    (tmp_path / "q.npy").chmod(0)
    try:
        proc = run_cmd(unprivileged([PY, "-m", "sattn", "run", "--mlir", str(good), *qkv]),
                       cwd=tmp_path)
    finally:
        (tmp_path / "q.npy").chmod(0o644)
    assert_one_line_error(proc, "--q: cannot read", "q.npy", "permission denied")


def test_directory_and_fifo_as_npy(good: Path, tmp_path: Path) -> None:
    qkv = _qkv(tmp_path)
    (tmp_path / "q.npy").unlink()
    (tmp_path / "q.npy").mkdir()
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(good), *qkv], cwd=tmp_path)
    assert_one_line_error(proc, "--q:", "is a directory, expected a .npy file")
    (tmp_path / "q.npy").rmdir()
    os.mkfifo(tmp_path / "q.npy")  # opening a FIFO would wait for a writer forever
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(good), *qkv], cwd=tmp_path, timeout=60)
    assert_one_line_error(proc, "--q:", "is not a regular file")


def test_npy_header_claiming_more_than_the_file_holds(good: Path, tmp_path: Path) -> None:
    """Was: MemoryError for 3.64 TiB. The header is checked against the file size first."""
    from numpy.lib import format as npf

    qkv = _qkv(tmp_path)
    with open(tmp_path / "q.npy", "wb") as f:
        npf.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False,
                                       "shape": (1000, 1000000, 1000)})
        f.write(b"\0" * 64)
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(good), *qkv], cwd=tmp_path)
    assert_one_line_error(proc, "--q:", "header says shape (1000, 1000000, 1000) float32 (3.64 TiB)",
                          "holds 64 B of data", "truncated or corrupt")


def test_big_endian_float32_is_float32(good: Path, tmp_path: Path) -> None:
    qkv = _qkv(tmp_path)
    native = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(good), *qkv, "--out", "a.npy"],
                     cwd=tmp_path)
    for n in "qkv":
        np.save(tmp_path / f"{n}.npy", np.load(tmp_path / f"{n}.npy").astype(">f4"))
    big = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(good), *qkv, "--out", "b.npy"],
                  cwd=tmp_path)
    assert native.returncode == 0 and big.returncode == 0, big.stderr
    assert big.stderr == ""  # a byte order is no conversion worth a note
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_float64_and_float16_are_converted_with_a_note(good: Path, tmp_path: Path, dtype) -> None:
    qkv = _qkv(tmp_path, dtype=dtype)
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(good), *qkv, "--out", "o.npy"],
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    notes = proc.stderr.strip().splitlines()
    name = np.dtype(dtype).name
    assert notes == [f"sattn: note: --{n}: {tmp_path / (n + '.npy')} is {name}; converted to float32"
                     + (" (values rounded)" if dtype == np.float64 else "") for n in "qkv"]
    arrays = [np.load(tmp_path / f"{n}.npy").astype(np.float32) for n in "qkv"]
    p = api.load_op(good)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), attention(p, *arrays))


def test_float64_beyond_float32_is_refused(good: Path, tmp_path: Path) -> None:
    qkv = _qkv(tmp_path, names="qk") + _qkv(tmp_path, dtype=np.float64, names="v")
    a = np.load(tmp_path / "v.npy")
    a[0, 7, 1] = 1e300
    np.save(tmp_path / "v.npy", a)
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(good), *qkv], cwd=tmp_path)
    assert_one_line_error(proc, "--v:", "float64 with values beyond the float32 range",
                          "|x| = 1e+300 at [0, 7, 1]")


def test_mlir_with_a_byte_order_mark(tmp_path: Path) -> None:
    bom = tmp_path / "bom.mlir"
    bom.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    plain = tmp_path / "plain.mlir"
    plain.write_text(GOOD)
    opt = str(REPO / "build" / "mlir" / "tools" / "sattn-opt" / "sattn-opt")
    outs = [run_cmd([opt, str(f), "-pass-pipeline=builtin.module(sattn-lower-rvv)"]) for f in (bom, plain)]
    assert all(o.returncode == 0 for o in outs), outs[0].stderr
    assert outs[0].stdout == outs[1].stdout
    run = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(bom)])
    assert run.returncode == 0 and "spec=sliding_window" in run.stdout, run.stderr


# ---- directories in the way -----------------------------------------------------------------

def test_keep_dirs_that_are_files(good: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    for argv, flag in (([PY, str(TOOLS / "sattn_run_rvv_from_mlir.py")], "--keep"),
                       ([PY, str(TOOLS / "sattn_compile_and_sim.py")], "--keep-dir")):
        for target, why in (("afile", "exists and is not a directory"),
                            ("afile/sub", "'afile' is not a directory")):
            proc = run_cmd([*argv, "--mlir", str(good), flag, target], cwd=tmp_path)
            assert_one_line_error(proc, f"{flag} {target}: {why}")
    with pytest.raises(SattnError, match="keep_dir \\(--keep-dir\\) .*afile: exists and is not a directory"):
        api.compile_and_sim(good, keep_dir=tmp_path / "afile")
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("case", ["file", "unwritable-parent", "unwritable"])
def test_cache_dir_that_cannot_be_used(good: Path, tmp_path: Path, case: str) -> None:
    need_tool("qemu-riscv64")
    ro = tmp_path / "ro"
    ro.mkdir()
    target = {"file": tmp_path / "cachefile", "unwritable-parent": ro / "cache",
              "unwritable": ro}[case]
    if case == "file":
        target.write_text("x")
    ro.chmod(0o555)
    try:
        proc = run_cmd(unprivileged([PY, str(TOOLS / "sattn_run_rvv_from_mlir.py"), "--mlir",
                                     str(good)]), cwd=tmp_path, env={"SATTN_CACHE_DIR": str(target)})
    finally:
        ro.chmod(0o755)
    want = "exists and is not a directory" if case == "file" else "not writable: Permission denied"
    assert_one_line_error(proc, f"cache directory {target} (from SATTN_CACHE_DIR): {want}")
    assert not (ro / "cache").exists()


# ---- the sweep: an unreachable Ray cluster, a bogus cost --------------------------------------

def test_unreachable_ray_address_is_one_line(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    proc = run_cmd([PY, "-m", "sattn", "sweep", "--grid", "tiny", "--cost", "model_pairs",
                    "--executor", "ray", "--ray-address", "127.0.0.1:1", "--no-progress"],
                   cwd=tmp_path, timeout=120)
    assert_one_line_error(proc, "--ray-address 127.0.0.1:1: cannot reach the Ray cluster at "
                          "127.0.0.1:1: Connection refused")
    assert proc.stdout == "" and time.perf_counter() - t0 < 60


@pytest.mark.parametrize("backend", ["reference", "rvv", "rocc"])
def test_sweep_bogus_cost_is_one_line_before_any_case(tmp_path: Path, backend: str) -> None:
    proc = run_cmd([PY, "-m", "sattn", "sweep", "--grid", "tiny", "--backend", backend,
                    "--cost", "bogus", "--no-progress"], cwd=tmp_path, timeout=120)
    line = assert_one_line_error(proc, f"--cost 'bogus': backend '{backend}' reports no such counter")
    assert proc.stdout == ""
    from sattn.backends import get_backend

    for counter in get_backend(backend).COUNTERS:
        assert counter in line


@pytest.mark.parametrize("backend", ["reference", "rvv", "rocc"])
def test_backend_counters_are_what_a_run_reports(backend: str) -> None:
    """The counters the sweep validates --cost against are exactly a real run's."""
    from sattn.backends import get_backend

    need_tool({"reference": "python3", "rvv": "qemu-riscv64", "rocc": "verilator"}[backend])
    mod = get_backend(backend)
    p = params_from_dict({"tile_S": 16, "tile_D": 16, "spec": "dense"})
    res = mod.run(p, *synthetic(p.shape()))
    assert set(res.counters) == set(mod.COUNTERS)


# ---- quiet surprises ---------------------------------------------------------------------------

@pytest.mark.parametrize("stem", ["", "sub/", ".", "sub/.."])
def test_empty_out_stem_is_refused(good: Path, tmp_path: Path, stem: str) -> None:
    (tmp_path / "sub").mkdir()
    before = _files(tmp_path)
    proc = run_cmd([PY, str(TOOLS / "sattn_emit_artifacts.py"), "--mlir", str(good),
                    "--out-stem", stem], cwd=tmp_path)
    assert_one_line_error(proc, f"--out-stem {stem!r}: needs a file name stem")
    assert _files(tmp_path) == before and not list((tmp_path / "sub").iterdir())


def test_calibrate_x1000_fields_keep_their_precision(tmp_path: Path) -> None:
    """scale_q = 0.000295404 used to print scale_q_x1000=1 (3.4x off)."""
    need_tool("qemu-riscv64")
    qkv = _qkv(tmp_path)
    q = np.load(tmp_path / "q.npy")
    np.save(tmp_path / "q.npy", (q * (0.000295404 * 127 / np.abs(q).max())).astype(np.float32))
    (tmp_path / "i8.mlir").write_text(GOOD.replace("window_size", 'precision = "i8", window_size'))
    proc = run_cmd([PY, str(TOOLS / "sattn_calibrate_scales.py"), "--mlir", "i8.mlir",
                    "--precision", "i8", *qkv], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    fields = dict(re.findall(r"(\w+)=(\S+)", proc.stdout))
    assert fields["scale_q"] == "0.000295404" and fields["scale_q_x1000"] == "0.295404"
    for t in "qkv":
        assert float(fields[f"scale_{t}_x1000"]) == pytest.approx(
            1000 * float(fields[f"scale_{t}"]), rel=1e-5)
    # the runner takes the printed x1000 value as it is: the same run as the plain scale
    outs = []
    for flag, value in (("--scale_q_x1000", fields["scale_q_x1000"]), ("--scale_q", fields["scale_q"])):
        out = tmp_path / f"o{len(outs)}.npy"
        r = run_cmd([PY, str(TOOLS / "sattn_run_rvv_from_mlir.py"), "--mlir", "i8.mlir", *qkv,
                     flag, value, "--out", str(out)], cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        outs.append(np.load(out))
    np.testing.assert_array_equal(*outs)


@pytest.mark.parametrize("lat, bw, message", [
    (0, None, "latency (--lat) must be >= 1 and <= 2147483647 cycles, got 0"),
    (2**31, None, "latency (--lat) must be >= 1 and <= 2147483647 cycles, got 2147483648"),
    (None, 0.0, "bandwidth (--bw) must be a finite number > 0 bytes per cycle, got 0.0"),
    (None, float("nan"), "bandwidth (--bw) must be a finite number > 0 bytes per cycle, got nan"),
])
def test_api_and_cli_validate_the_memory_model_alike(good: Path, tmp_path: Path, lat, bw, message) -> None:
    """compile_and_sim(latency=0) used to run silently with 20 while --lat 0 was refused."""
    with pytest.raises(SattnError) as e:
        api.compile_and_sim(good, latency=lat, bandwidth=bw)
    assert str(e.value) == message
    flags = (["--lat", str(lat)] if lat is not None else []) + (["--bw", str(bw)] if bw is not None else [])
    proc = run_cmd([PY, str(TOOLS / "sattn_compile_and_sim.py"), "--mlir", str(good), *flags],
                   cwd=tmp_path)
    assert assert_one_line_error(proc) == f"sattn_compile_and_sim.py: error: {message}"


@pytest.mark.parametrize("value, on", [("1", True), ("TRUE", True), ("yes", True), ("on", True),
                                       ("0", False), ("false", False), ("No", False),
                                       ("off", False), ("", False)])
def test_flag_variables_accept_the_documented_words(value: str, on: bool) -> None:
    from sattn.selector import Hints

    assert Hints.from_env({"SATTN_PREFER_BSR": value}).prefer_bsr is on
    assert ("bsr" in Hints.from_env({"SATTN_DISABLE_BSR": value}).disabled) is on


def test_garbage_flag_variable_is_an_error(good: Path) -> None:
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(good)], env={"SATTN_PREFER_BSR": "garbage"})
    assert_one_line_error(proc, "environment variable SATTN_PREFER_BSR must be one of "
                          "1/true/yes/on/0/false/no/off (or empty), got 'garbage'")
    opt = str(REPO / "build" / "mlir" / "tools" / "sattn-opt" / "sattn-opt")
    proc = run_cmd([opt, str(good), "-pass-pipeline=builtin.module(sattn-select-spec)"],
                   env={"SATTN_DISABLE_SW": "maybe"})
    assert_one_line_error(proc, "SATTN_DISABLE_SW must be one of", "got 'maybe'")


def test_force_spec_env_says_it_beat_the_spec_attribute(tmp_path: Path) -> None:
    f = tmp_path / "s.mlir"
    f.write_text("module {\n  " + OP.format(attrs=f'spec = "sliding_window", window_size = 2 : i64, {SHAPE}')
                 + "\n}\n")
    opt = str(REPO / "build" / "mlir" / "tools" / "sattn-opt" / "sattn-opt")
    proc = run_cmd([opt, str(f), "--explain-selection", "-pass-pipeline=builtin.module(sattn-select-spec)"],
                   env={"SATTN_FORCE_SPEC": "bsr"})
    assert proc.returncode == 0, proc.stderr
    assert 'spec = "bsr"' in proc.stdout and 'spec_rule = "env_force_spec"' in proc.stdout
    err = proc.stderr.splitlines()
    assert err.count('sattn: note: SATTN_FORCE_SPEC=bsr wins over the attribute spec = "sliding_window"') == 1
    assert any('reason: SATTN_FORCE_SPEC=bsr (wins over the attribute spec = "sliding_window")' in ln
               for ln in err)
    assert any('skipped: attribute spec = "sliding_window" overridden by SATTN_FORCE_SPEC=bsr' in ln
               for ln in err)
    # the same spec in both places is no override: no note
    same = run_cmd([opt, str(f), "-pass-pipeline=builtin.module(sattn-select-spec)"],
                   env={"SATTN_FORCE_SPEC": "sliding_window"})
    assert same.returncode == 0 and same.stderr == ""
