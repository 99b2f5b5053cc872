"""Build the Verilator model of the RoCC accelerator: ``hw/sim/obj_dir/Vrocc_sattn``.

One simulator binary serves every shape, pattern and precision (all runtime configuration goes
through the RoCC registers). It is rebuilt only when a source changes: the content hash of the
RTL, the testbench and the build flags is stored beside the binary, and finished binaries are
also kept in the user cache (``toolrun.user_cache_dir()/rocc/<hash>``), so a fresh clone of an
unchanged design copies instead of compiling. Concurrent builds serialise on a file lock.

``python -m sattn.backends.rocc.build`` (called by ``make setup``) prints what it did.
The same machinery builds the unit-test model of the MAC array and the softmax (``--unit``).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sattn.errors import SattnError
from sattn.guard import guarded
from sattn.hw.isa import stale
from sattn.toolrun import find_tool, run_tool, user_cache_dir

REPO = Path(__file__).resolve().parents[4]
RTL = REPO / "hw" / "rtl"
SIM = REPO / "hw" / "sim"

#: RTL files in compilation order (packages first).
RTL_FILES: tuple[str, ...] = (
    "sattn_isa_pkg.sv", "sattn_fp_pkg.sv", "sattn_types_pkg.sv", "sattn_fifo.sv",
    "sattn_spad.sv", "sattn_mac_array.sv", "sattn_softmax.sv", "sattn_core.sv",
    "sattn_gather.sv", "sattn_dma.sv", "sattn_writeback.sv", "sattn_topn.sv", "sattn_nsa.sv",
    "rocc_sattn.sv",
)

VERILATOR_FLAGS: tuple[str, ...] = (
    "--cc", "--exe", "--build", "-O3", "--x-assign", "fast", "--x-initial", "fast",
    "-Wno-fatal", "-CFLAGS", "-O2",
)


@dataclass(frozen=True)
class Target:
    """One Verilator model: its top module, sources and where the binary goes."""

    name: str  # binary name, e.g. Vrocc_sattn
    top: str
    sv: tuple[Path, ...]
    cpp: tuple[Path, ...]
    headers: tuple[Path, ...]
    obj_dir: Path

    @property
    def binary(self) -> Path:
        return self.obj_dir / self.name

    def digest(self, verilator: str) -> str:
        h = hashlib.sha256()
        h.update(" ".join(VERILATOR_FLAGS).encode())
        h.update(verilator.encode())
        for p in (*self.sv, *self.cpp, *self.headers):
            h.update(p.name.encode())
            h.update(p.read_bytes())
        return h.hexdigest()[:16]


def main_target() -> Target:
    """The accelerator with its C++ testbench."""
    return Target(
        name="Vrocc_sattn", top="rocc_sattn", sv=tuple(RTL / f for f in RTL_FILES),
        cpp=(SIM / "tb_rocc_sattn.cpp",), headers=(SIM / "sattn_isa.h",), obj_dir=SIM / "obj_dir",
    )


def unit_target() -> Target:
    """The MAC array and the softmax alone, with their C++ unit test."""
    files = (
        "sattn_isa_pkg.sv", "sattn_fp_pkg.sv", "sattn_fifo.sv", "sattn_mac_array.sv", "sattn_softmax.sv",
    )
    return Target(
        name="Vsattn_unit_top", top="sattn_unit_top",
        sv=tuple(RTL / f for f in files) + (SIM / "unit" / "sattn_unit_top.sv",),
        cpp=(SIM / "unit" / "tb_unit.cpp",), headers=(), obj_dir=SIM / "obj_dir" / "unit",
    )


def topn_target() -> Target:
    """The top-n unit alone, with its C++ unit test (tests/hw/test_topn.py)."""
    return Target(
        name="Vsattn_topn", top="sattn_topn", sv=(RTL / "sattn_topn.sv",),
        cpp=(SIM / "topn" / "tb_topn.cpp",), headers=(), obj_dir=SIM / "obj_dir" / "topn",
    )


def _verilator() -> str:
    try:
        return find_tool("verilator")
    except SattnError:
        raise SattnError(
            "verilator not found on PATH: the RoCC simulator cannot be built; "
            "install it with: apt-get install verilator (or run `make setup`)"
        ) from None


def build(target: Target | None = None, *, force: bool = False, verbose: bool = False) -> Path:
    """The path of the built simulator, building it first when its sources changed."""
    t = target or main_target()
    stamp = t.obj_dir / ".sattn_hash"
    verilator = _verilator()

    if t.name == "Vrocc_sattn" and stale():
        raise SattnError("generated ISA files are stale: run `python -m sattn.hw.isa --write`")
    digest = t.digest(verilator)
    if not force and t.binary.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return t.binary
    t.obj_dir.mkdir(parents=True, exist_ok=True)
    with open(t.obj_dir / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # another process may have finished the same build while we waited
        if not force and t.binary.exists() and stamp.exists() and stamp.read_text().strip() == digest:
            return t.binary
        cached = user_cache_dir() / "rocc" / digest / t.name
        if not force and cached.exists():
            tmp = t.binary.with_suffix(".tmp")
            shutil.copy2(cached, tmp)
            os.replace(tmp, t.binary)
            stamp.write_text(digest + "\n")
            if verbose:
                print(f"rocc build: {t.name} {digest} copied from the cache {cached.parent}")
            return t.binary
        stamp.unlink(missing_ok=True)
        start = time.perf_counter()
        cmd = [
            verilator, *VERILATOR_FLAGS, "-j", str(max(1, min(os.cpu_count() or 1, 4))),
            "--top-module", t.top, "-Mdir", str(t.obj_dir), "-o", t.name,
            "-CFLAGS", f"-I{SIM}", *map(str, t.sv), *map(str, t.cpp),
        ]
        run_tool(cmd, what=f"verilator build of {t.name}")
        if not t.binary.exists():
            raise SattnError(f"verilator build of {t.name} produced no binary at {t.binary}")
        stamp.write_text(digest + "\n")
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".tmp{os.getpid()}")
        shutil.copy2(t.binary, tmp)
        os.replace(tmp, cached)
        if verbose:
            print(f"rocc build: {t.name} {digest} built in {time.perf_counter() - start:.1f} s")
    return t.binary


def main(argv: list[str] | None = None) -> int:
    @guarded
    def _main() -> int:
        ap = argparse.ArgumentParser(prog="python -m sattn.backends.rocc.build",
                                     description=__doc__.split("\n")[0])
        ap.add_argument("--force", action="store_true", help="rebuild even when current")
        ap.add_argument("--unit", action="store_true", help="also build the unit-test model")
        args = ap.parse_args(argv)
        targets = [main_target()] + ([unit_target()] if args.unit else [])
        for t in targets:
            path = build(t, force=args.force, verbose=True)
            print(f"rocc build: {path.relative_to(REPO)} is current")
        return 0

    return _main()


if __name__ == "__main__":
    sys.exit(main())
