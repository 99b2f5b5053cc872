"""The RoCC accelerator's ISA: funct codes, register map, status, capability bits, version.

This module is THE source of truth (as Gemmini generates its params header): the SystemVerilog
package ``hw/rtl/sattn_isa_pkg.sv`` and the C++ testbench header ``hw/sim/sattn_isa.h`` are
generated from it by ``python -m sattn.hw.isa --write``; ``--check`` fails when they are stale
(a test runs it). It also carries the two small ROMs of the datapath (2^(i/64) for the exp unit,
1/(1+(i+0.5)/64) for the reciprocal seed) so the RTL holds no hand-typed constants.

Instruction format (RoCC custom-0, R-type): ``funct7 | rs2 | rs1 | xd xs1 xs2 | rd | opcode``.
See ``docs/rocc.md`` for the table of instructions.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from sattn.ir import precisions as _precisions
from sattn.toolrun import atomic_write

#: Hardware version: major.minor in the low 16 bits (0x0100 = 1.0; 1.1 added PARTIAL; 1.2
#: added HEAD_DIM_V; 1.3 added the NSA scoring path and top-n unit, NSA_* registers; 1.4 added
#: bsr's on-chip block selection: NSA_CTRL's BSR/FIRST/LAST/RAW bits, NSA_LIMIT, the block-score
#: RAM, signed top-n keys and multi-row SELECT jobs).
VERSION = 0x0104
#: First line of a command-stream file the testbench replays (:mod:`sattn.hw.program`).
PROGRAM_MAGIC = "sattn-rocc-program 1"


@dataclass(frozen=True)
class Field:
    """One named code with its documentation."""

    name: str
    value: int
    doc: str


#: funct7 codes of the custom-0 instructions.
FUNCTS: tuple[Field, ...] = (
    Field("SET_REG", 0, "rs1 = register id, rs2 = value: write a descriptor register"),
    Field("GET_REG", 1, "rs1 = register id; rd <- value (descriptor, id/caps or counter)"),
    Field("LOAD_ROWPTR", 2, "append 4 row-pointer entries: rs1 = {e1,e0}, rs2 = {e3,e2} (32 bit each)"),
    Field("LOAD_RUNS", 3, "append 4 index runs: rs1 = {r1,r0}, rs2 = {r3,r2}; run = {len[31:16], start[15:0]}"),
    Field("IDX_RESET", 4, "reset the index-RAM write pointers and clear a sticky error"),
    Field("START", 5, "run the loaded job; rs1[0] = invalidate the K/V scratchpad first"),
    Field("STATUS", 6, "rd <- status word {error[15:8], done[1], busy[0]}"),
    Field("CLEAR_COUNTERS", 7, "zero every performance counter"),
)

#: Descriptor registers (SET_REG / GET_REG).
REGS: tuple[Field, ...] = (
    Field("PRECISION", 0x00, "0 fp32, 1 bf16, 2 i8, 3 i4 (element format of Q/K/V in memory)"),
    Field("HEAD_DIM", 0x01, "D: elements per Q/K row (and V/OUT row when HEAD_DIM_V is 0; 1..DMAX; even for i4)"),
    Field("SEQ_LEN", 0x02, "S: query rows per head"),
    Field("NUM_KEYS", 0x03, "rows of K/V per KV head (S tokens or L landmarks; <= KV_ROWS)"),
    Field("GROUP", 0x04, "query heads sharing this KV head (GQA group size)"),
    Field("ROW_BASE", 0x05, "first query row of this job"),
    Field("ROW_COUNT", 0x06, "query rows of this job (the row-pointer table has ROW_COUNT+1 entries)"),
    Field("N_RUNS", 0x07, "index runs loaded for this job"),
    Field("Q_BASE", 0x08, "byte address of Q[first head of the group, 0, 0]"),
    Field("K_BASE", 0x09, "byte address of K[kv head, 0, 0]"),
    Field("V_BASE", 0x0A, "byte address of V[kv head, 0, 0] (V rows are Dv wide)"),
    Field("O_BASE", 0x0B, "byte address of OUT[first head of the group, 0, 0] (fp32, Dv wide)"),
    Field("Q_HSTRIDE", 0x0C, "bytes between consecutive query heads of Q"),
    Field("O_HSTRIDE", 0x0D, "bytes between consecutive query heads of OUT"),
    Field("SCORE_SCALE", 0x0E, "fp32 bits multiplying q.k: 1/sqrt(D) (times scale_q*scale_k for i8/i4)"),
    Field("OUT_SCALE", 0x0F, "fp32 bits multiplying the normalised P.V (scale_v for i8/i4, else 1.0)"),
    Field("PARTIAL", 0x10, "bit 0: each row writes the partial record [o (Dv fp32), m, l] (Dv + 2 words) "
                           "at O_BASE + h*O_HSTRIDE + r*(Dv+2)*4, r the row within the job"),
    Field("HEAD_DIM_V", 0x11, "Dv: elements per V and OUT row (1..DMAX; even for i4); 0 (reset) means "
                               "Dv = D"),
    Field("NSA_CTRL", 0x12, "bit 0 SCORE: the job's rows score their keys (compressed keys, key c = block c) "
                             "and, when it has drained, the scoring path sums the group's probabilities into "
                             "block scores and the top-n unit writes NSA_N runs into run RAM entries 0..NSA_N-1; "
                             "bit 1 SELECT: the job's rows read those runs (row pointers not used; row r reads "
                             "keys j <= NSA_POS + r) and place keys in scratchpad slots in run order; "
                             "bit 2 BSR: bsr's block selection (a SCORE job of GROUP x ROW_COUNT <= 256 softmax rows; "
                             "candidates blocks 0..NUM_KEYS-1, the block holding NSA_POS forced with +inf, "
                             "the scores summed over the rows added into the block-score RAM); "
                             "bit 3 FIRST: the accumulation starts from 0; bit 4 LAST: the accumulated scores "
                             "go to the top-n unit, which writes the kept blocks' runs (start c*b, len "
                             "min(b, NSA_LIMIT - c*b)); bit 5 RAW: the term is the scaled dot, not exp(s-m)/l; "
                             "bit 6 DIRECT (bsr): a SCORE job's compressed key c is job key NSA_LIMIT + c "
                             "(candidates NUM_KEYS - NSA_LIMIT), a SELECT job's key j takes scratchpad row j "
                             "(keys < NUM_KEYS <= KV_ROWS, no slots)"),
    Field("NSA_POS", 0x13, "p: the position of the SCORE job's query row (its block p // b is forced, blocks "
                            "after it are no candidates; the block holding p is cut at p)"),
    Field("NSA_BLOCK", 0x14, "b: tokens per selection block (= per compressed key) of a SCORE job"),
    Field("NSA_N", 0x15, "n: blocks the top-n unit keeps (1..TOPN_MAX)"),
    Field("NSA_LIMIT", 0x16, "a BSR SCORE job's key count Skv (<= 65536): the last block's run ends there"),
    # read-only identification
    Field("VERSION", 0x20, "hardware version (read-only)"),
    Field("CAPS", 0x21, "capability bits (read-only)"),
    Field("LANES", 0x22, "MAC lanes: QK lanes + PV lanes (read-only)"),
    Field("DMAX", 0x23, "largest head dim (read-only)"),
    Field("KV_ROWS", 0x24, "K/V scratchpad rows: largest NUM_KEYS (read-only)"),
    Field("RUN_DEPTH", 0x25, "index-run RAM entries (read-only)"),
    Field("ROWPTR_DEPTH", 0x26, "row-pointer RAM entries (read-only)"),
    Field("SCORE_DEPTH", 0x27, "score-buffer entries: GROUP x NUM_KEYS of a SCORE job (read-only)"),
    Field("TOPN_MAX", 0x28, "largest NSA_N (read-only)"),
    # performance counters (read-only, 64 bit, zeroed by CLEAR_COUNTERS)
    Field("CYC_TOTAL", 0x40, "cycles since CLEAR_COUNTERS (everything: commands, loads, jobs)"),
    Field("CYC_BUSY", 0x41, "cycles a job was running"),
    Field("CYC_MAC", 0x42, "cycles with at least one MAC lane busy"),
    Field("LANE_CYCLES", 0x43, "sum over cycles of busy MAC lanes (QK + PV)"),
    Field("CYC_GATHER", 0x44, "cycles no MAC lane was busy while the gather/DMA had work (exposed gather)"),
    Field("CYC_GATHER_ACTIVE", 0x45, "cycles the gather unit was walking the index table"),
    Field("DMA_Q", 0x46, "bytes of Q read at the memory port"),
    Field("DMA_K", 0x47, "bytes of K and V read at the memory port"),
    Field("DMA_OUT", 0x48, "bytes written at the memory port"),
    Field("PAIRS", 0x49, "(query, key) pairs computed"),
    Field("ROWS_DONE", 0x4A, "output rows written"),
    Field("CYC_STALL_KV", 0x4B, "cycles a MAC stage waited for a K or V row"),
    Field("DMA_REQS", 0x4C, "read requests issued"),
    Field("CYC_SELECT", 0x4D, "cycles the NSA scoring path and top-n unit were busy (after a SCORE job drained)"),
)

#: Error codes in STATUS[15:8] (sticky until IDX_RESET).
ERRORS: tuple[Field, ...] = (
    Field("NONE", 0, "no error"),
    Field("BAD_FUNCT", 1, "unknown funct7"),
    Field("BUSY", 2, "command other than STATUS/GET_REG while a job runs"),
    Field("BAD_REG", 3, "unknown register id, or a write to a read-only register"),
    Field("PRECISION", 4, "precision code not supported by this hardware (see CAPS)"),
    Field("SHAPE", 5, "HEAD_DIM, HEAD_DIM_V, SEQ_LEN, NUM_KEYS, GROUP or the row range out of the hardware's range"),
    Field("ROWPTR", 6, "row pointers not loaded, not ascending, or beyond N_RUNS"),
    Field("INDEX", 7, "an index run selects a key >= NUM_KEYS"),
    Field("OVERFLOW", 8, "more index runs or row pointers loaded than the RAMs hold"),
    Field("ALIGN", 9, "i4 needs an even HEAD_DIM and HEAD_DIM_V (two codes per byte)"),
)

#: Capability bits of the CAPS register.
CAPS: tuple[Field, ...] = (
    Field("FP32", 0, "fp32 Q/K/V through the FP32 multiply/add units"),
    Field("BF16", 1, "bf16 Q/K/V (widened exactly to fp32 on fill)"),
    Field("I8", 2, "int8 codes, int32 accumulation in the QK lanes"),
    Field("I4", 3, "int4 codes (two per byte, low nibble first)"),
    Field("BSR", 4, "block-sparse tables (bsr, block_local_global) executed from the index RAM"),
    Field("SW", 5, "sliding-window tables (contiguous runs)"),
    Field("GQA", 6, "GROUP query heads share one K/V fetch"),
    Field("COMP", 7, "compression-block selection (host-scored) executed from the index RAM"),
    Field("HOST_SELECT", 8, "data-dependent patterns (top-k, N:M, LSH) selected on the host"),
    Field("LANDMARK", 9, "compressed key space (landmarks) via NUM_KEYS"),
    Field("CAUSAL", 10, "causal masking through the index table"),
    Field("NSA", 11, "NSA selection on chip: compressed-key scoring path and top-n unit (NSA_* registers)"),
    Field("BSR_SELECT", 12, "bsr's block selection on chip (block top-k and compression scoring: NSA_CTRL "
                            "BSR/FIRST/LAST/RAW, NSA_LIMIT, the block-score RAM)"),
)

#: Precision codes of the PRECISION register (the precision table, :mod:`sattn.ir.precisions`).
PRECISION_CODES: dict[str, int] = dict(_precisions.CODES)
#: Bits per element of each precision in memory.
PRECISION_BITS: dict[str, int] = dict(_precisions.BITS)


@dataclass(frozen=True)
class HwParams:
    """Build-time parameters of the one simulator binary (also readable through GET_REG)."""

    lanes_qk: int = 16  # QK dot-product lanes (elements of q.k per cycle)
    lanes_pv: int = 16  # P.V accumulation lanes (elements of the output row per cycle)
    dmax: int = 128  # largest head dim
    kv_rows: int = 2048  # K/V scratchpad rows per KV head
    run_depth: int = 16384  # index runs the run RAM holds
    rowptr_depth: int = 2052  # row pointers the row-pointer RAM holds (a multiple of 4)
    q_slots: int = 4  # Q row buffers (prefetch depth in rows)
    bus_bytes: int = 16  # memory beat width
    token_fifo: int = 64  # keys the gather unit may run ahead of the MAC stages
    outstanding: int = 64  # memory read requests in flight
    spad_group: int = 32  # scratchpad elements per bank row (one i4 beat; flat element a in bank row a // group)
    kv_banks: int = 32  # K/V scratchpad banks (1R1W SRAM, group / kv_banks elements per word)
    q_banks: int = 2  # Q row-buffer banks (1R1W SRAM, group / q_banks elements per word)
    score_depth: int = 16384  # NSA score buffer: q.k dots of a SCORE job (GROUP x NUM_KEYS)
    topn_max: int = 32  # largest n of the top-n unit

    @property
    def lanes(self) -> int:
        return self.lanes_qk + self.lanes_pv


HW = HwParams()

#: Every capability this hardware has (all precisions and patterns).
CAPS_VALUE = sum(1 << c.value for c in CAPS)


def cap_bit(name: str) -> int:
    """The mask of capability ``name``."""
    return 1 << {c.name: c.value for c in CAPS}[name]


def error_name(code: int) -> str:
    """The name of an error code (or 'UNKNOWN(n)')."""
    for e in ERRORS:
        if e.value == code:
            return e.name
    return f"UNKNOWN({code})"


# ---- ROMs (fixed-point constants the datapath uses) ----
EXP2_ROM_BITS = 6  # 2^(i/64), Q2.30


def exp2_rom() -> list[int]:
    """round(2^(i/64) * 2^30) for i in 0..63: the exp unit's table."""
    n = 1 << EXP2_ROM_BITS
    return [round(2.0 ** (i / n) * (1 << 30)) for i in range(n)]


