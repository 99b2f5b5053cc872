"""NSA on the RVV kernels: the whole algorithm in the kernel region (``kernels/nsa.c``, mode
``nsa``): compression, the compressed attention and its probabilities, the group's block
scores, top-n, the selected and the window attention and the gated sum, per (batch element, KV
head, query row), as :mod:`sattn.reference.nsa` defines them (docs/patterns/nsa.md).

:func:`run` converts Q/K/V to the precision's storage (the quantisation of
:func:`sattn.backends.rvv.runner.to_storage`, shared with every RVV kernel), writes the input
file (ABI: :mod:`sattn.backends.rvv.abi`; the NSA slots ``block_size`` b, ``comp_block`` l,
``comp_stride`` d, ``select_blocks`` n, ``nsa_window`` w and the sections ``gates_off`` and
``comp_kv_off``), runs it under qemu with the counting plugin
(:func:`sattn.backends.rvv.runner.execute`) and returns the output, the measured counters and
the kept blocks.

**The KV cache's compressed keys** (``comp_cache=True``). Without it the kernel mean-pools all
of K and V of every KV head in every call: O(Skv * (D + Dv)) work per call, which a decode step
at Skv = 65,536 cannot amortise (it is about a quarter of the dense step's instructions). A
serving system keeps the compressed keys and values as NSA's decoding does (the paper's §3.3:
one new compressed key every d tokens) and the kernel then reads them. :func:`compressed_kv`
is that state, computed exactly as the kernel computes it (fp32 sums of the stored values in
token order, divided by l), so the outputs are bit for bit the same with and without it
(tested); keeping it is the cache's job and not in the count.
"""

from __future__ import annotations

import numpy as np

from sattn import precision as prec
from sattn import resources
from sattn.backends.rvv import abi, cycle_model, kvcache, runner
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference.data import check_finite, check_qkv
from sattn.result import RunResult
from sattn.specs import nsa as spec

GATE_NAMES = ("g_cmp", "g_slc", "g_swa")


def visible_windows(skv: int, cfg: spec.NsaConfig) -> int:
    """Compressed windows some row of a cache of ``skv`` keys sees (``c*d + l - 1 <= skv - 1``):
    the ones the kernel computes or reads."""
    return int(spec.visible_compressed(np.array([skv - 1]), cfg)[0])


def compressed_kv(values: np.ndarray, cfg: spec.NsaConfig, precision: str = "fp32") -> np.ndarray:
    """The compressed rows ``[Hkv, ncv, E]`` float32 of stored values ``[Hkv, Skv, E]`` (fp32 /
    bf16 values, i8 / i4 codes: what the kernel reads) exactly as the kernel computes them:
    window c is the fp32 sum of rows ``c*d .. c*d + l - 1`` added one at a time in token order
    from 0, then divided by ``l``, then stored as ``precision`` stores a compressed key
    (:func:`sattn.specs.nsa.compressed_view`: bf16 rounded, i8/i4 codes rounded half to even)."""
    values = np.asarray(values, dtype=np.float32)
    hkv, skv, e = values.shape
    ncv = visible_windows(skv, cfg)
    starts = np.arange(ncv) * cfg.stride
    acc = np.zeros((hkv, ncv, e), np.float32)
    for t in range(cfg.comp_block):
        acc += values[:, starts + t]
    mean = acc / np.float32(cfg.comp_block)
    view = spec.compressed_view(precision)
    return mean if view is None else view(mean)


def _gates(gates, b: int, sq: int, h: int) -> np.ndarray | None:
    """The gates as ``[B, 3, Sq, H]`` float32 (None: all 1.0, no section)."""
    if gates is None:
        return None
    if len(gates) != 3:
        raise SattnError(f"rvv nsa: gates must be (g_cmp, g_slc, g_swa), got {len(gates)} arrays")
    out = np.ones((b, 3, sq, h), np.float32)
    for t, (g, name) in enumerate(zip(gates, GATE_NAMES)):
        if g is None:
            continue
        g = np.asarray(g, dtype=np.float32)
        if g.ndim == 2:
            g = g[None]
        if g.shape != (b, sq, h):
            raise SattnError(f"rvv nsa: {name} must be [B, Sq, H] = {[b, sq, h]}, got {list(g.shape)}")
        check_finite(g, f"rvv nsa: {name}")
        out[:, t] = g
    return out


