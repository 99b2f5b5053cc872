"""Input tensors: the deterministic sine/cosine initialisation and ``.npy`` loading.

Synthetic data (computed in float64, stored as float32; ``h`` a query head, ``g`` a KV head,
``s`` a position, ``d`` a feature, ``seed`` an integer)::

    q[h, s, d] = sin(0.013 * (s + 1) * (d + 1) + 0.7 * h + 1.3 * seed)
    k[g, s, d] = cos(0.017 * (s + 1) * (d + 1) + 0.5 * g + 1.7 * seed)
    v[g, s, d] = sin(0.011 * (s + 1) * (d + 2) + 0.3 * g + 0.9 * seed)

Every value lies in [-1, 1]; the products ``(s+1)(d+1)`` make neighbouring rows differ, so the
data-dependent patterns have non-trivial choices to make.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sattn.errors import SattnError
from sattn.ir.schema import AttentionParams, Shape


def synthetic(shape: Shape, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic (q [H,S,D], k [H_kv,S,D], v [H_kv,S,D]) float32 (formula in the module doc)."""
    if shape.heads % shape.group:
        raise SattnError(
            f"num_heads={shape.heads} is not divisible by gqa_group_size={shape.group}"
        )
    s = np.arange(1, shape.seq_len + 1, dtype=np.float64)[:, None]
    sd = s * np.arange(1, shape.head_dim + 1, dtype=np.float64)[None, :]
    sd2 = s * np.arange(2, shape.head_dim + 2, dtype=np.float64)[None, :]
    h = np.arange(shape.heads, dtype=np.float64)[:, None, None]
    g = np.arange(shape.kv_heads, dtype=np.float64)[:, None, None]
    q = np.sin(0.013 * sd[None] + 0.7 * h + 1.3 * seed)
    k = np.cos(0.017 * sd[None] + 0.5 * g + 1.7 * seed)
    v = np.sin(0.011 * sd2[None] + 0.3 * g + 0.9 * seed)
    return q.astype(np.float32), k.astype(np.float32), v.astype(np.float32)


def load_npy(path: str | Path, what: str) -> np.ndarray:
    """Load one float32 3-D tensor from ``path``; ``what`` names it in errors ('--q', 'Q', ...)."""
    p = Path(path)
    if not p.is_file():
        raise SattnError(f"{what}: file not found: {p}")
    with p.open("rb") as f:
        head = f.read(6)
    if head != b"\x93NUMPY" and not head.startswith(b"PK"):  # neither .npy nor .npz
        raise SattnError(f"{what}: {p} is not a .npy file (no NPY header)")
    try:
        arr = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:  # not an .npy file, or truncated
        raise SattnError(f"{what}: cannot read {p} as .npy: {e}") from None
    if not isinstance(arr, np.ndarray):
        raise SattnError(f"{what}: {p} holds an archive, expected a single array")
    if arr.dtype not in (np.float32, np.float64, np.float16):
        raise SattnError(f"{what}: {p} has dtype {arr.dtype}, expected float32")
    if arr.ndim != 3:
        raise SattnError(f"{what}: {p} has shape {arr.shape}, expected 3 dimensions [heads, S, D]")
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise SattnError(f"{what}: {p} contains NaN or infinite values")
    return arr


def check_qkv(q: np.ndarray, k: np.ndarray, v: np.ndarray, gqa_group_size: int = 1) -> Shape:
    """Check Q [H,S,D] and K/V [H_kv,S,D] against each other and the group size; return the Shape."""
    for name, a in (("Q", q), ("K", k), ("V", v)):
        if not isinstance(a, np.ndarray) or a.ndim != 3:
            got = getattr(a, "shape", type(a).__name__)
            raise SattnError(f"{name} must be a 3-D array [heads, S, D], got shape {got}")
        if a.dtype != np.float32:
            raise SattnError(f"{name} must be float32, got {a.dtype}")
    if k.shape != v.shape:
        raise SattnError(f"K has shape {k.shape} but V has shape {v.shape}; they must match")
    h, s, d = q.shape
    hk, sk, dk = k.shape
    if (s, d) != (sk, dk):
        raise SattnError(f"Q has shape {q.shape} but K has {k.shape}: S and D must match")
    if hk == 0 or h % hk:
        raise SattnError(f"Q has {h} heads, not a multiple of K's {hk} heads")
    if h // hk != gqa_group_size:
        raise SattnError(
            f"Q has {h} heads and K/V {hk}: that is groups of {h // hk}, "
            f"but gqa_group_size={gqa_group_size}"
        )
    if s == 0 or d == 0:
        raise SattnError(f"Q has an empty shape {q.shape}")
    return Shape(heads=h, seq_len=s, head_dim=d, group=gqa_group_size)


def load_qkv(
    q_path: str | Path, k_path: str | Path, v_path: str | Path, gqa_group_size: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load and cross-check Q, K, V from ``.npy`` files."""
    q = load_npy(q_path, "--q")
    k = load_npy(k_path, "--k")
    v = load_npy(v_path, "--v")
    check_qkv(q, k, v, gqa_group_size)
    return q, k, v


def check_unbatched(params: AttentionParams) -> None:
    """Refuse a batch B > 1 (rank-4 operand types): the op lowers, but runs take one
    [H, S, D] problem until batched execution lands."""
    if params.batch is not None and params.batch > 1:
        raise SattnError(
            f"batch {params.batch} (the B of [B,H,S,D] operands) is not supported by the runs "
            "yet: batched execution is not implemented; run one batch element (B = 1) per op"
        )


def resolve_inputs(
    params: AttentionParams,
    q: np.ndarray | str | Path | None = None,
    k: np.ndarray | str | Path | None = None,
    v: np.ndarray | str | Path | None = None,
    seed: int = 0,
) -> tuple[Shape, np.ndarray, np.ndarray, np.ndarray]:
    """The shape and tensors of one run: the given arrays (or ``.npy`` paths) if any, else the
    synthetic data of the shape the attributes give (seq_len/head_dim/num_heads, else
    tile_S/tile_D and gqa_group_size). Q, K and V are given all together or not at all.
    A batch B > 1 is refused (:func:`check_unbatched`)."""
    check_unbatched(params)
    given = [x is not None for x in (q, k, v)]
    if any(given) and not all(given):
        missing = ", ".join(n for n, g in zip(("--q", "--k", "--v"), given) if not g)
        raise SattnError(f"give Q, K and V together: missing {missing}")
    if all(given):
        arrs = []
        for name, x in (("--q", q), ("--k", k), ("--v", v)):
            arrs.append(load_npy(x, name) if isinstance(x, (str, Path)) else x)
        shape = check_qkv(*arrs, params.gqa_group_size)
        return (shape, *arrs)
    shape = params.shape()
    return (shape, *synthetic(shape, seed))