def recip_rom() -> list[int]:
    """round(2^31 / (1 + (i + 0.5)/64)) for i in 0..63: the reciprocal unit's Newton seed."""
    return [round((1 << 31) / (1.0 + (i + 0.5) / 64.0)) for i in range(64)]


LOG2E_Q31 = round(math.log2(math.e) * (1 << 31))
LN2_Q32 = round(math.log(2.0) * (1 << 32))


# ---- generators ----
REPO = Path(__file__).resolve().parents[3]
SV_PATH = REPO / "hw" / "rtl" / "sattn_isa_pkg.sv"
H_PATH = REPO / "hw" / "sim" / "sattn_isa.h"
BANNER = "generated by `python -m sattn.hw.isa --write` from python/sattn/hw/isa.py; do not edit"


def _hw_items(hw: HwParams = HW) -> list[tuple[str, int]]:
    return [
        ("LANES_QK", hw.lanes_qk), ("LANES_PV", hw.lanes_pv), ("LANES", hw.lanes),
        ("DMAX", hw.dmax), ("KV_ROWS", hw.kv_rows), ("RUN_DEPTH", hw.run_depth),
        ("ROWPTR_DEPTH", hw.rowptr_depth), ("Q_SLOTS", hw.q_slots), ("BUS_BYTES", hw.bus_bytes),
        ("TOKEN_FIFO", hw.token_fifo), ("OUTSTANDING", hw.outstanding),
        ("SPAD_GROUP", hw.spad_group), ("KV_BANKS", hw.kv_banks), ("Q_BANKS", hw.q_banks),
        ("NSA_SCORE_DEPTH", hw.score_depth), ("NSA_TOPN_MAX", hw.topn_max),
    ]


