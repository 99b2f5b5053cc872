"""``spec = "nsa"`` through the front door (sattn.run, ``sattn run``): every precision, GQA
1/2/4, prefill and decode, with and without gates, against the independent loop implementation
of tests/nsa_oracle.py; gates from files; bad input in one line."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from conftest import need_tool
from fd_util import PY, assert_one_line_error, run_cmd, write_mlir
from naive_ref import DEFAULT_SCALE, QMAX, codes
from nsa_oracle import check_blocks, check_output, rnd
from sattn import api
from sattn.errors import SattnError
from sattn.reference import tensorfile
from sattn.reference.nsa import op_tolerance, tolerance
from sattn.specs import nsa

D, HKV, BLOCK, N, W = 16, 2, 8, 2, 6


def _attrs(grp: int, precision: str = "fp32", **more) -> dict:
    return {"spec": "nsa", "block_size": BLOCK, "select_blocks": N, "window_size": W,
            "gqa_group_size": grp, "precision": precision, **more}


def _oracle_view(precision: str):
    """(how the oracle sees a tensor and its scale, the rounding of compressed means): values
    for fp32/bf16, integer codes for i8/i4 (tests/naive_ref.py, independent of sattn)."""
    if precision in QMAX:
        qm = QMAX[precision]
        return DEFAULT_SCALE[precision], (lambda m: np.clip(np.rint(m), -qm, qm))
    if precision == "bf16":
        return 1.0, (lambda m: m.astype(ml_dtypes.bfloat16).astype(np.float64))
    return 1.0, None


def _check_run(path, q, k, v, gates, precision):
    """sattn.run on ``path`` with Q/K/V (rank 4, B = 1) and gates against the oracle."""
    got = api.run(path, "reference", q, k, v,
                  gates=dict(zip(("g_cmp", "g_slc", "g_swa"), gates)))
    params = api.load_op(path, pipeline="sattn-select-spec")
    cfg = nsa.config(params)
    # the kept blocks the run attended: the pattern's own computation on the same operands
    ops = nsa.operands(params, q, k, v)
    blocks = nsa.attention(ops.q, ops.k, ops.v, nsa.NsaConfig(**{**cfg.__dict__, "scale": ops.score_scale}),
                           compressed=ops.compressed).blocks
    sc, rnd_mean = _oracle_view(precision)
    oq, ok_, ov = (codes(x, precision, sc) for x in (q, k, v))
    d = q.shape[-1]
    scale = (sc * sc) / math.sqrt(d)
    check_blocks(oq, ok_, cfg, blocks, scale=scale, compress_round=rnd_mean)
    vals = tuple((x * sc).astype(np.float32) for x in (oq, ok_, ov))
    check_output(got.output, oq, ok_, ov, cfg, blocks, gates, scale=scale, v_scale=sc,
                 compress_round=rnd_mean, values=vals)
    assert got.spec == "nsa" and got.output.shape == q.shape[:-1] + (v.shape[-1],)
    return got


@pytest.mark.parametrize("precision", ["fp32", "bf16", "i8", "i4"])
@pytest.mark.parametrize("grp", [1, 2, 4])
@pytest.mark.parametrize("gated", [False, True])
def test_run_matches_oracle(tmp_path, precision, grp, gated):
    """Prefill (Sq = Skv = 40) and a decode step (Sq = 1 at Skv = 40) of the same tensors."""
    s, h = 40, HKV * grp
    q, k, v = rnd((1, h, s, D), 1), rnd((1, HKV, s, D), 2), rnd((1, HKV, s, D), 3)
    q *= np.float32(2.0)  # sharper compressed probabilities: fewer near-ties between blocks
    rng = np.random.default_rng(4)
    gates = (tuple(rng.uniform(0, 1, (1, s, h)).astype(np.float32) for _ in range(3))
             if gated else (None, None, None))
    path = write_mlir(tmp_path / "nsa.mlir", _attrs(grp, precision))
    full = _check_run(path, q, k, v, gates, precision)
    dec_gates = tuple(None if g is None else g[:, -1:] for g in gates)
    step = _check_run(path, q[:, :, -1:], k, v, dec_gates, precision)
    assert full.counters["dense_pairs"] == HKV * s * s and step.counters["dense_pairs"] == HKV * s


def test_decode_is_the_last_prefill_row(tmp_path):
    """kv_len = T with seq_len = 1 on the synthetic data: the kept blocks of the step are the
    prefill's last row's, and its output that row's within the fp32 bound (a one-row product
    and a tile's product may sum in different orders)."""
    t = 96
    attrs = _attrs(2, head_dim=D, num_heads=4)
    prefill = api.run(write_mlir(tmp_path / "p.mlir", {**attrs, "seq_len": t}))
    step = api.run(write_mlir(tmp_path / "d.mlir", {**attrs, "seq_len": 1, "kv_len": t}))
    params = api.load_op(tmp_path / "p.mlir", pipeline="sattn-select-spec")
    q, k, v = (x[None] for x in api.resolve_inputs(params)[1:])
    cfg = nsa.config(params)
    full = nsa.attention(q, k, v, cfg)
    one = nsa.attention(q[:, :, -1:], k, v, cfg)
    np.testing.assert_array_equal(one.blocks[:, :, 0], full.blocks[:, :, -1])
    err = float(np.abs(step.output[:, 0] - prefill.output[:, -1]).max())
    assert err <= tolerance(q, k, v, cfg)
    # the step reads its token load: t/b compressed keys, n whole blocks, w window keys
    assert step.counters["selected_pairs"] == HKV * nsa.token_load(t, cfg) == HKV * (t // BLOCK + N * BLOCK + W)


def test_causal_is_implied(tmp_path):
    """nsa is causal by construction: causal = 0 and causal = 1 give the same output."""
    outs = [api.run(write_mlir(tmp_path / f"c{c}.mlir", _attrs(2, causal=c, seq_len=48, head_dim=D,
                                                                num_heads=4))).output
            for c in (0, 1)]
    np.testing.assert_array_equal(outs[0], outs[1])


def test_select_blocks_forces_nsa(tmp_path):
    attrs = {k_: v_ for k_, v_ in _attrs(1).items() if k_ != "spec"}
    res = api.run(write_mlir(tmp_path / "f.mlir", {**attrs, "seq_len": 32, "head_dim": D}))
    assert res.spec == "nsa"
    assert api.select(attrs).rule == "select_blocks"


def test_cli_qkv_file_with_gates_and_separate_gate_files(tmp_path):
    """``--qkv`` reads the file's g_cmp/g_slc/g_swa tensors; ``--g-*`` options give them as
    .npy or FILE.safetensors:name (and win over the file's); both against the oracle."""
    s, grp = 24, 2
    q, k, v = rnd((1, HKV * grp, s, D), 5), rnd((1, HKV, s, D), 6), rnd((1, HKV, s, D), 7)
    rng = np.random.default_rng(8)
    g = [rng.uniform(0, 2, (1, s, HKV * grp)).astype(np.float32) for _ in range(3)]
    tensorfile.save(tmp_path / "in.safetensors",
                    {"q": q, "k": k, "v": v, "g_cmp": g[0], "g_slc": g[1], "g_swa": g[2]})
    write_mlir(tmp_path / "nsa.mlir", _attrs(grp))
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "nsa.mlir", "--qkv", "in.safetensors",
                    "--out", "o1.npy"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "spec=nsa" in proc.stdout and "key_space=compressed+tokens" in proc.stdout
    np.save(tmp_path / "gs.npy", g[2][0])  # rank 2 [Sq, H]
    for i, x in enumerate((q, k, v)):
        np.save(tmp_path / f"{'qkv'[i]}.npy", x)
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "nsa.mlir", "--q", "q.npy", "--k", "k.npy",
                    "--v", "v.npy", "--g-cmp", "in.safetensors:g_cmp", "--g-slc",
                    "in.safetensors:g_slc", "--g-swa", "gs.npy", "--out", "o2.npy"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    o1, o2 = np.load(tmp_path / "o1.npy"), np.load(tmp_path / "o2.npy")
    np.testing.assert_array_equal(o1, o2)
    cfg = nsa.config(api.load_op(tmp_path / "nsa.mlir", pipeline="sattn-select-spec"))
    blocks = nsa.attention(q, k, v, cfg).blocks
    check_blocks(q, k, cfg, blocks)
    check_output(o1, q, k, v, cfg, blocks, tuple(g))
    # without gates: 1.0 each, not the gated output
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "nsa.mlir", "--q", "q.npy", "--k", "k.npy",
                    "--v", "v.npy", "--out", "o3.npy"], cwd=tmp_path)
    check_output(np.load(tmp_path / "o3.npy"), q, k, v, cfg, blocks)