def input_file(st: runner.Storage, shape, cfg: spec.NsaConfig, precision: str, scales, lmul: int,
               gates: np.ndarray | None, comp: np.ndarray | None, sel_cap: int,
               stop_after: int = 0) -> bytes:
    """The kernel's input file for one batch element (layout: :mod:`sattn.backends.rvv.abi`).
    ``gates``: ``[3, Sq, H]`` float32 or None; ``comp``: the cache's compressed K then V
    (flat float32, :func:`compressed_kv`) or None; ``stop_after``: 2 the selection alone, 0 the
    whole kernel."""
    f = abi.InputFile("nsa", precision, lmul)
    f.set(h=shape.heads, hkv=shape.kv_heads, skv=shape.kv_len, sq=shape.seq_len,
          d=shape.head_dim, dv=shape.head_dim_v, row_bytes=st.row_bytes, causal=1,
          block_size=cfg.block_size, comp_block=cfg.comp_block, comp_stride=cfg.stride,
          select_blocks=cfg.select_blocks, nsa_window=cfg.window_size,
          stop_after=stop_after, sel_cap=sel_cap)
    f.set_float(score_scale=st.score_scale, v_scale=st.v_scale, scale_q=scales[0],
                scale_k=scales[1], scale_v=scales[2])
    f.add("q_off", st.q.tobytes())
    f.add("k_off", st.k.tobytes())
    f.add("v_off", st.v.tobytes())
    if gates is not None:
        f.add("gates_off", np.ascontiguousarray(gates, np.float32).tobytes())
    if comp is not None:
        f.add("comp_kv_off", np.ascontiguousarray(comp, np.float32).tobytes())
    return f.pack()


def _read_blocks(raw: bytes, hkv: int, sq: int, n: int) -> np.ndarray:
    """The kernel's dump of kept blocks (CSR per KV head, rank order) as ``[Hkv, Sq, n]``
    int64, -1 padded (the layout of :attr:`sattn.reference.nsa.NsaResult.blocks`)."""
    s1 = sq + 1
    indptr = np.frombuffer(raw[: 8 * hkv * s1], dtype=np.int64).reshape(hkv, s1)
    idx = np.frombuffer(raw[8 * hkv * s1:], dtype=np.int32)
    out = np.full((hkv, sq, n), -1, np.int64)
    for g in range(hkv):
        for i in range(sq):
            row = idx[indptr[g, i]:indptr[g, i + 1]]
            out[g, i, : row.size] = row
    return out


def row_pairs(blocks: np.ndarray, skv: int, cfg: spec.NsaConfig) -> int:
    """The (query row, key) pairs the kept ``blocks`` [..., Sq, n] make the rows read, summed:
    the visible compressed keys, the kept tokens ``j <= p`` and the window's keys."""
    sq = blocks.shape[-2]
    pos = spec.positions(sq, skv)
    b = cfg.block_size
    first = np.maximum(blocks, 0) * b
    toks = np.where(blocks >= 0, np.clip(pos[:, None] + 1 - first, 0, b), 0).sum(axis=-1)
    per_row = spec.visible_compressed(pos, cfg) + toks + np.minimum(cfg.window_size, pos + 1)
    return int(per_row.sum())


