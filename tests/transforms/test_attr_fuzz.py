"""Hypothesis over attribute dictionaries: any input lowers through both pipelines, or is
rejected with one clear SattnError line -- never another exception."""

from __future__ import annotations

from io import StringIO

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sattn.errors import SattnError
from sattn.frontend import attention_ops, parse_module, run_pipeline
from sattn.ir.schema import SCHEMA, SPECS
from xdsl.printer import Printer

# Values of every kind for every attribute, biased towards the valid range but small enough
# (S <= 96, D <= 64) that data-dependent selection on synthetic data stays fast.
INT_ATTRS = [a.name for a in SCHEMA if a.kind == "int"]
SMALL = {"tile_S": (1, 96), "seq_len": (1, 96), "tile_D": (1, 64), "head_dim": (1, 64),
         "num_heads": (1, 8), "window_size": (-2, 40), "block_size": (0, 40)}


def _int_value(name: str):
    spec = next(a for a in SCHEMA if a.name == name)
    lo, hi = SMALL.get(name, (-2, 12))
    if name in ("wrap", "causal"):
        hi = 1
    valid_lo = 0 if spec.check is None or spec.check(0) is None else 1
    valid = st.integers(max(lo, valid_lo), max(hi, valid_lo))
    return st.one_of(valid, valid, valid, st.integers(lo, hi)).map(lambda v: f"{v} : i64")


def _value(name: str):
    spec = next(a for a in SCHEMA if a.name == name)
    wrong = st.sampled_from(['"text"', "1.5 : f64", "unit", "[1, 2]", "3 : i8"])
    if spec.kind == "int":
        good = _int_value(name)
    elif spec.kind == "float":
        good = st.one_of(
            st.floats(-0.5, 1.5).map(lambda v: f"{v!r} : f64"),
            st.integers(-1, 2).map(lambda v: f"{v} : i64"),
            st.just("0x7FC00000 : f32"),  # NaN
        )
    else:
        choices = {"precision": ["fp32", "bf16", "i8", "i4", "fp8"], "spec": [*SPECS, "bogus"],
                   "force_spec": [*SPECS, "bogus"]}[name]
        good = st.sampled_from(choices).map(lambda v: f'"{v}"')
    return st.one_of(*[good] * 8, wrong)


schema_names = st.sampled_from([a.name for a in SCHEMA])
EXTRA = {"windw_size": "2 : i64", "tiled": "2 : i64", "buffer_layout": '"colmajor"'}


def _complete(d: dict[str, str], pair_nm: bool, extra: str | None) -> dict[str, str]:
    """Usually keep N:M pairs together; sometimes add a misspelt or ill-typed pass attribute."""
    d = dict(d)
    if pair_nm and ("nm_n" in d) != ("nm_m" in d):
        d.setdefault("nm_n", "2 : i64")
        d.setdefault("nm_m", "4 : i64")
    if extra is not None:
        d[extra] = EXTRA[extra]
    return d


attr_dicts = st.dictionaries(schema_names, st.none(), max_size=6).flatmap(
    lambda d: st.fixed_dictionaries({k: _value(k) for k in d})
).flatmap(
    lambda d: st.builds(_complete, st.just(d), st.sampled_from([True] * 9 + [False]),
                        st.sampled_from([None] * 12 + list(EXTRA)))
)


def _text(attrs: dict[str, str]) -> str:
    body = ", ".join(k if v == "unit" else f"{k} = {v}" for k, v in attrs.items())
    return f'"sattn.sparse_attention"() {{{body}}} : () -> ()\n'


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attr_dicts, st.sampled_from(["sattn-lower-rvv", "sattn-lower-rocc"]),
       st.sampled_from([{}, {"SATTN_PREFER_BSR": "1"}, {"SATTN_DISABLE_BSR": "1", "SATTN_DISABLE_SW": "1"}]))
def test_any_attribute_dict_lowers_or_fails_cleanly(attrs, pipeline, env) -> None:
    import os

    text = _text(attrs)
    # exactly the hints of this example: none inherited from the process
    old = {k: v for k, v in os.environ.items() if k.startswith("SATTN_") and k != "SATTN_REQUIRE_TOOLS"}
    for k in old:
        del os.environ[k]
    os.environ.update(env)
    try:
        try:
            m = parse_module(text, "fuzz.mlir")
            run_pipeline(m, pipeline)
        except SattnError as e:
            msg = str(e)
            assert msg and "\n" not in msg and "Traceback" not in msg
            assert msg.startswith("fuzz.mlir:1:"), msg
            event("rejected")
            return
        (call,) = attention_ops(m)
        p = call.params()
        event(f"lowered: {p.spec}")
        assert p.spec in SPECS
        for name in attrs:
            assert name in call.attributes  # every source attribute survives lowering
        assert call.attributes.keys() >= {"bufferized", "buffer_layout", "m_rows", "head_dim_d", "s_tokens"}
        # the output is valid input again
        out = StringIO()
        Printer(stream=out).print_op(m)
        parse_module(out.getvalue(), "again.mlir")
    finally:
        for k in env:
            os.environ.pop(k, None)
        os.environ.update(old)
