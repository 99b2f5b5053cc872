"""Build the RVV kernel binary (zig cc) and the qemu instruction-counting plugin (host cc).

Both are cached in ``toolrun.user_cache_dir()`` under a name that is the content hash of their
sources and flags, so a second run compiles nothing. Installation is atomic (build into a
private temporary file, then ``os.replace``), so parallel builds never see half a binary.

``python -m sattn.backends.rvv.build --warm`` builds everything the default tests need
(``make setup`` calls it).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

from sattn.errors import SattnError, ToolMissingError
from sattn.toolrun import find_tool, run_tool, user_cache_dir, zig_cc

HERE = Path(__file__).resolve().parent
KERNEL_DIR = HERE / "kernels"
PLUGIN_SRC = HERE / "plugin" / "count.c"

#: Cross-compilation flags: RVV 1.0 intrinsics, static musl binary for qemu-user.
ZIG_FLAGS: tuple[str, ...] = (
    "-target", "riscv64-linux-musl", "-mcpu=baseline_rv64+v", "-O2", "-static",
    "-Wall", "-Wextra", "-Werror", "-fno-strict-aliasing",
    # No pre-RA machine scheduling: it hoists the next K / V loads of the unrolled LMUL-8
    # multiply-add loops above the multiply-adds, which needs a fifth vector register group and
    # spills on every step (measured: the two-row score loop went from 6.4 to ~11 instructions
    # per d). Under qemu every instruction counts the same, so latency hiding buys nothing.
    "-mllvm", "-enable-misched=false",
)
PLUGIN_FLAGS: tuple[str, ...] = ("-O2", "-shared", "-fPIC", "-Wall", "-Wextra")


def kernel_sources() -> list[Path]:
    """Every C source and header of the kernel binary (the headers go into the hash)."""
    return sorted(KERNEL_DIR.glob("*.c")) + sorted(KERNEL_DIR.glob("*.h"))


def _digest(files: list[Path], flags: tuple[str, ...], salt: str) -> str:
    h = hashlib.sha256(salt.encode())
    h.update("\0".join(flags).encode())
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _install(target: Path, build) -> Path:
    """Run ``build(tmp_path)`` and atomically move the result to ``target`` (unless present)."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        build(Path(tmp))
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def kernel_binary() -> Path:
    """Path of the cached ``sattn_rvv`` binary, building it first when the sources changed."""
    srcs = kernel_sources()
    target = user_cache_dir() / "rvv" / f"sattn_rvv-{_digest(srcs, ZIG_FLAGS, 'zig')}"
    if target.exists():
        return target
    cc = zig_cc()
    c_files = [str(s) for s in srcs if s.suffix == ".c"]
    return _install(
        target,
        lambda out: run_tool([*cc, *ZIG_FLAGS, *c_files, "-o", str(out)],
                             what="compiling the RVV kernels with zig cc", timeout=900),
    )


def plugin_library() -> Path:
    """Path of the cached qemu counting plugin (``libcount.so``), built with the host cc."""
    target = user_cache_dir() / "rvv" / f"libcount-{_digest([PLUGIN_SRC], PLUGIN_FLAGS, 'cc')}.so"
    if target.exists():
        return target
    try:
        cc = find_tool("cc")
    except ToolMissingError:
        raise ToolMissingError(
            "the host C compiler 'cc' is needed to build the qemu counting plugin; "
            "install it with: apt-get install gcc"
        ) from None
    return _install(
        target,
        lambda out: run_tool([cc, *PLUGIN_FLAGS, str(PLUGIN_SRC), "-o", str(out)],
                             what="compiling the qemu counting plugin", timeout=300),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sattn.backends.rvv.build", description=__doc__.split("\n")[0])
    parser.add_argument("--warm", action="store_true", help="build the kernel binary and the plugin now")
    args = parser.parse_args(argv)
    try:
        k = kernel_binary()
        p = plugin_library()
    except SattnError as e:
        print(f"sattn-rvv-build: error: {e}", file=sys.stderr)
        return e.exit_code
    if args.warm:
        print(f"rvv kernels: {k}\nrvv counting plugin: {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
