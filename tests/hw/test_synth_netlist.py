"""The synthesis flow's merging of per-slot write cells into one masked SRAM write port
(sattn.backends.rocc.synth.netlist.merge_masked_writes), on hand-made Yosys JSON cells."""

from __future__ import annotations

from sattn.backends.rocc.synth.netlist import merge_masked_writes


def _wr(port: int, addr: list, en: list, data: list, clk: int = 2) -> dict:
    return {"type": "$memwr_v2", "parameters": {"MEMID": "\\mem", "PORTID": port},
            "connections": {"CLK": [clk], "ADDR": addr, "EN": en, "DATA": data}}


def test_disjoint_slots_become_one_port_without_gates():
    # a 2-slot word of 2 bits per slot: slot 0 (bits 0-1) and slot 1 (bits 2-3), x outside
    w0 = _wr(0, [10, 11], [20, 21, 22, 23], [30, 31, "x", "x"])
    w1 = _wr(1, [10, 11], [40, 41, 42, 43], ["x", "x", 52, 53])
    mod = {"ports": {}, "cells": {"w0": w0, "w1": w1}}
    cells = dict(mod["cells"])
    merge_masked_writes(mod, cells)
    assert list(cells) == ["w0"] and list(mod["cells"]) == ["w0"]
    c = mod["cells"]["w0"]["connections"]
    assert c["EN"] == [20, 21, 42, 43]
    assert c["DATA"] == [30, 31, 52, 53]


def test_overlapping_writes_get_gates_and_other_addresses_stay_ports():
    w0 = _wr(0, [10, 11], [20, 21], [30, 31])
    w1 = _wr(1, [10, 11], [40, 41], [50, 51])          # same address, same bits: gates
    w2 = _wr(2, [12, 13], [60, 61], [70, 71])          # another address: its own port
    w3 = _wr(3, [10, 11], [80, 81], [90, 91], clk=3)   # another clock: its own port
    mod = {"ports": {}, "cells": {"w0": w0, "w1": w1, "w2": w2, "w3": w3}}
    cells = dict(mod["cells"])
    merge_masked_writes(mod, cells)
    assert sorted(cells) == ["w0", "w2", "w3"]
    gates = {n: c for n, c in mod["cells"].items() if not c["type"].startswith("$memwr")}
    assert sorted(c["type"] for c in gates.values()) == ["$and", "$and", "$not", "$or", "$or"]
    c = mod["cells"]["w0"]["connections"]
    drivers = {tuple(g["connections"]["Y"]): g for g in gates.values()}
    en = drivers[tuple(c["EN"])]
    assert en["type"] == "$or" and en["connections"]["A"] == [20, 21]
    assert en["connections"]["B"] == [40, 41]
    data = drivers[tuple(c["DATA"])]
    assert data["type"] == "$or"
    new = drivers[tuple(data["connections"]["B"])]  # the later cell's data where it writes
    assert new["type"] == "$and" and new["connections"] == {"A": [50, 51], "B": [40, 41],
                                                            "Y": new["connections"]["Y"]}
    assert mod["cells"]["w2"]["connections"]["EN"] == [60, 61]
