"""What ``make demo`` runs (``scripts/sattn_demo.py [--mlir F]``): the whole pipeline on the
spec's example, through the public API only.

1. selection, with the selector's explanation;  2. lowering for RVV and for RoCC (the lowered
ops printed);  3. the NumPy reference;  4. the RVV kernels under qemu;  5. the RoCC RTL under
Verilator, each output tensor compared with the reference;  6. a short table;  7. what the
product is for: a decode step against a 16k-token KV cache (``examples/decode.mlir``,
:mod:`sattn.tools.demo_decode`), the selected sparse pattern against dense on every backend.
Exit status 1 if a backend disagrees with the reference.
"""

from __future__ import annotations

from pathlib import Path

from sattn import api
from sattn.cli.common import add_strict_attributes, guarded
from sattn.cli.parser import ArgumentParser
from sattn.diagnostics import once
from sattn.tools import demo_decode
from sattn.tools.profile import table

DEFAULT_MLIR = Path(__file__).resolve().parents[3] / "examples" / "input.mlir"


def _section(title: str) -> None:
    print(f"\n=== {title}")


@guarded
@once()  # the demo parses its input six times; each warning is printed once
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="sattn_demo.py", description=__doc__.split("\n")[0])
    parser.add_argument("--mlir", default=str(DEFAULT_MLIR), help="input .mlir (default: examples/input.mlir)")
    parser.add_argument("--skip-rocc", action="store_true", help="leave out the Verilator runs")
    parser.add_argument("--decode-mlir", default=str(demo_decode.DEFAULT_DECODE_MLIR),
                        help="the decode step of section 7 (default: examples/decode.mlir)")
    parser.add_argument("--skip-decode", action="store_true", help="leave out section 7")
    add_strict_attributes(parser)
    args = parser.parse_args(argv)
    path = Path(args.mlir)
    strict = args.strict_attributes

    _section(f"1. selection ({path})")
    source = api.compile(path, pipeline=None, strict_attributes=strict)
    print(str(source))
    for p in source.params:
        print(api.select(p.replace(spec=None)).explain())

    _section("2. lowering")
    for pipeline in ("sattn-lower-rvv", "sattn-lower-rocc"):
        print(f"-- {pipeline}")
        print(str(api.compile(path, pipeline, strict_attributes=strict)))

    _section("3. NumPy reference")
    ref = api.run(path, backend="reference", strict_attributes=strict)
    print(ref)

    _section("4. RVV kernels under qemu-riscv64")
    rvv = api.run_rvv_from_mlir(path, strict_attributes=strict)
    print(rvv)
    results = {"reference": ref, "rvv": rvv}
    if not args.skip_rocc:
        _section("5. RoCC accelerator RTL under Verilator")
        rocc = api.compile_and_sim(path, strict_attributes=strict)
        print(rocc)
        results["rocc"] = rocc

    _section("6. summary (each output tensor against the NumPy reference)")
    print(api.spec_header({b: r.spec for b, r in results.items()}))
    cols = list(results)
    rows = [
        ("spec", [r.spec for r in results.values()]),
        ("checksum", [f"{r.checksum:.6f}" for r in results.values()]),
        ("density", [r.density for r in results.values()]),
        ("rel_err_vs_ref", [r.verdict.rel_err if r.verdict else None for r in results.values()]),
        ("agreement", [("PASS" if r.verdict.passed else "FAIL") if r.verdict else None
                       for r in results.values()]),
        ("instructions (qemu)", [r.counters.get("instructions") for r in results.values()]),
        ("vector instr (qemu)", [r.counters.get("vector") for r in results.values()]),
        ("cycles (RTL)", [r.counters.get("total_cycles") for r in results.values()]),
        ("util_mac (RTL)", [r.counters.get("util_mac") for r in results.values()]),
        ("dma_bytes (RTL)", [r.counters.get("dma_bytes") for r in results.values()]),
    ]
    print(table(rows, cols))
    ok = all(r.verdict.passed for r in results.values() if r.verdict)
    if not args.skip_decode:
        _section("7. a long-context decode step: the selected sparse pattern against dense")
        backends = tuple(b for b in ("reference", "rvv", "rocc") if b != "rocc" or not args.skip_rocc)
        ok &= demo_decode.section(Path(args.decode_mlir), backends).passed
    return 0 if ok else 1
