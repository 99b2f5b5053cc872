"""``.safetensors`` inputs: our reader and writer agree with the ``safetensors`` library both
ways, every malformed file is one error line naming it, and rank-4 ``[1, H, S, D]`` tensors
(files or arrays) are the same problem as their ``[H, S, D]`` form."""

from __future__ import annotations

import json
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from conftest import need_module
from sattn.errors import SattnError
from sattn.ir.schema import params_from_dict
from sattn.reference import tensorfile
from sattn.reference.data import load_inputs, load_tensor, resolve_inputs

RNG = np.random.default_rng(7)
Q = RNG.standard_normal((1, 4, 12, 8)).astype(np.float32)
K = RNG.standard_normal((1, 2, 12, 8)).astype(np.float32)
V = RNG.standard_normal((1, 2, 12, 8)).astype(np.float32)
PARAMS = params_from_dict({"spec": "dense", "seq_len": 12, "head_dim": 8, "num_heads": 4,
                           "gqa_group_size": 2})


def _raw(path: Path, header: dict, data: bytes = b"", pad: int = 0) -> Path:
    text = json.dumps(header).encode() + b" " * pad
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)
    return path


def test_our_files_read_by_the_library(tmp_path: Path) -> None:
    """What we write, the safetensors library reads: names, dtypes, shapes, values, metadata."""
    st = need_module("safetensors.numpy")
    from safetensors import safe_open

    tensors = {"q": Q, "k": K, "v": V.astype(ml_dtypes.bfloat16), "h": V[0].astype(np.float16),
               "d": V.astype(np.float64)}
    f = tmp_path / "ours.safetensors"
    tensorfile.save(f, tensors, {"layer": "3", "model_type": "llama"})
    got = st.load_file(f)
    assert set(got) == set(tensors)
    for name, want in tensors.items():
        assert got[name].dtype == want.dtype and np.array_equal(got[name], want), name
    with safe_open(f, framework="numpy") as h:
        assert h.metadata() == {"layer": "3", "model_type": "llama"}
    assert (8 + int.from_bytes(f.read_bytes()[:8], "little")) % 8 == 0  # aligned buffer


def test_library_files_read_by_us(tmp_path: Path) -> None:
    """What the library writes, we read: every float dtype, converted to float32 exactly where
    float32 holds the value (f16, bf16) and rounded where it does not (f64)."""
    st = need_module("safetensors.numpy")
    f = tmp_path / "lib.safetensors"
    d64 = Q.astype(np.float64) + 1e-12
    st.save_file({"q": Q, "k16": K.astype(np.float16), "kbf": K.astype(ml_dtypes.bfloat16),
                  "d": d64}, f, metadata={"x": "y"})
    assert tensorfile.read_header(f, "t").metadata == {"x": "y"}
    assert np.array_equal(load_tensor(f"{f}:q", "--q"), Q)
    assert np.array_equal(load_tensor(f"{f}:k16", "--k"), K.astype(np.float16).astype(np.float32))
    assert np.array_equal(load_tensor(f"{f}:kbf", "--k"),
                          K.astype(ml_dtypes.bfloat16).astype(np.float32))
    assert np.array_equal(load_tensor(f"{f}:d", "--q"), d64.astype(np.float32))
    assert load_tensor(f, "--q", "q").dtype == np.float32  # the default name


def test_split_name() -> None:
    assert tensorfile.split_name("a/b.safetensors:q") == (Path("a/b.safetensors"), "q")
    assert tensorfile.split_name("a/b.safetensors") == (Path("a/b.safetensors"), None)
    assert tensorfile.split_name("c:/x.npy") == (Path("c:/x.npy"), None)
    assert tensorfile.split_name("d:e/b.safetensors:k") == (Path("d:e/b.safetensors"), "k")
    assert tensorfile.split_name("x.npy:q") == (Path("x.npy:q"), None)


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = tensorfile.encode({"q": Q})
    n = int.from_bytes(good[:8], "little")
    f32 = {"dtype": "F32", "shape": [1, 4, 12, 8], "data_offsets": [0, Q.nbytes]}
    cases = {
        "short": (tmp_path / "short.safetensors", "shorter than its 8-byte header length"),
        "huge_header": (tmp_path / "huge.safetensors", "exceeds the file"),
        "not_json": (tmp_path / "nj.safetensors", "its header is not UTF-8 JSON"),
        "not_object": (tmp_path / "list.safetensors", "its header is not a JSON object"),
        "truncated": (tmp_path / "cut.safetensors", "truncated or corrupt"),
        "bad_dtype": (_raw(tmp_path / "dt.safetensors", {"q": {**f32, "dtype": "F33"}},
                           Q.tobytes()), "unknown dtype 'F33'"),
        "span": (_raw(tmp_path / "span.safetensors",
                      {"q": {**f32, "data_offsets": [0, Q.nbytes - 4]}}, Q.tobytes()),
                 "needs 1536 bytes but its data_offsets [0, 1532] span 1532"),
        "overlap": (_raw(tmp_path / "ov.safetensors",
                         {"q": f32, "k": {**f32, "data_offsets": [4, Q.nbytes + 4]}},
                         Q.tobytes() + b"\0" * 4), "overlap"),
        "int": (tensorfile_int(tmp_path), "has dtype I32, expected a float"),
        "rank2": (tmp_path / "r2.safetensors", "expected 3 dimensions [heads, S, D] or 4"),
        "nan": (tmp_path / "nan.safetensors", "NaN and infinite values are not accepted"),
        "dir": (tmp_path / "d.safetensors", "is a directory, expected a .safetensors file"),
        "missing": (tmp_path / "none.safetensors", "file not found"),
        "no_name": (tmp_path / "two.safetensors", "has no tensor 'q'; name one as"),
    }
    cases["short"][0].write_bytes(b"\1\0\0")
    cases["huge_header"][0].write_bytes((10**9).to_bytes(8, "little") + b"{}")
    cases["not_json"][0].write_bytes((4).to_bytes(8, "little") + b"\xff{]x")
    _raw(cases["not_object"][0], [1, 2])  # type: ignore[arg-type]
    cases["truncated"][0].write_bytes(good[: 8 + n + 100])
    tensorfile.save(cases["rank2"][0], {"q": Q[0, 0]})
    bad = Q.copy()
    bad[0, 1, 2, 3] = np.nan
    tensorfile.save(cases["nan"][0], {"q": bad})
    cases["dir"][0].mkdir()
    tensorfile.save(cases["no_name"][0], {"a": Q, "b": K})
    return cases


