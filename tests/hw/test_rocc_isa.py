"""The ISA has one source (python/sattn/hw/isa.py): the generated SystemVerilog package and C++
header must be current and agree with it; the RTL must lint clean under -Wall."""

from __future__ import annotations

import re
import subprocess

from conftest import need_tool
from sattn.backends.rocc.build import RTL, RTL_FILES
from sattn.hw import isa


def test_generated_files_are_current():
    assert isa.stale() == [], "run: python -m sattn.hw.isa --write"
    assert isa.main(["--check"]) == 0


def test_sv_package_and_header_carry_every_code():
    sv = isa.SV_PATH.read_text()
    h = isa.H_PATH.read_text()
    for prefix, table in (("F_", isa.FUNCTS), ("R_", isa.REGS), ("E_", isa.ERRORS)):
        for f in table:
            m = re.search(rf"localparam logic \[\d+:0\] {prefix}{f.name} = \d+'[dh]([0-9a-f]+);", sv)
            assert m, f"{prefix}{f.name} missing from the SV package"
            base = 16 if "'h" in m.group(0) else 10
            assert int(m.group(1), base) == f.value
            assert re.search(rf"constexpr uint32_t {prefix}{f.name} = 0x{f.value:02x};", h)
    for c in isa.CAPS:
        assert f"CAP_{c.name} = {c.value};" in sv
        assert f"CAP_{c.name} = 1u << {c.value};" in h
    # codes are unique within each table
    for table in (isa.FUNCTS, isa.REGS, isa.ERRORS, isa.CAPS):
        values = [f.value for f in table]
        assert len(values) == len(set(values))


def test_roms_match_their_definition():
    rom = isa.exp2_rom()
    assert rom[0] == 1 << 30 and abs(rom[32] / (1 << 30) - 2 ** 0.5) < 2 ** -30
    seeds = isa.recip_rom()
    assert all(2 ** 30 < s <= 2 ** 31 for s in seeds)
    sv = isa.SV_PATH.read_text()
    assert f"6'd63: return 32'd{rom[63]};" in sv


def test_stale_file_is_detected(tmp_path, monkeypatch):
    fake = tmp_path / "sattn_isa_pkg.sv"
    fake.write_text(isa.render_sv().replace("F_START = 7'd5", "F_START = 7'd9"))
    monkeypatch.setattr(isa, "SV_PATH", fake)
    assert fake in isa.stale()
    assert isa.main(["--check"]) == 1


def test_rtl_lints_clean_with_wall():
    need_tool("verilator")
    proc = subprocess.run(
        ["verilator", "--lint-only", "-Wall", "--top-module", "rocc_sattn",
         *[str(RTL / f) for f in RTL_FILES]],
        check=False, capture_output=True, text=True,
    )
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr[:2000]


def test_rtl_has_no_unsynthesizable_constructs():
    banned = re.compile(r"\breal\b|\$exp\b|\$ln\b|\$pow\b|\$bitstoreal|\$realtobits|#\s*\d|\binitial\b")
    for f in RTL_FILES:
        text = "\n".join(line.split("//")[0] for line in (RTL / f).read_text().splitlines())
        assert not banned.search(text), f"{f}: {banned.search(text).group(0)!r}"


def test_doc_lists_every_instruction_register_and_error():
    doc = (isa.REPO / "docs" / "rocc.md").read_text()
    for table in (isa.FUNCTS, isa.REGS, isa.ERRORS, isa.CAPS):
        for f in table:
            if f.name == "NONE":
                continue
            assert f.name in doc, f"docs/rocc.md does not mention {f.name}"
