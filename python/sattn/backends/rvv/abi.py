"""The RVV kernel binary's ABI, defined once: the input file's header slots, the kernel modes,
the precision codes and the file layout. :func:`c_header` generates
``kernels/sattn_rvv_abi.h`` from it (``python -m sattn.backends.rvv.abi --write``); a test
checks that the file in the tree is current, as for the RoCC ISA (:mod:`sattn.hw.isa`).

Input file: ``int64 hdr[HEADER_INTS]`` | ``double fhdr[FHEADER_DOUBLES]`` | sections at the
byte offsets the ``*_off`` slots give, each aligned to :data:`SECTION_ALIGN` bytes.
Q is ``[H, sq, row_bytes]``, K and V ``[hkv, skv, row_bytes]`` (rows of ``d`` values for Q
and K, ``dv`` for V, each padded to ``row_bytes``, the longer of the two in storage
precision), the output ``[H, sq, dv]`` float32; query row ``i`` sits at position
``skv - sq + i`` (``sq = skv``: self-attention).
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

from sattn.ir.precisions import CODES

#: "SATTRVV1" little-endian.
MAGIC = 0x3156565254544153
#: 2: ``skv`` (was ``s``) and ``sq`` (Sq != Skv: query row i at position skv - sq + i), ``dv``
#: (the value dimension; ``d`` is the query/key one). 3: ``kblock_sums_off`` (bsr: the KV
#: cache's K block sums given, ``[hkv, nb, d]`` float64; 0: the kernel sums the blocks itself).
#: 4: ``stop_after`` (topk / nm / compblock: 1 runs only the selection's scoring pass -- the
#: measured scoring floor of ``bench/rvv_instructions.py`` --, 2 the scoring and the selection,
#: without the attention; the output is then all zeros; 0: the whole kernel).
#: 5: NSA (mode ``nsa``, kernels/nsa.c): ``comp_stride`` (d), ``select_blocks`` (n),
#: ``nsa_window`` (w keys ending at p), ``gates_off`` (``[3, sq, h]`` float32: g_cmp, g_slc,
#: g_swa; 0: all 1.0), ``comp_kv_off`` (the KV cache's compressed keys and values; 0: the
#: kernel compresses K and V itself) and ``nsa_score_only`` (1: the selection alone, for the
#: scoring floor); ``block_size`` is b and ``comp_block`` l.
#: 6: one switch for every partial run: ``stop_after = 2`` (scoring and selection, no
#: attention) in every mode that selects by itself (topk, nm, compblock, lsh, landmark, bsr,
#: nsa; nsa's ``nsa_score_only`` slot is gone: nsa reads ``stop_after = 2``), ``stop_after = 1``
#: (the scoring pass alone) in topk, nm and compblock (:data:`STOP_AFTER_MODES`).
#: 7: ``kblock_sums_off`` holds fp32 sums (bsr scores its blocks in fp32; was float64).
VERSION = 7
HEADER_INTS = 64
FHEADER_DOUBLES = 16
#: Byte offset of the first section (after both headers).
DATA_OFFSET = 8 * HEADER_INTS + 8 * FHEADER_DOUBLES
SECTION_ALIGN = 64

#: Integer header slots: name -> index (what the C side calls ``HDR_<NAME>``).
SLOTS: dict[str, int] = {
    name: i for i, name in enumerate((
        "magic", "version", "mode", "prec", "lmul", "h", "hkv", "skv", "d",
        "causal", "window", "dilation", "wrap", "topk", "nm_n", "nm_m",
        "lsh_buckets", "lsh_planes", "landmarks", "landmark_iters", "block_size",
        "comp_block", "keep_blocks", "global_tokens", "row_bytes", "sq", "dv", "stop_after",
        "comp_stride", "select_blocks",
    ))
}
SLOTS.update({name: 30 + i for i, name in enumerate((
    "q_off", "k_off", "v_off", "indptr_off", "indices_off", "aux_off", "nnz", "sel_cap",
    "file_bytes", "kblock_sums_off", "gates_off", "comp_kv_off", "nsa_window",
))})

#: ``stop_after`` values and the kernel modes that take each: 1 the selection's scoring pass
#: alone (modes with a separate scoring pass), 2 the scoring and the selection without the
#: attention (every mode that selects by itself); the output is then all zeros.
STOP_AFTER_MODES: dict[int, tuple[str, ...]] = {
    1: ("topk", "nm", "compblock"),
    2: ("topk", "nm", "compblock", "lsh", "landmark", "bsr", "nsa"),
}

#: Float header slots (``fhdr``).
FSLOTS: dict[str, int] = {"score_scale": 0, "v_scale": 1, "scale_q": 2, "scale_k": 3,
                          "scale_v": 4}

#: Kernel drivers: name -> mode code (a pattern names its driver: Pattern.rvv_mode).
MODES: dict[str, int] = {"dense": 0, "window": 1, "table": 2, "topk": 3, "nm": 4, "lsh": 5,
                         "landmark": 6, "compblock": 7, "bsr": 8, "nsa": 9}

#: Precision codes (the precision table's).
PREC_CODES: dict[str, int] = dict(CODES)

#: Exit codes of the binary.
EXIT_CODES: dict[str, int] = {"usage": 2, "io": 3, "bad_header": 4, "out_of_memory": 5,
                              "selection_overflow": 6}

HEADER_PATH = Path(__file__).resolve().parent / "kernels" / "sattn_rvv_abi.h"


class InputFile:
    """One kernel input file being written: the integer and float headers (magic, version,
    mode, precision and LMUL set) and the sections after them, each at a
    :data:`SECTION_ALIGN`-aligned offset recorded in its ``<name>_off`` slot. Every driver that
    writes an input file (``runner.build_input``, ``nsa.input_file``) fills one."""

    def __init__(self, mode: str, precision: str, lmul: int) -> None:
        self.hdr = [0] * HEADER_INTS
        self.fhdr = [0.0] * FHEADER_DOUBLES
        self.set(magic=MAGIC, version=VERSION, mode=MODES[mode], prec=PREC_CODES[precision],
                 lmul=lmul)
        self._chunks: list[bytes] = []
        self._offset = DATA_OFFSET

    def set(self, **slots: int) -> None:
        """Integer header slots by name."""
        for name, value in slots.items():
            self.hdr[SLOTS[name]] = value

    def set_float(self, **slots: float) -> None:
        """Float header slots by name."""
        for name, value in slots.items():
            self.fhdr[FSLOTS[name]] = value

    def add(self, slot: str, data: bytes) -> None:
        """Append section ``data`` (aligned) and record its offset in ``slot``."""
        pad = (-self._offset) % SECTION_ALIGN
        self._chunks.append(b"\0" * pad)
        self._offset += pad
        self.hdr[SLOTS[slot]] = self._offset
        self._chunks.append(data)
        self._offset += len(data)

    def pack(self) -> bytes:
        """The file: both headers (``file_bytes`` set) and the sections."""
        self.hdr[SLOTS["file_bytes"]] = self._offset
        return (struct.pack(f"<{HEADER_INTS}q", *self.hdr)
                + struct.pack(f"<{FHEADER_DOUBLES}d", *self.fhdr) + b"".join(self._chunks))


def c_header() -> str:
    """The C header of this ABI (generated; do not edit the output by hand)."""
    out = [
        "/* Generated by `python -m sattn.backends.rvv.abi --write` from",
        " * python/sattn/backends/rvv/abi.py: do not edit. The RVV kernel's input-file ABI. */",
        "#ifndef SATTN_RVV_ABI_H",
        "#define SATTN_RVV_ABI_H",
        "",
        f"#define SATTN_RVV_MAGIC 0x{MAGIC:016x}LL",
        f"#define SATTN_RVV_VERSION {VERSION}",
        f"#define SATTN_RVV_HEADER_INTS {HEADER_INTS}",
        f"#define SATTN_RVV_FHEADER_DOUBLES {FHEADER_DOUBLES}",
        f"#define SATTN_RVV_DATA_OFFSET {DATA_OFFSET}",
        "",
        "/* integer header slots */",
        "enum {",
    ]
    out += [f"    HDR_{name.upper()} = {i}," for name, i in SLOTS.items()]
    out += ["};", "", "/* float header slots */", "enum {"]
    out += [f"    FHDR_{name.upper()} = {i}," for name, i in FSLOTS.items()]
    out += ["};", "", "/* kernel modes */", "enum {"]
    out += [f"    MODE_{name.upper()} = {code}," for name, code in MODES.items()]
    out += [f"    MODE_COUNT = {len(MODES)},", "};", "",
            "/* precision codes (macros: attend_core.h tests them in #if) */"]
    out += [f"#define PREC_{name.upper()} {code}" for name, code in PREC_CODES.items()]
    out += [f"#define PREC_COUNT {len(PREC_CODES)}", "", "/* exit codes */", "enum {"]
    out += [f"    EXIT_{name.upper()} = {code}," for name, code in EXIT_CODES.items()]
    out += ["};", "", "#endif", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="generate the RVV kernel ABI header")
    parser.add_argument("--write", action="store_true", help=f"write {HEADER_PATH.name}")
    args = parser.parse_args(argv)
    text = c_header()
    if args.write:
        HEADER_PATH.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