def run(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: spec.NsaConfig, *, precision: str = "fp32",
        gates=None, scales: tuple[float, float, float] | None = None, vlen: int | None = None,
        lmul: int | None = None, comp_cache: bool = False, blocks: bool = True, count: bool = True,
        keep=None, dlen: int | None = None, stop_after: int = 0, timeout: float = 3600) -> RunResult:
    """NSA of Q ``[B, H, Sq, D]`` (or ``[H, Sq, D]``), K ``[B, Hkv, Skv, D]``, V ``[B, Hkv,
    Skv, Dv]`` on the RVV kernel under qemu, one kernel call per batch element.

    ``precision``: fp32, bf16, i8 or i4 (``scales``: (scale_q, scale_k, scale_v) of i8/i4,
    default the precision's); ``gates``: ``(g_cmp, g_slc, g_swa)``, each ``[B, Sq, H]`` or
    None (1.0); ``comp_cache``: the kernel reads the KV cache's compressed keys (module doc)
    instead of compressing K and V itself; ``blocks``: dump the kept blocks (inside the
    counted region: a copy of n ints per row; benchmarks pass False); ``stop_after = 2``: the
    selection alone (compression, compressed scores and softmax, block scores, top-n; no
    attention, the output is zeros): the scoring floor of ``bench/nsa.py``, the switch every
    selecting kernel mode reads (:data:`sattn.backends.rvv.abi.STOP_AFTER_MODES`).

    Returns a RunResult: ``output`` with Q's rank (last dim Dv), ``counters`` (measured:
    ``instructions``, ``vector``, ``vector_mem``, ``scalar``, summed over the batch;
    ``model_cycles``, the cycle model's; ``selected_pairs``: the (row, key) pairs the rows read
    per KV head, when ``blocks``; ``dense_pairs``: ``B * Hkv * Sq * Skv``), ``blocks`` (int64
    ``[B, Hkv, Sq, n]``, rank order, -1 padded; None without ``blocks``)."""
    rank = getattr(q, "ndim", 0)
    if rank not in (3, 4):
        raise SattnError(f"rvv nsa: Q must be [B, H, Sq, D] or [H, Sq, D], got shape {list(np.shape(q))}")
    q4, k4, v4 = (x[None] if rank == 3 else x for x in (q, k, v))
    h, hkv = q4.shape[1], k4.shape[1]
    if hkv == 0 or h % hkv:
        raise SattnError(f"rvv nsa: {h} query heads are not a multiple of {hkv} KV heads")
    group = h // hkv
    attrs = {"spec": "dense", "causal": 1, "precision": precision, "gqa_group_size": group}
    if scales is not None:
        attrs.update(zip(("scale_q", "scale_k", "scale_v"), scales))
    # a dense call's attributes carry the precision and the scales of the storage conversion
    params = params_from_dict(attrs)
    shape = check_qkv(q4, k4, v4, group)
    for x, name in ((q4, "Q"), (k4, "K"), (v4, "V")):
        check_finite(x, f"rvv nsa: {name}")
    vlen, lmul = runner.vector_config(params, vlen, lmul)
    if vlen not in runner.VLENS or lmul not in runner.LMULS:
        raise SattnError(f"rvv nsa: vlen must be one of {runner.VLENS} and lmul one of {runner.LMULS}, "
                         f"got {vlen} and {lmul}")
    for what, n in (("head_dim D", shape.head_dim), ("the value dimension Dv", shape.head_dim_v)):
        if n > runner.MAX_HEAD_DIM:
            raise SattnError(f"rvv nsa: {what}={n} is more than the RVV kernels' limit of {runner.MAX_HEAD_DIM}")
    runner.check_stop_after(stop_after, "nsa", "nsa")
    b, sq, skv = q4.shape[0], shape.seq_len, shape.kv_len
    gate_arr = _gates(gates, b, sq, h)
    scale_triple = prec.resolved_scales(params)
    machine = cycle_model.machine_for(vlen, dlen, None, None)
    n = min(cfg.select_blocks, spec.num_blocks(skv, cfg))
    one = shape.element
    resources.require(resources.rvv(params, one, hkv * sq * spec.token_load(skv, cfg), vlen=vlen, lmul=lmul))
    outs, kept, totals = [], [], {}
    seconds = 0.0
    for e in range(b):
        st = runner.to_storage(params, q4[e], k4[e], v4[e])
        comp = None
        if comp_cache:
            kv = kvcache.stored_values(precision, st.k, shape.head_dim)
            vv = kvcache.stored_values(precision, st.v, shape.head_dim_v)
            comp = np.concatenate([compressed_kv(kv, cfg, precision).ravel(),
                                   compressed_kv(vv, cfg, precision).ravel()])
        sel_cap = hkv * sq * n if blocks else 0
        blob = input_file(st, one, cfg, precision, scale_triple, lmul,
                          None if gate_arr is None else gate_arr[e], comp, sel_cap, stop_after)
        where = None if keep is None else f"{keep}/element{e}"
        ex = runner.execute(blob, vlen=vlen, machine=machine, count=count, keep=where,
                            what=f"RVV kernel (nsa, {precision}) under qemu-riscv64",
                            out_values=h * sq * shape.head_dim_v, selection=blocks, timeout=timeout)
        seconds += ex.seconds
        outs.append(ex.output.reshape(h, sq, shape.head_dim_v))
        if blocks:
            kept.append(_read_blocks(ex.selection, hkv, sq, n))
        for key, val in ex.counters.items():
            totals[key] = totals.get(key, 0) + val
    out = np.stack(outs)
    kept_arr = np.stack(kept) if blocks else None
    dense_pairs = b * hkv * sq * skv
    totals["dense_pairs"] = dense_pairs
    density = float("nan")
    if kept_arr is not None:
        totals["selected_pairs"] = row_pairs(kept_arr, skv, cfg)
        density = totals["selected_pairs"] / dense_pairs
    sizes = f"S={sq}" if sq == skv else f"Sq={sq} Skv={skv}"
    batch = f"B={b} " if rank == 4 else ""
    lines = [(f"rvv_config: vlen={vlen} lmul={lmul} precision={precision} mode=nsa {batch}H={h} "
              f"kv_heads={hkv} {sizes} D={shape.head_dim} b={cfg.block_size} l={cfg.comp_block} "
              f"d={cfg.stride} n={cfg.select_blocks} w={cfg.window_size}")]
    if count:
        lines.append(f"rvv_counters: total={totals['instructions']} vector={totals['vector']} "
                     f"vector_mem={totals['vector_mem']} scalar={totals['scalar']}"
                     + (f" (summed over B={b} kernel calls)" if b > 1 else ""))
        lines.append(f"rvv_cycles(model): cycles={totals['model_cycles']} (modelled: in-order, single "
                     "issue, no overlap, no memory latency)")
    if comp_cache:
        lines.append("rvv_kv_cache: the kernel reads the cache's compressed keys and values "
                     "(one new window every d tokens: the cache's job), not counted above")
    res = RunResult(backend="rvv", spec="nsa", output=out if rank == 4 else out[0], density=density,
                    counters=totals, timings={"qemu_s": seconds}, lines=lines, params=params)
    res.blocks = kept_arr  # type: ignore[attr-defined]
    return res


