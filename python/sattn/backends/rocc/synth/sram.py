"""The memory macros: an area model and a liberty file with an assumed timing.

Area model (a model, not a measurement): a 6T SRAM bit cell of 5.59 um^2, the cell Intel
reported for its 180 nm logic technology (S. Yang et al., "A high performance 180 nm generation
logic technology", IEDM 1998), and an array efficiency of 0.6 (bit cells take 60 % of a macro;
decoders, sense amplifiers and I/O the rest; an assumption). That is 9.3 um^2 per bit, about
0.107 Mbit/mm^2. It prices single-port bits: the RTL's scratchpads have 32 write and 16 read
ports on one array, which no SRAM compiler offers; as 32 single-port banks ("bank e mod 32",
as the RTL comment describes) the bits are the same and the periphery per bit grows, so the
figure is a lower bound for that organisation.

Timing (an assumption): read data valid ``access_ns`` after the clock for a clocked read port,
after the address for an asynchronous one; every input set up ``setup_ns`` before the clock.
"""

from __future__ import annotations

from sattn.backends.rocc.synth.netlist import Macro

BITCELL_UM2 = 5.59
ARRAY_EFFICIENCY = 0.6
UM2_PER_BIT = BITCELL_UM2 / ARRAY_EFFICIENCY


def area_model_um2(bits: int) -> float:
    """Modelled macro area of ``bits`` single-port SRAM bits, in um^2."""
    return bits * UM2_PER_BIT


def _scalar(name: str, value: float) -> str:
    return f'{name} (scalar) {{ values ("{value:g}"); }}'


#: Constant drivers: the OSU library has no tie cells, and OpenSTA's Verilog reader takes no
#: `assign` to a concatenation, so constants are driven by these zero-area cells.
TIE_HI, TIE_LO = "sattn_tiehi", "sattn_tielo"


def liberty(macros: list[Macro], access_ns: float, setup_ns: float) -> str:
    """A liberty library: the tie cells and one cell per macro (area model, assumed timing)."""
    out = [
        "/* sattn tie cells and memory macros: area from the bits model, timing assumed (sram.py) */",
        "library (sattn_macros) {",
        "  delay_model : table_lookup;",
        '  time_unit : "1ns";',
        '  voltage_unit : "1V";',
        '  current_unit : "1mA";',
        '  pulling_resistance_unit : "1kohm";',
        '  leakage_power_unit : "1nW";',
        "  capacitive_load_unit (1,pf);",
        "  nom_process : 1.0;",
        "  nom_voltage : 1.8;",
        "  nom_temperature : 25.0;",
        "  slew_lower_threshold_pct_rise : 20.0;",
        "  slew_upper_threshold_pct_rise : 80.0;",
        "  slew_lower_threshold_pct_fall : 20.0;",
        "  slew_upper_threshold_pct_fall : 80.0;",
        "  input_threshold_pct_rise : 50.0;",
        "  input_threshold_pct_fall : 50.0;",
        "  output_threshold_pct_rise : 50.0;",
        "  output_threshold_pct_fall : 50.0;",
    ]
    widths = sorted({w for m in macros for _, _, w in m.pins() if w > 1})
    for w in widths:
        out.append(f"  type (bus{w}) {{ base_type : array; data_type : bit; bit_width : {w}; "
                   f"bit_from : {w - 1}; bit_to : 0; downto : true; }}")
    setup = [
        "timing () {", 'related_pin : "CLK";', "timing_type : setup_rising;",
        _scalar("rise_constraint", setup_ns), _scalar("fall_constraint", setup_ns), "}",
    ]
    for name, value in ((TIE_HI, 1), (TIE_LO, 0)):
        out.append(f"  cell ({name}) {{ area : 0; dont_use : true; "
                   f'pin (Y) {{ direction : output; function : "{value}"; }} }}')
    for m in sorted(macros, key=lambda m: m.cell_type):
        out.append(f"  cell ({m.cell_type}) {{")
        out.append(f"    area : {area_model_um2(m.bits):.1f};")
        out.append("    dont_use : true;")
        for name, direction, w in m.pins():
            head = f"pin ({name}) {{" if w == 1 else f"bus ({name}) {{ bus_type : bus{w};"
            body = [f"direction : {direction};"]
            if name == "CLK":
                body += ["clock : true;", "capacitance : 0.01;"]
            elif direction == "input":
                body.append("capacitance : 0.01;")
                port = int(name[1:name.index("_")])
                if name.startswith("W") or m.read_sync[port]:
                    body += setup
            else:
                port = int(name[1:name.index("_")])
                if m.read_sync[port]:
                    arc = ['related_pin : "CLK";', "timing_type : rising_edge;"]
                else:
                    arc = [f'related_bus_pins : "R{port}_ADDR";', "timing_type : combinational;"]
                body += ["timing () {", *arc,
                         _scalar("cell_rise", access_ns), _scalar("cell_fall", access_ns),
                         _scalar("rise_transition", 0.2), _scalar("fall_transition", 0.2), "}"]
            out.append("    " + head + " " + " ".join(body) + " }")
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"