def render_sv(hw: HwParams = HW) -> str:
    """The SystemVerilog package text (for ``hw``; the checked-in file is the default ``HW``).

    Synthesis renders it with other parameters into its scratch directory: that is how lane
    count, DMAX and the RAM depths are overridden without touching the simulated design."""
    out = [f"// {BANNER}", "// verilator lint_off UNUSEDPARAM", "package sattn_isa_pkg;", ""]
    out.append(f"  localparam logic [31:0] VERSION = 32'h{VERSION:04x};")
    out.append(f"  localparam logic [31:0] CAPS_VALUE = 32'h{CAPS_VALUE:08x};")
    out.append("")
    out.append("  // hardware parameters")
    for name, v in _hw_items(hw):
        out.append(f"  localparam int {name} = {v};")
    out.append("")
    out.append("  // funct7 codes")
    for f in FUNCTS:
        out.append(f"  localparam logic [6:0] F_{f.name} = 7'd{f.value};  // {f.doc}")
    out.append("")
    out.append("  // register ids")
    for r in REGS:
        out.append(f"  localparam logic [7:0] R_{r.name} = 8'h{r.value:02x};  // {r.doc}")
    out.append("")
    out.append("  // error codes")
    for e in ERRORS:
        out.append(f"  localparam logic [7:0] E_{e.name} = 8'd{e.value};  // {e.doc}")
    out.append("")
    out.append("  // capability bits")
    for c in CAPS:
        out.append(f"  localparam int CAP_{c.name} = {c.value};  // {c.doc}")
    out.append("")
    out.append("  // precision codes")
    for name, code in PRECISION_CODES.items():
        out.append(f"  localparam logic [2:0] P_{name.upper()} = 3'd{code};")
    out.append("")
    out.append("  // fixed-point constants of the exp and reciprocal units")
    out.append(f"  localparam logic [31:0] LOG2E_Q31 = 32'd{LOG2E_Q31};")
    out.append(f"  localparam logic [31:0] LN2_Q32 = 32'd{LN2_Q32};")
    for name, rom in (("exp2_rom", exp2_rom()), ("recip_rom", recip_rom())):
        # a case ROM (a function, so non-inlined datapath functions may call it)
        out.append(f"  function automatic logic [31:0] {name}(input logic [5:0] i);")
        out.append("    case (i)")
        for i, v in enumerate(rom):
            out.append(f"      6'd{i}: return 32'd{v};")
        out.append("      default: return 32'd0;")
        out.append("    endcase")
        out.append("  endfunction")
    out.append("")
    out.append("endpackage")
    out.append("// verilator lint_on UNUSEDPARAM")
    return "\n".join(out) + "\n"