def tensorfile_int(tmp_path: Path) -> Path:
    data = np.zeros((1, 4, 12, 8), "<i4")
    return _raw(tmp_path / "int.safetensors",
                {"q": {"dtype": "I32", "shape": list(data.shape), "data_offsets": [0, data.nbytes]}},
                data.tobytes())


def test_bad_files_are_one_line(tmp_path: Path) -> None:
    """Each malformed file is a SattnError naming the flag, the file and what is wrong, before
    any tensor data is read."""
    for case, (path, needle) in _bad_files(tmp_path).items():
        with pytest.raises(SattnError) as err:
            load_tensor(path, "--q", "q")
        msg = str(err.value)
        assert msg.startswith("--q: ") and str(path) in msg and needle in msg, (case, msg)
        assert "\n" not in msg


def test_unnamed_tensor_lists_the_names(tmp_path: Path) -> None:
    f = tmp_path / "two.safetensors"
    tensorfile.save(f, {"a": Q, "b": K})
    with pytest.raises(SattnError, match=r"has no tensor 'z' \(it holds: a, b\)"):
        load_tensor(f"{f}:z", "--k")
    assert np.array_equal(load_tensor(f"{f}:b", "--k"), K)
    single = tmp_path / "one.safetensors"
    tensorfile.save(single, {"anything": V})
    assert np.array_equal(load_tensor(single, "--v", "v"), V)  # the only tensor


def test_rank4_is_the_rank3_problem(tmp_path: Path) -> None:
    """[1, H, S, D] arrays, .npy files and a whole .safetensors file (--qkv) load as the same
    [H, S, D] tensors, and the result remembers Q's rank."""
    f = tmp_path / "qkv.safetensors"
    tensorfile.save(f, {"q": Q, "k": K, "v": V})
    for name, a in (("q", Q), ("k", K), ("v", V)):
        np.save(tmp_path / f"{name}.npy", a)
    forms = {
        "arrays4": (Q, K, V),
        "npy4": tuple(str(tmp_path / f"{n}.npy") for n in "qkv"),
        "named": tuple(f"{f}:{n}" for n in "qkv"),
        "qkv": (str(f), None, None),
        "mixed": (Q, K[0], str(tmp_path / "v.npy")),
    }
    for form, (q, k, v) in forms.items():
        got = load_inputs(PARAMS, q, k, v)
        assert got.rank4, form
        assert [x.shape for x in (got.q, got.k, got.v)] == [Q.shape[1:], K.shape[1:], V.shape[1:]]
        assert all(np.array_equal(a, b[0]) for a, b in zip((got.q, got.k, got.v), (Q, K, V)))
        assert got.shaped(got.q).shape == Q.shape
    three = load_inputs(PARAMS, Q[0], K[0], V[0])
    assert not three.rank4 and three.shaped(three.q).shape == Q.shape[1:]
    assert resolve_inputs(PARAMS, str(f))[0] == three.shape


def test_batch_mismatch_and_rank_refused(tmp_path: Path) -> None:
    q2 = np.concatenate([Q, Q])
    with pytest.raises(SattnError, match=r"^Q, K and V disagree on the batch B: Q \(2, "):
        load_inputs(PARAMS, q2, K, V)
    f = tmp_path / "b2.safetensors"
    tensorfile.save(f, {"q": Q, "k": np.concatenate([K, K]), "v": V})
    with pytest.raises(SattnError, match=r"disagree on the batch B: Q \(1, .*K \(2, "):
        load_inputs(PARAMS, str(f))
    # a batch in every tensor is a batched run: the tensors keep rank 4
    tensorfile.save(f, {"q": q2, "k": np.concatenate([K, K]), "v": np.concatenate([V, V])})
    got = load_inputs(PARAMS, str(f))
    assert got.rank4 and got.shape.batch == 2 and got.q.shape == q2.shape
    with pytest.raises(SattnError, match=r"Q must have rank 3 \[heads, S, D\] or 4"):
        load_inputs(PARAMS, Q[None], K, V)
    with pytest.raises(SattnError, match=r"give Q, K and V together: missing --k, --v"):
        load_inputs(PARAMS, f"{f}:q")
    with pytest.raises(SattnError, match=r"--qkv: .*no tensor 'v'"):
        tensorfile.save(tmp_path / "qk.safetensors", {"q": Q, "k": K})
        load_inputs(PARAMS, str(tmp_path / "qk.safetensors"))
