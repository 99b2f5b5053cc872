"""The elaborated design (Yosys JSON): unit names, memories cut out as macros, one file per unit.

The slang front end names a parametrised module after its instance (``sattn_fifo$rocc_sattn.
u_tokens``); each gets a plain unit name (``sattn_fifo_tokens``). A memory of at least
``macro_min_bits`` bits is replaced, before any Yosys memory pass sees it, by one black-box cell
with one pin group per RTL port (``W<i>_EN/ADDR/DATA``, ``R<i>_ADDR/DATA`` and, for clocked
read ports, ``R<i>_EN``) and a single ``CLK``: that is how the K/V scratchpads (16 read and 32
write ports on one array) are reported as memories instead of being mapped to flip-flops, which
does not finish. Registers the RTL places after an asynchronous read stay in the logic.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from sattn.errors import SattnError

_BLACKBOX = {"blackbox": "00000000000000000000000000000001"}
_RD = ("$memrd", "$memrd_v2")
_WR = ("$memwr", "$memwr_v2")
_INIT = ("$meminit", "$meminit_v2")


@dataclass(frozen=True)
class Macro:
    """One memory cut out of the logic as a black-box macro."""

    cell_type: str  # the black-box (and liberty) cell name
    unit: str  # the unit that holds it
    memory: str  # the array's name in the RTL
    words: int
    width: int
    read_sync: tuple[bool, ...]  # per read port: clocked (True) or asynchronous
    write_ports: int

    @property
    def bits(self) -> int:
        return self.words * self.width

    def pins(self) -> list[tuple[str, str, int]]:
        """(name, direction, width) of every pin, in a fixed order."""
        aw = max(1, (self.words - 1).bit_length())
        out: list[tuple[str, str, int]] = [("CLK", "input", 1)]
        for i in range(self.write_ports):
            out += [(f"W{i}_EN", "input", self.width), (f"W{i}_ADDR", "input", aw),
                    (f"W{i}_DATA", "input", self.width)]
        for i, sync in enumerate(self.read_sync):
            if sync:
                out.append((f"R{i}_EN", "input", 1))
            out += [(f"R{i}_ADDR", "input", aw), (f"R{i}_DATA", "output", self.width)]
        return out


def load(path: Path) -> dict:
    """The JSON design written by the front end, its modules renamed to unit names."""
    design = json.loads(Path(path).read_text())
    names = unit_names(design["modules"])
    modules = {names[k]: m for k, m in design["modules"].items()}
    for m in modules.values():
        for c in m.get("cells", {}).values():
            c["type"] = names.get(c["type"], c["type"])
    design["modules"] = modules
    return design


def unit_names(modules: dict) -> dict[str, str]:
    """Old -> unit name: the module name, plus the instance's name when it has several."""
    by_base: dict[str, list[tuple[str, str]]] = {}
    for name in modules:
        base, _, path = name.partition("$")
        by_base.setdefault(base, []).append((name, path))
    out: dict[str, str] = {}
    for base, items in by_base.items():
        for name, path in items:
            leaf = path.rsplit(".", 1)[-1].removeprefix("u_")
            out[name] = base if len(items) == 1 else f"{base}_{leaf}"
    if len(set(out.values())) != len(out):
        raise SattnError(f"synth: elaborated module names collide: {sorted(out.values())}")
    return out


def _int(v) -> int:
    return int(v, 2) if isinstance(v, str) else int(v)


def _memid_matches(param: str, memid: str) -> bool:
    return param == memid or param == "\\" + memid


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", s).strip("_")


def _is_const_zero(bits: list) -> bool:
    return all(b in ("0", "x") for b in bits)


