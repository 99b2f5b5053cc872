"""The synthesis flow's fan-out buffering step (sattn.backends.rocc.synth.buffering) on small
hand-made Yosys JSON modules: every load keeps its driver (through the buffer tree), no net
drives more than the limit, and the clock, nets without a driver and small nets are untouched."""

from __future__ import annotations

from sattn.backends.rocc.synth.buffering import TREE_BUF, buffer_module

DIRS = {"DFFPOSX1": {"D": "input", "CLK": "clock", "Q": "output"},
        "INVX1": {"A": "input", "Y": "output"}}


def _module(loads: int, in_port_loads: int = 0) -> dict:
    """A flip-flop (clk = bit 2, q = bit 3) driving ``loads`` inverters and the output port
    ``o``; the input port ``i`` (bit 4) drives ``in_port_loads`` inverters."""
    cells = {"ff": {"type": "DFFPOSX1", "connections": {"D": [4], "CLK": [2], "Q": [3]}}}
    nxt = 10
    for k in range(loads):
        cells[f"inv{k}"] = {"type": "INVX1", "connections": {"A": [3], "Y": [nxt]}}
        nxt += 1
    for k in range(in_port_loads):
        cells[f"pinv{k}"] = {"type": "INVX1", "connections": {"A": [4], "Y": [nxt]}}
        nxt += 1
    # the clock drives as many flip-flops as the data net drives inverters
    for k in range(loads):
        cells[f"ff{k}"] = {"type": "DFFPOSX1", "connections": {"D": [nxt + k], "CLK": [2],
                                                               "Q": [nxt + 1000 + k]}}
    ports = {"clk": {"direction": "input", "bits": [2]},
             "i": {"direction": "input", "bits": [4]},
             "o": {"direction": "output", "bits": [3]}}
    return {"ports": ports, "cells": cells}


def _driver_map(mod: dict) -> tuple[dict[int, str], dict[int, list[tuple[str, str]]]]:
    driver: dict[int, str] = {}
    loads: dict[int, list[tuple[str, str]]] = {}
    for name, cell in mod["cells"].items():
        dirs = cell.get("port_directions") or DIRS[cell["type"]]
        for pin, bits in cell["connections"].items():
            for b in bits:
                if dirs[pin] == "output":
                    driver[b] = name
                else:
                    loads.setdefault(b, []).append((name, pin))
    for pname, port in mod["ports"].items():
        for b in port["bits"]:
            if port["direction"] == "output":
                loads.setdefault(b, []).append(("", pname))
            else:
                driver[b] = "<" + pname
    return driver, loads


def _root(mod: dict, driver: dict[int, str], bit: int) -> tuple[str, int]:
    """Walk up through tree buffers to the original driver (its name, the number of buffers)."""
    depth = 0
    while True:
        d = driver[bit]
        cell = mod["cells"].get(d)
        if cell is None or cell["type"] != TREE_BUF[0]:
            return d, depth
        bit = cell["connections"][TREE_BUF[1]][0]
        depth += 1


def test_high_fanout_register_and_port_get_trees_within_the_limit():
    mod = _module(loads=300, in_port_loads=40)
    added = buffer_module(mod, DIRS, max_fanout=12)
    driver, loads = _driver_map(mod)
    # every net now has at most 12 loads, except the ideal clock (301 flip-flops, untouched)
    for bit, ls in loads.items():
        assert len(ls) <= 12 or bit == 2, (bit, len(ls))
    assert len(loads[2]) == 301
    # every inverter and the output port still see the flip-flop; the port's inverters the port
    for k in range(300):
        assert _root(mod, driver, mod["cells"][f"inv{k}"]["connections"]["A"][0])[0] == "ff"
    assert _root(mod, driver, mod["ports"]["o"]["bits"][0])[0] == "ff"
    for k in range(40):
        assert _root(mod, driver, mod["cells"][f"pinv{k}"]["connections"]["A"][0])[0] == "<i"
    # 301 loads: 26 leaf buffers, 3 above them, 1 root; 40 loads: 4 leaves (<= 12 at the port)
    assert added == 26 + 3 + 4
    depths = {_root(mod, driver, mod["cells"][f"inv{k}"]["connections"]["A"][0])[1]
              for k in range(300)}
    assert depths == {2}


def test_small_nets_are_left_alone():
    mod = _module(loads=11)
    before = {n: {p: list(b) for p, b in c["connections"].items()}
              for n, c in mod["cells"].items()}
    assert buffer_module(mod, DIRS, max_fanout=12) == 0
    assert {n: c["connections"] for n, c in mod["cells"].items()} == before