def run_op(params, q: np.ndarray, k: np.ndarray, v: np.ndarray, *, gates=None,
           vlen: int | None = None, lmul: int | None = None, keep=None, count: bool = True,
           dlen: int | None = None, **options) -> RunResult:
    """Run an op of ``spec = "nsa"`` as its lowered call says: the :class:`NsaConfig
    <sattn.specs.nsa.NsaConfig>` from the call's ``block_size``, ``select_blocks``,
    ``window_size``, ``comp_block_size``, ``comp_stride`` (:func:`sattn.specs.nsa.config`);
    its ``precision`` and scales; VLEN/LMUL from its ``vector_strips`` record
    (:func:`sattn.backends.rvv.runner.vector_config`). ``gates``: ``(g_cmp, g_slc, g_swa)`` as
    the reference receives them (None: 1.0). Other options: ``timeout``, ``comp_cache``."""
    runner.kernel_mode(params)
    unknown = sorted(set(options) - {"timeout", "comp_cache"})
    if unknown:
        raise SattnError(f"rvv: option {unknown[0]!r} does not apply to spec nsa")
    vlen, lmul = runner.vector_config(params, vlen, lmul)
    if vlen not in runner.VLENS or lmul not in runner.LMULS:
        raise SattnError(f"rvv nsa: vlen must be one of {runner.VLENS} and lmul one of {runner.LMULS}, "
                         f"got {vlen} and {lmul}")
    scales = prec.resolved_scales(params) if prec.is_integer(params.precision) else None
    res = run(q, k, v, spec.config(params), precision=params.precision, gates=gates,
              scales=scales, vlen=vlen, lmul=lmul, keep=keep, count=count, dlen=dlen, **options)
    res.params = params
    return res
