"""Fan-out buffering of a mapped unit: every net driving more than ``max_fanout`` loads gets a
balanced tree of buffers.

ABC buffers the nets inside its logic network (``buffer`` in the mapping script), but Yosys hands
ABC only the combinational logic between flip-flops: flip-flop outputs, unit input ports and
the pins of submodule instances lie outside that network, so a register that drives thousands of
loads (a FIFO read pointer, a counter selecting a multiplexer) stays one weak driver with
nanoseconds of load delay. A placement tool would insert buffers there; this step does what
that buffering does, without placement: the loads of such a net are split into groups of at most
``max_fanout``, each group driven by a buffer, and the buffers' inputs are grouped again until
the driver sees at most ``max_fanout`` loads. The clock is left alone (the timing uses an ideal
clock). Works on Yosys's JSON netlist of one unit; the cell directions come from the JSON
(submodules, macros) or the liberty files (standard cells).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

#: the buffer of the tree: (cell, input pin, output pin); BUFX4 drives ~20 inputs in ~0.3 ns
TREE_BUF = ("BUFX4", "A", "Y")
#: the largest number of loads a driver keeps
MAX_FANOUT = 12

_PIN = re.compile(r"\b(?:pin|bus)\s*\(\s*\"?(\w+)\"?\s*\)\s*\{\s*(?:bus_type\s*:\s*\w+\s*;\s*)?"
                  r"direction\s*:\s*(\w+)\s*;(\s*(?:clock\s*:\s*true)?)", re.MULTILINE)
_CELL = re.compile(r"^\s*cell\s*\(\s*\"?(\w+)\"?\s*\)", re.MULTILINE)


def liberty_directions(paths: list[Path]) -> dict[str, dict[str, str]]:
    """cell -> pin -> 'input' / 'output' / 'clock' (an input with ``clock : true``), read from
    liberty files."""
    out: dict[str, dict[str, str]] = {}
    for path in paths:
        text = Path(path).read_text(errors="replace")
        cells = list(_CELL.finditer(text))
        for i, c in enumerate(cells):
            body = text[c.end():cells[i + 1].start() if i + 1 < len(cells) else len(text)]
            out[c.group(1)] = {m.group(1): "clock" if m.group(3).strip() else m.group(2)
                               for m in _PIN.finditer(body)}
    return out


def buffer_module(mod: dict, directions: dict[str, dict[str, str]],
                  max_fanout: int = MAX_FANOUT) -> int:
    """Insert buffer trees into ``mod`` (a Yosys JSON module, changed in place); the number of
    buffers added."""
    cells = mod["cells"]
    # every sink (cell, pin, index) and the driven bits; the module's output ports are sinks too
    sinks: dict[int, list[tuple[str, str, int]]] = {}
    driven: set[int] = set()
    clock_bits: set[int] = set()
    for name, cell in cells.items():
        lib = directions.get(cell["type"], {})
        dirs = cell.get("port_directions") or lib
        for pin, bits in cell["connections"].items():
            d = dirs.get(pin)
            if d is None:
                continue
            clock = lib.get(pin) == "clock" or pin in ("clk", "CLK")  # the ideal clock
            for i, b in enumerate(bits):
                if not isinstance(b, int):
                    continue
                if d == "output":
                    driven.add(b)
                else:
                    sinks.setdefault(b, []).append((name, pin, i))
                    if clock:
                        clock_bits.add(b)
    for pname, port in mod["ports"].items():
        for i, b in enumerate(port["bits"]):
            if not isinstance(b, int):
                continue
            if port["direction"] == "output":
                sinks.setdefault(b, []).append(("", pname, i))
            else:
                driven.add(b)
    next_bit = 1 + max([b for c in cells.values() for bits in c["connections"].values()
                        for b in bits if isinstance(b, int)]
                       + [b for p in mod["ports"].values() for b in p["bits"] if isinstance(b, int)]
                       + [1])
    buf, a_pin, y_pin = TREE_BUF
    added = 0
    for bit in sorted(sinks):
        loads = sinks[bit]
        if len(loads) <= max_fanout or bit in clock_bits or bit not in driven:
            continue
        level = loads
        while len(level) > max_fanout:
            groups = [level[i:i + max_fanout] for i in range(0, len(level), max_fanout)]
            parents = []
            for group in groups:
                out_bit = next_bit
                next_bit += 1
                for cname, pin, i in group:
                    if cname == "":
                        mod["ports"][pin]["bits"][i] = out_bit
                    else:
                        cells[cname]["connections"][pin][i] = out_bit
                bname = f"fanout_buf_{bit}_{added}"
                cells[bname] = {"hide_name": 1, "type": buf, "parameters": {}, "attributes": {},
                                "port_directions": {a_pin: "input", y_pin: "output"},
                                "connections": {a_pin: [bit], y_pin: [out_bit]}}
                parents.append((bname, a_pin, 0))
                added += 1
            level = parents
        # a driving output port stays on the original bit: the module's port bits were renamed
        # above only where the port is a sink, and a sink port gets its bit from a buffer
    return added


def buffer_netlist(src: Path, dst: Path, unit: str, libs: list[Path],
                   max_fanout: int = MAX_FANOUT) -> int:
    """Buffer ``unit`` of the JSON netlist ``src`` into ``dst``; the number of buffers added."""
    design = json.loads(Path(src).read_text())
    directions = liberty_directions(libs)
    for name, m in design["modules"].items():  # submodules and macros (black boxes)
        directions.setdefault(name, {p: v["direction"] for p, v in m["ports"].items()})
    n = buffer_module(design["modules"][unit], directions, max_fanout)
    Path(dst).write_text(json.dumps(design))
    return n