@pytest.mark.parametrize("gate, message", [
    (np.ones((24, 3), np.float32), "--g-slc: gate g_slc has shape (24, 3), expected [B, Sq, H] = [1, 24, 2]"),
    (np.ones((24,), np.float32), "expected 2 dimensions [Sq, H] or 3 [B, Sq, H]"),
    (np.full((24, 2), np.inf, np.float32), "contains inf at [0, 0]"),
])
def test_bad_gates_are_one_line(tmp_path, gate, message):
    np.save(tmp_path / "g.npy", gate)
    write_mlir(tmp_path / "nsa.mlir", {**_attrs(2), "seq_len": 24, "head_dim": D, "num_heads": 2})
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "nsa.mlir", "--g-slc", "g.npy",
                    "--out", "o.npy"], cwd=tmp_path)
    assert_one_line_error(proc, message)
    assert not (tmp_path / "o.npy").exists()


def test_gates_for_another_spec_and_unknown_gates(tmp_path):
    path = write_mlir(tmp_path / "w.mlir", {"window_size": 4, "seq_len": 16, "head_dim": D})
    with pytest.raises(SattnError, match="gates \\(g_cmp\\) are inputs of spec nsa only; the op's "
                                         "spec is 'sliding_window'"):
        api.run(path, gates={"g_cmp": np.ones((16, 1), np.float32)})
    path = write_mlir(tmp_path / "n.mlir", {**_attrs(1), "seq_len": 16, "head_dim": D})
    with pytest.raises(SattnError, match="unknown gate 'g_x'"):
        api.run(path, gates={"g_x": np.ones((16, 1), np.float32)})