def cut_macros(design: dict, min_bits: int) -> list[Macro]:
    """Replace every memory of >= ``min_bits`` bits without initial contents by a macro cell."""
    macros: list[Macro] = []
    for unit, mod in list(design["modules"].items()):
        for memid, info in list(mod.get("memories", {}).items()):
            words, width = int(info["size"]), int(info["width"])
            cells = {n: c for n, c in mod["cells"].items()
                     if c["type"] in (*_RD, *_WR, *_INIT)
                     and _memid_matches(c["parameters"]["MEMID"], memid)}
            if words * width < min_bits or any(c["type"] in _INIT for c in cells.values()):
                continue
            merge_masked_writes(mod, cells)
            macro = _macro_cell(unit, memid, words, width, cells)
            for n in cells:
                del mod["cells"][n]
            del mod["memories"][memid]
            mod["cells"][f"ram_{_safe(memid)}"] = macro["cell"]
            design["modules"][macro["info"].cell_type] = macro["module"]
            macros.append(macro["info"])
    return macros


def _next_bit(mod: dict) -> int:
    bits = [b for c in mod["cells"].values() for v in c["connections"].values() for b in v
            if isinstance(b, int)]
    bits += [b for p in mod["ports"].values() for b in p["bits"] if isinstance(b, int)]
    bits += [b for n in mod.get("netnames", {}).values() for b in n["bits"] if isinstance(b, int)]
    return max(bits, default=1) + 1


def _gate(mod: dict, kind: str, ins: dict[str, list], width: int, nxt: list[int]) -> list:
    """Add a bitwise Yosys cell ($and, $or, $not) of ``width`` bits; its output bits."""
    y = list(range(nxt[0], nxt[0] + width))
    nxt[0] += width
    params = {"A_SIGNED": 0, "A_WIDTH": width, "Y_WIDTH": width}
    if "B" in ins:
        params.update({"B_SIGNED": 0, "B_WIDTH": width})
    mod["cells"][f"$sattn_wmerge${y[0]}"] = {
        "hide_name": 1, "type": kind, "parameters": params, "attributes": {},
        "port_directions": {**{k: "input" for k in ins}, "Y": "output"},
        "connections": {**ins, "Y": y}}
    return y


def merge_masked_writes(mod: dict, cells: dict[str, dict]) -> None:
    """One write port per clock and address, as an SRAM's bit-masked write port.

    The RTL writes a word's element slots in separate statements (`mem[a][w*32 +: 32] <= ...`
    under a per-slot enable); the front end emits one write cell per statement, each with a full
    width enable and undefined (x) data outside its slot. Write cells of one memory with the
    same clock and address are merged (in ``mod`` and ``cells``, changed in place) into the
    first: where only one cell has defined data, that cell's enable and data (writing x is
    undefined, so not writing is a valid choice for the others); where several have, enable =
    OR of the enables and data = the later cell's where its enable is set (the RTL's priority:
    the later statement wins)."""
    writes = sorted(((n, c) for n, c in cells.items() if c["type"] in _WR),
                    key=lambda nc: _int(nc[1]["parameters"].get("PORTID", "0")))
    nxt = [_next_bit(mod)]
    keep: dict[tuple, tuple[str, dict]] = {}
    for name, c in writes:
        key = (tuple(map(str, c["connections"]["CLK"])), tuple(map(str, c["connections"]["ADDR"])))
        if key not in keep:
            keep[key] = (name, c)
            continue
        base = keep[key][1]["connections"]
        en, data = c["connections"]["EN"], c["connections"]["DATA"]
        both = [i for i, (a, b) in enumerate(zip(base["DATA"], data)) if a != "x" and b != "x"]
        if both:  # both cells may write these bits: gates
            w = len(en)
            nen = _gate(mod, "$not", {"A": en}, w, nxt)
            old = _gate(mod, "$and", {"A": base["DATA"], "B": nen}, w, nxt)
            new = _gate(mod, "$and", {"A": data, "B": en}, w, nxt)
            base["DATA"] = _gate(mod, "$or", {"A": old, "B": new}, w, nxt)
            base["EN"] = _gate(mod, "$or", {"A": base["EN"], "B": en}, w, nxt)
        else:  # disjoint slots: a bit whose data is undefined (x) is one the cell never writes
            base["EN"] = [b if d != "x" else a for a, b, d in zip(base["EN"], en, data)]
            base["DATA"] = [b if b != "x" else a for a, b in zip(base["DATA"], data)]
        del mod["cells"][name]
        del cells[name]


