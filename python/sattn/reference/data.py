"""Input tensors: the deterministic sine/cosine initialisation and ``.npy`` loading.

Synthetic data (computed in float64, stored as float32; ``b`` a batch element, ``h`` a query
head, ``g`` a KV head, ``s`` a position, ``d`` a feature of Q/K (< D), ``e`` a feature of V
(< Dv), ``seed`` an integer)::

    q[b, h, s, d] = sin(0.013 * (s + 1) * (d + 1) + 0.7 * h + 1.3 * seed + 0.37 * b)
    k[b, g, s, d] = cos(0.017 * (s + 1) * (d + 1) + 0.5 * g + 1.7 * seed + 0.23 * b)
    v[b, g, s, e] = sin(0.011 * (s + 1) * (e + 2) + 0.3 * g + 0.9 * seed + 0.19 * b)

(``b = 0`` adds an exact zero: B = 1 is the data it was before the batch existed.)

With Sq < Skv (``kv_len``) K and V have Skv rows and query row ``i`` takes the formula's
values at its position ``s = Skv - Sq + i`` (a decode step's Q is the prefill's last row).
Every value lies in [-1, 1]; the products ``(s+1)(d+1)`` make neighbouring rows differ, so the
data-dependent patterns have non-trivial choices to make.

Given tensors (arrays, ``.npy`` files or tensors of ``.safetensors`` files) are checked before
any backend runs, the same way for the API and the command line (:func:`check_values`): NaN and
infinities are refused, and so are values whose attention scores could overflow fp32 (the rule
is in ``docs/limits.md``). A file's header is checked against its size before anything is
allocated (:func:`load_tensor`); float16, bfloat16, float64 and big-endian float32 data are
converted to float32 (all but the last with a one-line note on stderr). Tensors have rank 3
(``[H, S, D]``, B = 1) or rank 4 (``[B, H, S, D]``); V's last dimension is Dv, which may differ
from D. A run's tensors are ``[H, S, D]`` when B = 1 and ``[B, H, S, D]`` when B > 1 (every
backend runs both); the output of a run has the rank of Q with Dv last (:class:`Inputs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npf

from sattn import resources
from sattn.errors import SattnError, note
from sattn.ir.schema import AttentionParams, Shape
from sattn.precision import QMAX, is_integer, resolved_scales, round_bf16
from sattn.reference import tensorfile


def synthetic(shape: Shape, seed: int = 0, params: AttentionParams | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic (q [H,Sq,D], k [H_kv,Skv,D], v [H_kv,Skv,Dv]) float32 (formula in the
    module doc), each with a leading batch dimension B when ``shape.batch`` > 1.

    A shape whose tensors would not fit the machine is refused first (:mod:`sattn.resources`;
    ``params`` names the attributes the shape came from)."""
    if shape.heads % shape.group:
        raise SattnError(
            f"num_heads={shape.heads} is not divisible by gqa_group_size={shape.group}"
        )
    resources.require(resources.inputs(shape, params, synthetic=True))
    s = np.arange(1, shape.kv_len + 1, dtype=np.float64)[:, None]
    sd = s * np.arange(1, shape.head_dim + 1, dtype=np.float64)[None, :]
    sd2 = s * np.arange(2, shape.head_dim_v + 2, dtype=np.float64)[None, :]
    h = np.arange(shape.heads, dtype=np.float64)[:, None, None]
    g = np.arange(shape.kv_heads, dtype=np.float64)[:, None, None]
    qs, ks, vs = [], [], []
    for b in range(shape.batch):  # one element at a time: float64 temporaries of one element
        qs.append(np.sin(0.013 * sd[None, shape.offset:] + 0.7 * h + 1.3 * seed + 0.37 * b
                         ).astype(np.float32))
        ks.append(np.cos(0.017 * sd[None] + 0.5 * g + 1.7 * seed + 0.23 * b).astype(np.float32))
        vs.append(np.sin(0.011 * sd2[None] + 0.3 * g + 0.9 * seed + 0.19 * b).astype(np.float32))
    if shape.batch == 1:
        return qs[0], ks[0], vs[0]
    return np.stack(qs), np.stack(ks), np.stack(vs)