def render_h() -> str:
    """The C++ header text."""
    out = [f"// {BANNER}", "#pragma once", "#include <cstdint>", "", "namespace sattn_isa {", ""]
    out.append(f"constexpr uint32_t VERSION = 0x{VERSION:04x};")
    out.append(f"constexpr uint32_t CAPS_VALUE = 0x{CAPS_VALUE:08x};")
    out.append(f'constexpr const char *PROGRAM_MAGIC = "{PROGRAM_MAGIC}";')
    for name, v in _hw_items():
        out.append(f"constexpr uint32_t {name} = {v};")
    out.append("")
    for prefix, table in (("F_", FUNCTS), ("R_", REGS), ("E_", ERRORS)):
        for f in table:
            out.append(f"constexpr uint32_t {prefix}{f.name} = 0x{f.value:02x};  // {f.doc}")
        out.append("")
    for c in CAPS:
        out.append(f"constexpr uint32_t CAP_{c.name} = 1u << {c.value};  // {c.doc}")
    out.append("")
    for name, code in PRECISION_CODES.items():
        out.append(f"constexpr uint32_t P_{name.upper()} = {code};")
    out.append("")
    out.append("inline const char *error_name(uint32_t code) {")
    out.append("  switch (code) {")
    for e in ERRORS:
        out.append(f'    case {e.value}: return "{e.name}";')
    out.append('    default: return "UNKNOWN";')
    out.append("  }")
    out.append("}")
    out.append("")
    out.append("inline const char *error_doc(uint32_t code) {")
    out.append("  switch (code) {")
    for e in ERRORS:
        out.append(f'    case {e.value}: return "{e.doc}";')
    out.append('    default: return "unknown error";')
    out.append("  }")
    out.append("}")
    out.append("")
    out.append("}  // namespace sattn_isa")
    return "\n".join(out) + "\n"


def generated() -> dict[Path, str]:
    """Every generated file and its current text."""
    return {SV_PATH: render_sv(), H_PATH: render_h()}


def stale() -> list[Path]:
    """Generated files whose content differs from what this module renders."""
    return [p for p, text in generated().items() if not p.exists() or p.read_text() != text]


def _show(p: Path) -> str:
    try:
        return str(p.relative_to(REPO))
    except ValueError:
        return str(p)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sattn.hw.isa", description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", action="store_true", help="(re)write the generated files")
    g.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale")
    args = ap.parse_args(argv)
    if args.write:
        for path, text in generated().items():
            if not path.exists() or path.read_text() != text:
                atomic_write(path, text)
                print(f"wrote {_show(path)}")
        return 0
    bad = stale()
    for p in bad:
        print(f"stale: {_show(p)} (run python -m sattn.hw.isa --write)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
