"""The RVV kernel ABI is defined once (python/sattn/backends/rvv/abi.py) and generated into
kernels/sattn_rvv_abi.h: the header in the tree must be current, and the C sources must not
define the slots, modes or precision codes themselves; the runtime helpers live in runtime.c,
not main.c (the C files form no cycle with main.c)."""

from __future__ import annotations

import re

from sattn.backends.rvv import abi, runner
from sattn.ir.precisions import CODES

KERNELS = abi.HEADER_PATH.parent


def test_generated_header_is_current():
    assert abi.HEADER_PATH.read_text() == abi.c_header(), (
        "run: python -m sattn.backends.rvv.abi --write")


def test_no_hand_copies_of_the_abi():
    for src in sorted(KERNELS.glob("*.[ch]")):
        if src == abi.HEADER_PATH:
            continue
        text = src.read_text()
        assert not re.search(r"\bHDR_[A-Z_]+\s*=", text), f"{src.name} defines header slots"
        assert not re.search(r"\bMODE_[A-Z]+\s*=\s*\d", text), f"{src.name} defines modes"
        assert not re.search(r"#define\s+PREC_", text), f"{src.name} defines precision codes"
        assert "0x3156565254544153" not in text, f"{src.name} spells the magic number"


def test_runner_and_header_agree():
    assert runner.PREC_CODE == CODES
    assert runner.MODE == abi.MODES
    text = abi.c_header()
    for name, slot in abi.SLOTS.items():
        assert f"HDR_{name.upper()} = {slot}," in text
    assert abi.DATA_OFFSET == 8 * abi.HEADER_INTS + 8 * abi.FHEADER_DOUBLES == 640


def test_runtime_helpers_are_not_in_main():
    main = (KERNELS / "main.c").read_text()
    runtime = (KERNELS / "runtime.c").read_text()
    for fn in ("xmalloc", "sel_record", "arena_reserve"):
        assert re.search(rf"^void \*?{fn}\(", runtime, re.MULTILINE), f"runtime.c defines {fn}"
        assert not re.search(rf"^void \*?{fn}\(", main, re.MULTILINE), f"main.c must not define {fn}"