#: The ranks :func:`load_npy` / :func:`load_tensor` accept, and how they are named in errors:
#: attention tensors (default) and nsa's gates.
QKV_RANKS = ((3, 4), "3 dimensions [heads, S, D] or 4 [B, heads, S, D]")
GATE_RANKS = ((2, 3), "2 dimensions [Sq, H] or 3 [B, Sq, H]")


def load_npy(path: str | Path, what: str, ranks: tuple = QKV_RANKS) -> np.ndarray:
    """Load one float32 tensor of rank 3 or 4 from the ``.npy`` file ``path``; ``what`` names it
    in errors ('--q', 'Q', ...).

    Everything that can be wrong with the file is one SattnError line: missing, a directory or
    FIFO, unreadable, not an NPY file, a header that claims more data than the file holds (checked
    before allocating), a dtype that is not a float, not rank 3 or 4, NaN or infinite values.
    float16 and float64 are converted to float32 with a note on stderr (float64 values beyond
    the float32 range are refused); big-endian float32 is float32 and is simply converted."""
    p = Path(path)
    size = tensorfile.checked_file(p, what, ".npy")
    try:
        with p.open("rb") as f:
            head = f.read(6)
            if head.startswith(b"PK"):
                raise SattnError(f"{what}: {p} holds an archive (.npz), expected a single array")
            if head != b"\x93NUMPY":
                raise SattnError(f"{what}: {p} is not a .npy file (no NPY header)")
            f.seek(0)
            shape, fortran, dtype = _read_header(f, what, p)
            offset = f.tell()
            if dtype.kind != "f" or dtype.fields is not None or dtype.subdtype is not None:
                raise SattnError(f"{what}: {p} has dtype {dtype}, expected float32")
            _check_rank(shape, what, p, ranks)
            count = math.prod(shape)
            need = count * dtype.itemsize
            if offset + need > size:
                raise SattnError(
                    f"{what}: {p}: its header says shape {shape} {dtype} ({resources.fmt_bytes(need)}) "
                    f"but the file holds {resources.fmt_bytes(max(0, size - offset))} of data "
                    "(truncated or corrupt)")
            est = resources.Estimate(f"loading {what}", f"{p} shape {shape}")
            est.add(f"the array {what}", host=need + 4.0 * count)
            resources.require(est)
            arr = np.fromfile(f, dtype=dtype, count=count)
    except PermissionError:
        raise SattnError(f"{what}: cannot read {p}: permission denied") from None
    except OSError as e:
        raise SattnError(f"{what}: cannot read {p}: {e.strerror or e}") from None
    arr = arr.reshape(shape, order="F" if fortran else "C")
    return _as_float32(arr, what, str(p))


def _check_rank(shape: tuple[int, ...], what: str, where: str | Path,
                ranks: tuple = QKV_RANKS) -> None:
    if len(shape) not in ranks[0]:
        raise SattnError(f"{what}: {where} has shape {tuple(shape)}, expected {ranks[1]}")


def _as_float32(arr: np.ndarray, what: str, where: str) -> np.ndarray:
    """``arr`` as contiguous float32: other floats converted with a note (values beyond the
    float32 range refused), NaN and infinities refused."""
    native = arr.dtype.newbyteorder("=")
    if native != np.float32:
        finite = np.isfinite(arr)
        top = float(np.max(np.abs(arr[finite]), initial=0.0))
        if native.itemsize > 4 and top > FLT_MAX:
            at = np.unravel_index(int(np.argmax(np.where(finite, np.abs(arr), 0))), arr.shape)
            raise SattnError(f"{what}: {where} is {native} with values beyond the float32 range "
                             f"(|x| = {top:.6g} at {list(map(int, at))})")
        note(f"{what}: {where} is {native}; converted to float32"
             + (" (values rounded)" if native.itemsize > 4 else ""))
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    check_finite(arr, f"{what}: {where}")
    return arr