def test_rocc_runs_nsa_and_refuses_the_overlapping_variant_in_one_line(tmp_path):
    """The accelerator runs nsa (its selection on chip, docs/rocc.md) and passes the comparison;
    the overlapping compression, which its scoring path does not map, is one line."""
    write_mlir(tmp_path / "nsa.mlir", {**_attrs(1), "seq_len": 16, "head_dim": D})
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "nsa.mlir", "--backend", "rocc"],
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert any(ln.startswith("compare: rocc vs reference") and ln.endswith("-> PASS")
               for ln in proc.stdout.splitlines()), proc.stdout
    write_mlir(tmp_path / "ovl.mlir", {**_attrs(1), "seq_len": 16, "head_dim": D,
                                       "comp_block_size": 16, "comp_stride": 8})
    proc = run_cmd([PY, "-m", "sattn", "run", "--mlir", "ovl.mlir", "--backend", "rocc"],
                   cwd=tmp_path)
    assert_one_line_error(proc, "rocc nsa: the overlapping compression (comp_block_size=16, "
                          "comp_stride=8, block_size=8) is not supported: the accelerator's "
                          "scoring path maps compressed key c to selection block c (l = d = b); "
                          "run it with --backend reference or rvv")


@pytest.mark.parametrize("attrs, message", [
    ({"spec": "nsa"}, "attribute 'block_size' is required by spec nsa"),
    ({"spec": "nsa", "block_size": 16, "comp_block_size": 8, "comp_stride": 16},
     "attribute 'comp_stride'=16 must be <= comp_block_size=8"),
    ({"spec": "nsa", "block_size": 12, "comp_stride": 8, "comp_block_size": 16},
     "attribute 'comp_stride'=8 must be <= comp_block_size=16 and divide it and block_size=12"),
    ({"spec": "nsa", "block_size": 16, "dilation": 2}, "attribute 'dilation' is sliding_window's"),
    ({"spec": "nsa", "block_size": 16, "select_blocks": 0}, "attribute 'select_blocks' must be >= 1, got 0"),
    ({"spec": "nsa", "block_size": 16, "window_size": -1}, "attribute 'window_size' must be >= 0"),
    ({"spec": "nsa", "block_size": 16, "select_blocks": 2.5}, "attribute 'select_blocks' expects an integer"),
    ({"spec": "nsa", "block_size": 16, "comp_stride": "4"}, "attribute 'comp_stride' expects an integer"),
])
def test_bad_attributes_are_one_line(tmp_path, attrs, message):
    with pytest.raises(SattnError, match=None) as e:
        api.select(attrs)
    assert message in str(e.value)