def _macro_cell(unit: str, memid: str, words: int, width: int, cells: dict) -> dict:
    where = f"memory '{memid}' of {unit}"
    reads = sorted((c for c in cells.values() if c["type"] in _RD),
                   key=lambda c: _int(c["parameters"].get("PORTID", "0")))
    writes = sorted((c for c in cells.values() if c["type"] in _WR),
                    key=lambda c: _int(c["parameters"].get("PORTID", "0")))
    clk = None
    conns: dict[str, list] = {}
    dirs: dict[str, str] = {}

    def clock_of(c: dict) -> None:
        nonlocal clk
        bits = c["connections"]["CLK"]
        if clk is not None and bits != clk:
            raise SattnError(f"synth: {where} has ports on different clocks")
        if _int(c["parameters"].get("CLK_POLARITY", "1")) != 1:
            raise SattnError(f"synth: {where} has a falling-edge port")
        clk = bits

    for i, w in enumerate(writes):
        if not _int(w["parameters"]["CLK_ENABLE"]):
            raise SattnError(f"synth: {where} has an unclocked write port")
        clock_of(w)
        for p in ("EN", "ADDR", "DATA"):
            conns[f"W{i}_{p}"], dirs[f"W{i}_{p}"] = w["connections"][p], "input"
    sync: list[bool] = []
    for i, r in enumerate(reads):
        s = bool(_int(r["parameters"]["CLK_ENABLE"]))
        sync.append(s)
        for p in ("ARST", "SRST"):
            if p in r["connections"] and not _is_const_zero(r["connections"][p]):
                raise SattnError(f"synth: {where}: read port {i} has a reset ({p})")
        if s:
            clock_of(r)
            conns[f"R{i}_EN"], dirs[f"R{i}_EN"] = r["connections"]["EN"], "input"
        conns[f"R{i}_ADDR"], dirs[f"R{i}_ADDR"] = r["connections"]["ADDR"], "input"
        conns[f"R{i}_DATA"], dirs[f"R{i}_DATA"] = r["connections"]["DATA"], "output"
    info = Macro(cell_type=f"sattn_ram_{_safe(unit.removeprefix('sattn_'))}_{_safe(memid)}",
                 unit=unit, memory=memid, words=words, width=width, read_sync=tuple(sync),
                 write_ports=len(writes))
    aw = max(1, (words - 1).bit_length())
    for name, _, n in info.pins():  # the RTL's address may be narrower or wider than the array
        if name.endswith("_ADDR"):
            a = conns[name]
            conns[name] = (a + ["0"] * aw)[:aw]
        elif name == "CLK":
            conns[name] = clk if clk is not None else ["0"]
        if len(conns[name]) != n:
            raise SattnError(f"synth: {where}: pin {name} has {len(conns[name])} bits, not {n}")
    dirs["CLK"] = "input"
    cell = {"hide_name": 0, "type": info.cell_type, "parameters": {}, "attributes": {},
            "port_directions": dirs, "connections": conns}
    bit = 2
    ports = {}
    for name, direction, n in info.pins():
        ports[name] = {"direction": direction, "bits": list(range(bit, bit + n))}
        bit += n
    module = {"attributes": dict(_BLACKBOX), "ports": ports, "cells": {}, "netnames": {}}
    return {"cell": cell, "module": module, "info": info}


def children(design: dict, unit: str) -> list[str]:
    """The module types (units and macros) instantiated in ``unit``."""
    mods = design["modules"]
    return sorted({c["type"] for c in mods[unit]["cells"].values() if c["type"] in mods})


def write_unit(design: dict, unit: str, path: Path) -> None:
    """``unit`` alone, every module it instantiates as a black box (ports only)."""
    mods = design["modules"]
    out = {unit: mods[unit]}
    for child in children(design, unit):
        out[child] = {"attributes": dict(_BLACKBOX), "ports": mods[child]["ports"],
                      "cells": {}, "netnames": {}}
    Path(path).write_text(json.dumps({"creator": "sattn synth", "modules": out}))