def load_tensor(path: str | Path, what: str, default_name: str | None = None,
                ranks: tuple = QKV_RANKS) -> np.ndarray:
    """Load one float32 tensor of rank 3 or 4: a ``.npy`` file (:func:`load_npy`), or a tensor
    of a ``.safetensors`` file, named as ``FILE.safetensors:name`` (else ``default_name`` when
    the file holds it, else the file's only tensor). The same checks as for ``.npy``: the header
    against the file's size and the memory estimate before reading, float dtypes only
    (F32, F16, BF16, F64; converted to float32), NaN and infinities refused."""
    p, name = tensorfile.split_name(path)
    if not tensorfile.is_safetensors(p):
        return load_npy(p, what, ranks)
    entry = tensorfile.read_header(p, what).entry(name, what, default_name)
    where = f"{p}:{entry.name}"
    if entry.dtype not in ("F32", "F16", "BF16", "F64"):
        raise SattnError(f"{what}: {where} has dtype {entry.dtype}, expected a float "
                         "(F32, or F16/BF16/F64 converted to float32)")
    _check_rank(entry.shape, what, where, ranks)
    count = math.prod(entry.shape)
    est = resources.Estimate(f"loading {what}", f"{where} shape {entry.shape}")
    est.add(f"the array {what}", host=entry.nbytes + 4.0 * count)
    resources.require(est)
    try:
        arr = entry.read()
    except OSError as e:
        raise SattnError(f"{what}: cannot read {p}: {e.strerror or e}") from None
    return _as_float32(arr, what, where)


def _read_header(f, what: str, p: Path):
    """(shape, fortran_order, dtype) of an NPY stream positioned at its start."""
    try:
        version = npf.read_magic(f)
        if version == (1, 0):
            return npf.read_array_header_1_0(f)
        if version == (2, 0):
            return npf.read_array_header_2_0(f)
        return npf._read_array_header(f, version)  # 3.0: utf-8 header, same fields
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as e:
        raise SattnError(f"{what}: cannot read {p} as .npy: "
                         f"{' '.join(str(e).split()) or type(e).__name__}") from None


def check_finite(a: np.ndarray, name: str) -> None:
    """Refuse NaN or infinite values, naming the tensor, the first bad value and its index."""
    finite = np.isfinite(a)
    if not finite.all():
        idx = np.unravel_index(int(np.argmin(finite)), a.shape)
        raise SattnError(f"{name} contains {a[idx]} at {list(map(int, idx))}: "
                         "NaN and infinite values are not accepted")


#: fp32's largest value; bounds are kept below half of it (see :func:`check_values`).
FLT_MAX = float(np.finfo(np.float32).max)


def _largest(a: np.ndarray) -> tuple[float, list[int]]:
    """max|a| and where (for messages: it takes a pass and an |a| copy more than :func:`_top`)."""
    idx = np.unravel_index(int(np.argmax(np.abs(a))), a.shape)
    return float(np.abs(a[idx])), list(map(int, idx))


def _top(a: np.ndarray) -> float:
    """max|a| without a copy of |a| (finite values, checked first)."""
    return max(float(a.max()), -float(a.min())) if a.size else 0.0


def _max_row_norm(a: np.ndarray) -> float:
    """max over rows of the L2 norm of the last axis, in float64 (one head at a time)."""
    best = 0.0
    for x in a.reshape(-1, a.shape[-2], a.shape[-1]):
        best = max(best, float(np.sqrt(np.einsum("sd,sd->s", x, x, dtype=np.float64)).max()))
    return best


