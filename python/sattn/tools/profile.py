"""``sattn profile`` / ``scripts/sattn_profile.py``: run an MLIR op on one backend or on all of
them with the same inputs, and print their counters as one table.

    sattn_profile.py --mlir F --backend rvv|sim|reference|all
                     [--prefer-bsr|--prefer-sw] [--l1-bytes N] [--use-hw-probe] [--autotune]

``sim`` is the RoCC RTL under Verilator (``rocc`` is accepted too). ``all`` runs the reference,
rvv and rocc side by side and adds their agreement with the reference (max abs and relative
error, PASS/FAIL). One spec runs on every backend: ``--spec S``, else the one the selector
picks for the first hardware target named (rvv for ``all``); ``--per-target`` lets each backend
run its own target's pick instead, and the table's header then says that the specs differ
(each backend is still compared with the reference run of its own spec). Counters are the
backends' measured numbers (qemu instruction counts, RTL cycle and byte counts); a modelled
number keeps its ``model_`` prefix. The exit status is 1 when a backend disagrees with the
reference. Everything runs through :mod:`sattn.api`.
"""

from __future__ import annotations

import argparse
from typing import Any

from sattn import api
from sattn.cli.common import add_input_arguments, add_strict_attributes, guarded, pairs_note
from sattn.cli.parser import ArgumentParser
from sattn.errors import SattnError
from sattn.ir.schema import SPECS

BACKEND_CHOICES = ("rvv", "sim", "rocc", "reference", "all")
ALL = ("reference", "rvv", "rocc")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mlir", required=True, help="input .mlir file")
    parser.add_argument("--backend", default="all", choices=BACKEND_CHOICES,
                        help="rvv (qemu), sim/rocc (Verilator), reference, or all side by side")
    prefer = parser.add_mutually_exclusive_group()
    prefer.add_argument("--prefer-bsr", action="store_true", help="hint the selector towards block specs")
    prefer.add_argument("--prefer-sw", action="store_true", help="hint the selector towards sliding_window")
    parser.add_argument("--l1-bytes", type=int, default=None, help="L1 size for the cache-fit heuristic")
    parser.add_argument("--use-hw-probe", action="store_true",
                        help="read the RoCC capability bits and disable what the hardware lacks")
    parser.add_argument("--autotune", action="store_true",
                        help="rvv: measure the kernel configurations and run the best")
    parser.add_argument("--vlen", type=int, default=None, help="rvv: VLEN in bits (128, 256, 512)")
    add_strict_attributes(parser)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--spec", default=None, choices=SPECS,
                       help="run this spec on every backend (default: the one selected for the "
                            "first hardware target named)")
    which.add_argument("--per-target", action="store_true",
                       help="let every backend run its own target's selection (the header says "
                            "when the specs differ)")
    add_input_arguments(parser)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == 0:
            return "0"
        return f"{value:.6g}" if 1e-3 <= abs(value) < 1e7 else f"{value:.3e}"
    return str(value)


def table(rows: list[tuple[str, list[Any]]], columns: list[str]) -> str:
    """Plain aligned text table: a header of ``columns`` and one line per ``(name, values)``."""
    cells = [["metric", *columns]] + [[name, *map(_fmt, vals)] for name, vals in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def profile_rows(comparison) -> tuple[list[str], list[tuple[str, list[Any]]]]:
    """(columns, rows) of a :class:`sattn.api.Comparison`: identity, agreement, then every
    counter any backend reported (in first-seen order) and the wall times."""
    cols = list(comparison.results)
    res = [comparison.results[b] for b in cols]
    ver = [comparison.verdicts.get(b) for b in cols]
    rows: list[tuple[str, list[Any]]] = [
        ("spec", [r.spec for r in res]),
        ("precision", [getattr(r.params, "precision", None) for r in res]),
        ("checksum", [f"{r.checksum:.6f}" for r in res]),
        ("density", [r.density for r in res]),
    ]
    if any(ver):
        rows += [
            ("max_abs_err_vs_ref", [v.max_abs_err if v else None for v in ver]),
            ("rel_err_vs_ref", [v.rel_err if v else None for v in ver]),
            ("tolerance", [v.tolerance if v else None for v in ver]),
            ("agreement", [("PASS" if v.passed else "FAIL") if v else None for v in ver]),
        ]
    keys: dict[str, None] = {}
    for r in res:
        keys.update(dict.fromkeys(r.counters))
    rows += [(key, [r.counters.get(key) for r in res]) for key in keys]
    tkeys: dict[str, None] = {}
    for r in res:
        tkeys.update(dict.fromkeys(r.timings))
    rows += [(f"wall_{key}", [r.timings.get(key) for r in res]) for key in tkeys]
    return cols, rows


def execute(args: argparse.Namespace) -> int:
    if args.autotune and args.backend in ("sim", "rocc", "reference"):
        raise SattnError(f"--autotune tunes the RVV kernels; it does not apply to --backend {args.backend}")
    backends = ALL if args.backend == "all" else (args.backend,)
    rvv_opts = {"vlen": args.vlen} if args.vlen else {}
    if args.vlen and "rvv" not in backends:
        raise SattnError(f"--vlen applies to the rvv backend, not --backend {args.backend}")
    comp = api.compare(
        args.mlir, backends, prefer_bsr=args.prefer_bsr, prefer_sw=args.prefer_sw,
        l1_bytes=args.l1_bytes, use_hw_probe=args.use_hw_probe, autotune=args.autotune,
        q=args.q, k=args.k, v=args.v, seed=args.seed, op=args.op, options={"rvv": rvv_opts},
        strict_attributes=args.strict_attributes,
        spec=args.spec, per_target=args.per_target,
    )
    for name, result in comp.results.items():
        print(f"== {name}")
        print(result)
    cols, rows = profile_rows(comp)
    print(f"== profile: {args.mlir}")
    print(comp.header)
    print(table(rows, cols))
    for note in dict.fromkeys(pairs_note(r.spec) for r in comp.results.values()):
        if note:
            print(f"note: density and selected_pairs: {note}")
    return 0 if comp.passed else 1


@guarded
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="sattn_profile.py", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return execute(parser.parse_args(argv))