def test_huge_attributes_cost_what_the_shape_costs(tmp_path):
    """block_size, select_blocks, window_size or comp_block_size far beyond Skv mean what
    Skv allows: the same output as the smallest values with that meaning (one block holding
    every key, no complete compression window, the window reaching key 0), without building
    anything of their size."""
    base = {"spec": "nsa", "seq_len": 64, "head_dim": D, "num_heads": 2, "gqa_group_size": 2}
    huge = api.run(write_mlir(tmp_path / "h.mlir", {**base, "block_size": 2**62,
                                                    "select_blocks": 2**62, "window_size": 2**62})).output
    small = api.run(write_mlir(tmp_path / "s.mlir", {**base, "block_size": 65, "select_blocks": 1,
                                                     "window_size": 64})).output
    np.testing.assert_array_equal(huge, small)
    wide = api.run(write_mlir(tmp_path / "w.mlir", {**base, "block_size": 4, "comp_stride": 1,
                                                    "comp_block_size": 2**62})).output
    narrow = api.run(write_mlir(tmp_path / "n.mlir", {**base, "block_size": 4, "comp_stride": 1,
                                                      "comp_block_size": 65})).output
    np.testing.assert_array_equal(wide, narrow)


def test_batch_and_dv_with_gates(tmp_path):
    """B = 2 (each element its own selection) and Dv != D, gates [B, Sq, H], a KV cache."""
    q, k, v = rnd((2, 4, 9, D), 9), rnd((2, 2, 50, D), 10), rnd((2, 2, 50, 8), 11)
    rng = np.random.default_rng(12)
    gates = tuple(rng.uniform(-1, 1, (2, 9, 4)).astype(np.float32) for _ in range(3))
    path = write_mlir(tmp_path / "b.mlir", _attrs(2))
    got = api.run(path, "reference", q, k, v, gates=dict(zip(("g_cmp", "g_slc", "g_swa"), gates)))
    cfg = nsa.config(api.load_op(path, pipeline="sattn-select-spec"))
    blocks = nsa.attention(q, k, v, cfg).blocks
    check_blocks(q, k, cfg, blocks)
    check_output(got.output, q, k, v, cfg, blocks, gates)
    assert got.output.shape == (2, 4, 9, 8)


def _near_tie(tmp_path):
    """A decode step where blocks 1 and 2 hold nearly the same keys (block 2 = block 1 times
    1 + 2e-6: their block scores differ far below the fp32 near-tie margin) but different
    values, and compete for the last of the n = 4 kept blocks: the reference keeps 1."""
    path = write_mlir(tmp_path / "tie.mlir", {
        "spec": "nsa", "block_size": 16, "select_blocks": 4, "window_size": 0, "num_heads": 4,
        "gqa_group_size": 2, "head_dim": 8, "seq_len": 1, "kv_len": 96})
    rng = np.random.default_rng(18)
    q = rng.standard_normal((1, 4, 1, 8)).astype(np.float32)
    k = rng.standard_normal((1, 2, 96, 8)).astype(np.float32)
    v = rng.standard_normal((1, 2, 96, 8)).astype(np.float32)
    k[:, :, 32:48] = k[:, :, 16:32] * np.float32(1 + 2e-6)
    params = api.load_op(path, pipeline="sattn-select-spec")
    ref = nsa.attention(q, k, v, nsa.config(params))
    assert ref.blocks[0, 0, 0].tolist() == [5, 3, 4, 1]
    return path, params, q, k, v, ref


def _kernel_keeps(monkeypatch, params, blocks):
    """The RVV run, its kept blocks replaced by ``blocks`` and its output by the reference's
    attention on them: what a kernel that ranked the scores so would return."""
    from sattn.backends.rvv import nsa as rvv_nsa
    from sattn.reference.nsa import op_attention

    real = rvv_nsa.run

    def run(q, k, v, *a, **kw):
        res = real(q, k, v, *a, **kw)
        res.blocks = blocks
        res.output = op_attention(params, q, k, v, blocks=blocks)
        return res

    monkeypatch.setattr(rvv_nsa, "run", run)