def check_values(params: AttentionParams, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
    """Refuse inputs no backend can compute the same way (``docs/limits.md``), before any runs:

    - NaN or infinite values (Q, K or V);
    - scores that could overflow fp32: by Cauchy-Schwarz every partial sum of ``q_i . k_j``
      (in any order) is at most ``|q_i| |k_j|``, so the bound ``max|q_i| max|k_j| * scale``
      (the precision's operands and scale) must stay below FLT_MAX / 2;
    - a P.V sum that could overflow: ``keys x max|V|`` (times ``scale_v`` for i8/i4) below
      FLT_MAX / 2;
    - values that overflow the precision's storage (bf16 rounds |x| >= 3.3961e38 to inf).

    The error names the tensor and its largest value (and where it is)."""
    for name, a in (("Q", q), ("K", k), ("V", v)):
        check_finite(a, name)
    if q.size == 0:
        return
    d, s = q.shape[-1], k.shape[-2]
    limit = FLT_MAX / 2
    if is_integer(params.precision):
        sq, sk, sv = resolved_scales(params)
        qmax = QMAX[params.precision]
        codes = [math.floor(min(qmax, _top(x) / sc) + 0.5) for x, sc in ((q, sq), (k, sk))]
        if sq * sk / math.sqrt(d) > limit:
            raise SattnError(f"scale_q x scale_k / sqrt(D) = {sq * sk / math.sqrt(d):.4g} overflows "
                             f"fp32 (> {limit:.4g}; scale_q={sq:g}, scale_k={sk:g})")
        bound = d * codes[0] * codes[1] * (sq * sk / math.sqrt(d))
        if bound > limit:
            raise SattnError(
                f"scores can overflow fp32 at precision {params.precision}: head_dim x max codes "
                f"x scale_q x scale_k / sqrt(D) = {bound:.4g} > {limit:.4g} "
                f"(scale_q={sq:g}, scale_k={sk:g})")
        if sv * qmax * s > limit:
            raise SattnError(f"outputs can overflow fp32: scale_v={sv:g} x {qmax} x {s} keys > {limit:.4g}")
        return
    widen = 1.0 + 2.0**-8 if params.precision == "bf16" else 1.0
    for name, a in (("Q", q), ("K", k), ("V", v)):
        if params.precision == "bf16" and not np.isfinite(round_bf16(np.float32(_top(a)))):
            top, where = _largest(a)
            raise SattnError(f"{name} has |x| = {top:.6g} at {where}, which rounds to infinity in bf16")
    bound = _max_row_norm(q) * _max_row_norm(k) * widen * widen / math.sqrt(d)
    if bound > limit:
        (top, where), name = max((_largest(q), "Q"), (_largest(k), "K"))
        raise SattnError(
            f"{name} has |x| = {top:.6g} at {where}: scores can overflow fp32 "
            f"(max|q_i| x max|k_j| / sqrt(D) = {bound:.4g} > {limit:.4g}; see docs/limits.md)")
    if _top(v) * widen * s > limit:
        top, where = _largest(v)
        raise SattnError(f"V has |x| = {top:.6g} at {where}: the weighted sum over {s} keys can "
                         f"overflow fp32 ({s} x {top:.4g} > {limit:.4g}; see docs/limits.md)")


def check_qkv(q: np.ndarray, k: np.ndarray, v: np.ndarray, gqa_group_size: int = 1) -> Shape:
    """Check Q [H,Sq,D], K [H_kv,Skv,D] and V [H_kv,Skv,Dv] (all three rank 3, or all rank 4
    with a leading batch B) against each other and the group size; return the Shape
    (``kv_len`` = Skv, ``batch`` = B, ``head_dim_v`` = Dv; Sq <= Skv: query row i sits at
    position Skv - Sq + i)."""
    for name, a in (("Q", q), ("K", k), ("V", v)):
        if not isinstance(a, np.ndarray) or a.ndim not in (3, 4):
            got = getattr(a, "shape", type(a).__name__)
            raise SattnError(f"{name} must be a 3-D array [heads, S, D] or 4-D [B, heads, S, D], "
                             f"got shape {got}")
        if a.dtype != np.float32:
            raise SattnError(f"{name} must be float32, got {a.dtype}")
    if not q.ndim == k.ndim == v.ndim:
        raise SattnError(f"Q, K and V must have the same rank, got shapes {q.shape}, {k.shape} "
                         f"and {v.shape}")
    if k.shape[:-1] != v.shape[:-1]:
        raise SattnError(f"K has shape {k.shape} but V has shape {v.shape}; they must match "
                         "(but for V's last dimension Dv)")
    if q.ndim == 4 and q.shape[0] != k.shape[0]:
        raise SattnError(f"Q has shape {q.shape} but K has {k.shape}: the batch B must match "
                         f"({q.shape[0]} vs {k.shape[0]})")
    b = q.shape[0] if q.ndim == 4 else 1
    h, s, d = q.shape[-3:]
    hk, sk, dk = k.shape[-3:]
    dv = v.shape[-1]
    if d != dk:
        raise SattnError(f"Q has shape {q.shape} but K has {k.shape}: D must match")
    if s > sk:
        raise SattnError(f"Q has shape {q.shape} but K has {k.shape}: Sq={s} query rows exceed "
                         f"Skv={sk} keys (query rows sit at the last Sq key positions)")
    if hk == 0 or h % hk:
        raise SattnError(f"Q has {h} heads, not a multiple of K's {hk} heads")
    if h // hk != gqa_group_size:
        raise SattnError(
            f"Q has {h} heads and K/V {hk}: that is groups of {h // hk}, "
            f"but gqa_group_size={gqa_group_size}"
        )
    if b == 0:
        raise SattnError(f"Q has an empty batch (B=0): shape {q.shape}")
    if s == 0 or d == 0:
        raise SattnError(f"Q has an empty shape {q.shape}")
    if dv == 0:
        raise SattnError(f"V has an empty value dimension (Dv=0): shape {v.shape}")
    return Shape(heads=h, seq_len=s, head_dim=d, group=gqa_group_size, kv_len=sk, batch=b,
                 head_dim_v=dv)


def load_qkv(
    q_path: str | Path, k_path: str | Path, v_path: str | Path, gqa_group_size: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load and cross-check Q, K, V from ``.npy`` files."""
    q = load_npy(q_path, "--q")
    k = load_npy(k_path, "--k")
    v = load_npy(v_path, "--v")
    check_qkv(q, k, v, gqa_group_size)
    return q, k, v


@dataclass(frozen=True)
class Inputs:
    """The shape and the tensors of one run -- [H, S, D] when B = 1, [B, H, S, D] when B > 1
    (V with Dv last) -- and whether Q was given with rank 4: the run's output then gets that
    rank back (:meth:`shaped`)."""

    shape: Shape
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    rank4: bool = False

    def shaped(self, out: np.ndarray) -> np.ndarray:
        """``out`` with the rank of Q (a leading batch of 1 for a rank-4 Q with B = 1)."""
        return out[None] if self.rank4 and out.ndim == 3 else out


def _batched(arrs: list, names: str = "QKV") -> list:
    """The run's form of the given arrays: B = 1 (rank 3, or rank 4 with B = 1) as [H, S, D]
    views, else every tensor [B, H, S, D] (a rank-3 one is refused: its batch is 1)."""
    for a, name in zip(arrs, names):
        if isinstance(a, np.ndarray) and a.ndim not in (3, 4):
            raise SattnError(f"{name} must have rank 3 [heads, S, D] or 4 [B, heads, S, D], "
                             f"got shape {a.shape}")
    if not all(isinstance(a, np.ndarray) for a in arrs):
        return arrs  # check_qkv names what is not an array
    batches = [a.shape[0] if a.ndim == 4 else 1 for a in arrs]
    if all(b == 1 for b in batches):
        return [a[0] if a.ndim == 4 else a for a in arrs]
    if len(set(batches)) > 1:
        raise SattnError("Q, K and V disagree on the batch B: "
                         + ", ".join(f"{n} {tuple(a.shape)}" for n, a in zip(names, arrs)))
    return arrs


def is_qkv_file(q, k, v) -> bool:
    """``q`` alone names a whole ``.safetensors`` file (``--qkv``): tensors q, k, v inside."""
    if k is not None or v is not None or not isinstance(q, (str, Path)):
        return False
    path, name = tensorfile.split_name(q)
    return name is None and tensorfile.is_safetensors(path)


def load_inputs(params: AttentionParams, q=None, k=None, v=None, seed: int = 0, *,
                qkv_what: str = "--qkv") -> Inputs:
    """The :class:`Inputs` of one run: the given arrays or files if any, else the synthetic
    data of the shape the attributes give (seq_len/head_dim/num_heads, else tile_S/tile_D and
    gqa_group_size). Q, K and V are given all together or not at all, each an array or a file
    (``.npy``, or ``FILE.safetensors[:name]``: tensor ``name``, else the one named q, k or v);
    ``q`` alone may be a ``.safetensors`` file holding tensors q, k and v (``--qkv``). Each has
    rank 3 [H, S, D] or rank 4 [B, H, S, D] (V: Dv last); the given tensors' B and Dv are the
    run's. ``qkv_what`` names the whole-file form in errors."""
    if is_qkv_file(q, k, v):
        q, k, v = (load_tensor(q, qkv_what, name) for name in ("q", "k", "v"))
    given = [x is not None for x in (q, k, v)]
    if any(given) and not all(given):
        missing = ", ".join(n for n, g in zip(("--q", "--k", "--v"), given) if not g)
        raise SattnError(f"give Q, K and V together: missing {missing}")
    if all(given):
        arrs = []
        for flag, x in (("--q", q), ("--k", k), ("--v", v)):
            arrs.append(load_tensor(x, flag, flag[2:]) if isinstance(x, (str, Path)) else x)
        rank4 = isinstance(arrs[0], np.ndarray) and arrs[0].ndim == 4
        arrs = _batched(arrs)
        shape = check_qkv(*arrs, params.gqa_group_size)
        check_values(params, *arrs)
        return Inputs(shape, *arrs, rank4=rank4)
    shape = params.shape()
    return Inputs(shape, *synthetic(shape, seed, params))


#: nsa's gates, in the order of its output ``g_cmp*o_cmp + g_slc*o_slc + g_swa*o_swa``.
GATE_NAMES = ("g_cmp", "g_slc", "g_swa")


def load_gates(shape: Shape, gates=None, qkv_file=None, *, flag: str = "--{}") -> tuple | None:
    """nsa's gates ``(g_cmp, g_slc, g_swa)`` for inputs of ``shape``, or None when none is
    given. ``gates`` maps a gate's name to an array or a file (``.npy``, or
    ``FILE.safetensors[:name]``: tensor ``name``, else the one named like the gate);
    ``qkv_file`` (the ``--qkv`` file, if any) supplies the gates it holds as tensors named
    ``g_cmp``, ``g_slc``, ``g_swa`` that ``gates`` does not give. Each gate is ``[B, Sq, H]``
    (rank 2 ``[Sq, H]`` when B = 1), finite; an absent gate is 1.0. Bad gates are one line
    naming the gate (``flag`` formats its option, e.g. ``--g-cmp``)."""
    gates = dict(gates or {})
    unknown = sorted(set(gates) - set(GATE_NAMES))
    if unknown:
        raise SattnError(f"unknown gate '{unknown[0]}' (the gates are {', '.join(GATE_NAMES)})")
    if qkv_file is not None:
        held = tensorfile.read_header(Path(qkv_file), "--qkv").entries
        for name in GATE_NAMES:
            if gates.get(name) is None and name in held:
                gates[name] = f"{qkv_file}:{name}"
    if all(gates.get(n) is None for n in GATE_NAMES):
        return None
    want = [shape.batch, shape.seq_len, shape.heads]
    out = []
    for name in GATE_NAMES:
        g = gates.get(name)
        what = flag.format(name.replace("_", "-"))
        if isinstance(g, (str, Path)):
            g = load_tensor(g, what, name, GATE_RANKS)
        elif g is not None:
            g = np.asarray(g, dtype=np.float32)
            if g.ndim not in GATE_RANKS[0]:
                raise SattnError(f"{what}: gate {name} has shape {tuple(g.shape)}, expected "
                                 f"{GATE_RANKS[1]}")
            check_finite(g, f"{what}: gate {name}")
        if g is not None:
            g3 = g[None] if g.ndim == 2 else g
            if list(g3.shape) != want:
                raise SattnError(f"{what}: gate {name} has shape {tuple(g.shape)}, expected "
                                 f"[B, Sq, H] = {want} (rank 2 [Sq, H] when B = 1)")
            g = g3
        out.append(g)
    return tuple(out)


def resolve_inputs(
    params: AttentionParams,
    q: np.ndarray | str | Path | None = None,
    k: np.ndarray | str | Path | None = None,
    v: np.ndarray | str | Path | None = None,
    seed: int = 0,
) -> tuple[Shape, np.ndarray, np.ndarray, np.ndarray]:
    """(shape, q, k, v) of :func:`load_inputs` (tensors [H, S, D], or [B, H, S, D] for B > 1)."""
    got = load_inputs(params, q, k, v, seed)
    return got.shape, got.q, got.k, got.v