def test_rvv_compare_accepts_either_block_of_a_near_tie(tmp_path, monkeypatch):
    need_tool("qemu-riscv64")
    path, params, q, k, v, ref = _near_tie(tmp_path)
    real = api.run(path, "rvv", q, k, v, compare=True)  # whichever the kernel keeps: PASS
    assert real.verdict.passed, real.lines
    flipped = ref.blocks.copy()
    flipped[0, 0, 0, -1] = 2  # the other block of the near-tie
    _kernel_keeps(monkeypatch, params, flipped)
    res = api.run(path, "rvv", q, k, v, compare=True)
    assert res.verdict.passed, res.lines
    assert res.lines[-1].startswith("compare: rvv's kept blocks differ from the reference's in 1 "
                                    "of 2 rows, each at a near-tie (reference block scores within ")
    assert res.lines[-1].endswith("): compared with the reference on the kernel's blocks")
    # the rule is what passes it: against the reference's own blocks the output is far off
    # (block 2's values are not block 1's)
    tol = op_tolerance(params, q, k, v)
    assert np.abs(res.output - ref.output.reshape(res.output.shape)).max() > 100 * tol
    out = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(path), "--backend", "rvv"])
    assert out.returncode == 0, out.stderr  # the CLI on the synthetic data: a plain PASS


def test_rvv_compare_fails_a_block_beyond_the_near_tie_margin(tmp_path, monkeypatch):
    need_tool("qemu-riscv64")
    path, params, q, k, v, ref = _near_tie(tmp_path)
    bad = ref.blocks.copy()
    bad[0, 0, 0, -1] = 0  # block 0 for block 1: far below it
    _kernel_keeps(monkeypatch, params, bad)
    res = api.run(path, "rvv", q, k, v, compare=True)
    assert not res.verdict.passed
    assert not res.verdict.selection_ok  # the selection itself is named wrong
    assert res.lines[-2].endswith("-> FAIL")
    assert res.lines[-1].startswith("compare: rvv's kept blocks are not a correct selection: row 0 "
                                    "of KV head 0 kept block 0 (reference score ")
    assert "more than the near-tie margin" in res.lines[-1]
    assert "(kept [0, 3, 4, 5], the reference [1, 3, 4, 5])" in res.lines[-1]
    dup = ref.blocks.copy()
    dup[0, 1, 0, -1] = dup[0, 1, 0, 0]
    _kernel_keeps(monkeypatch, params, dup)
    res = api.run(path, "rvv", q, k, v, compare=True)
    assert not res.verdict.passed
    assert "row 0 of KV head 1 kept blocks" in res.lines[-1]
    assert "expected 4 distinct blocks of 0..5" in res.lines[-1]


def test_a_density_above_one_is_explained(tmp_path):
    """The three branches are counted separately, so at S = 64 with a 64-key window and four
    16-token blocks every row reads its tokens twice plus the compressed keys: more pairs than
    the dense Hkv x Sq x Skv. The printed density says why, in ``sattn run`` and ``profile``."""
    path = write_mlir(tmp_path / "wide.mlir", {
        "spec": "nsa", "block_size": 16, "select_blocks": 4, "window_size": 64, "seq_len": 64,
        "head_dim": 16, "num_heads": 2})
    res = api.run(path)
    # per row at position p: (p + 1 - 16) // 16 + 1 complete compressed windows, the
    # tokens j <= p of its (at most 4) blocks: all p + 1 of them, and min(64, p + 1) window keys
    p = np.arange(64)
    per_row = np.maximum(0, (p + 1 - 16) // 16 + 1) + (p + 1) + np.minimum(64, p + 1)
    assert res.counters["selected_pairs"] == 2 * int(per_row.sum()) == 8520
    assert res.density == 8520 / (2 * 64 * 64) > 1
    out = run_cmd([PY, "-m", "sattn", "run", "--mlir", str(path)])
    assert out.returncode == 0, out.stderr
    line = out.stdout.splitlines()[1]
    assert line == ("density=1.040039 selected_pairs=8520 (nsa: compressed keys seen + selected "
                    "tokens + window keys per row, each branch counted (a key two branches read "
                    "counts twice), over the dense Hkv x Sq x Skv pairs: the density can exceed 1)")
    prof = run_cmd([PY, "-m", "sattn", "profile", "--mlir", str(path), "--backend", "reference"])
    assert prof.returncode == 0, prof.stderr
    assert prof.stdout.splitlines()[-1] == (
        "note: density and selected_pairs: nsa: compressed keys seen + selected tokens + window "
        "keys per row, each branch counted (a key two branches read counts twice), over the "
        "dense Hkv x Sq x Skv pairs: the density can exceed 1")
