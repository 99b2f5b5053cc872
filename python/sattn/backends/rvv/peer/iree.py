"""IREE as an outside peer of the RVV kernels: dense fp32 attention compiled by IREE's llvm-cpu
backend for riscv64 with +v, run under the same qemu with the same counting plugin.

The path (one :func:`run` call):

1. :func:`mlir_source` writes dense attention [S, D] in one of two input forms: ``attention``
   (one ``iree_linalg_ext.attention`` op) or ``linalg`` (``linalg.matmul`` Q·Kᵀ, a scale
   ``linalg.generic``, ``linalg.softmax``, ``linalg.matmul`` P·V).
2. ``iree-compile`` (PyPI ``iree-base-compiler``, the optional extra ``iree``) with
   ``--iree-llvmcpu-link-static`` produces a riscv64 object holding the dispatches and a header
   naming its library query function(s); ``--output-format=vm-asm`` of the same compile shows
   the host program: which export runs, its workgroup count, push constants and bindings.
3. :func:`parse_vm_asm` turns that host program into a :class:`Plan` (buffers and dispatches
   in order) and :func:`plan_c` into C data; ``peer/harness.c`` (our declarations of IREE's
   documented executable-library ABI, ``peer/peer_abi.h``) calls every workgroup of every
   dispatch in turn between the plugin's region markers. The harness is linked with the same
   ``zig cc -target riscv64-linux-musl -mcpu=baseline_rv64+v`` as the sattn kernels.
4. qemu-riscv64 with ``-cpu rv64,v=true,vlen=N,vext_spec=v1.0`` and the counting plugin runs
   it; the counters and the vector profile are the same as for the sattn kernels.

Only what this benchmark needs is supported: static shapes, dispatches recorded into one
memoised command buffer with indirect bindings, no executable imports. Anything else stops
with a one-line :class:`~sattn.errors.SattnError` naming what was found.

Built harnesses are cached by the hash of everything that goes into them
(``toolrun.user_cache_dir()/rvv/iree-<hash>``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np

from sattn.backends.rvv import build, cycle_model, runner
from sattn.errors import SattnError, ToolMissingError
from sattn.toolrun import find_tool, run_tool, scratch_dir, user_cache_dir, zig_cc

HERE = Path(__file__).resolve().parent
FORMS: tuple[str, ...] = ("attention", "linalg")
INSTALL_HINT = "pip install 'sattn[iree]' (or: pip install iree-base-compiler)"


def iree_compile() -> str:
    """Path of ``iree-compile`` from the ``iree-base-compiler`` wheel."""
    try:
        from iree.compiler.tools.binaries import find_tool as iree_find
    except ImportError:
        raise ToolMissingError(f"IREE is not installed (python package 'iree-base-compiler'); "
                               f"install it with: {INSTALL_HINT}") from None
    try:
        return iree_find("iree-compile")
    except Exception as e:  # noqa: BLE001  (any failure of the wheel's lookup means: not usable)
        raise ToolMissingError(f"iree-compile from iree-base-compiler is not usable: {e}") from None


def iree_version() -> str:
    """The installed iree-base-compiler version ('' when not installed)."""
    try:
        return version("iree-base-compiler")
    except Exception:  # noqa: BLE001  (not installed, or broken metadata: no version to print)
        return ""


def compile_flags(vlen: int, lib: Path) -> list[str]:
    """iree-compile flags: llvm-cpu, riscv64 Linux (musl), RV64GC + V with the VLEN qemu runs
    (``+zvl<VLEN>b``: the fixed-width vectors IREE emits then fit one register group as on that
    machine), static library output, no embedded ELF."""
    return [
        "--iree-hal-target-device=local",
        "--iree-hal-local-target-device-backends=llvm-cpu",
        "--iree-llvmcpu-target-triple=riscv64-unknown-linux-musl",
        f"--iree-llvmcpu-target-cpu-features=+m,+a,+f,+d,+c,+v,+zvl{vlen}b",
        "--iree-llvmcpu-target-abi=lp64d",
        "--iree-llvmcpu-link-embedded=false",
        "--iree-llvmcpu-link-static",
        f"--iree-llvmcpu-static-library-output-path={lib}",
    ]


def mlir_source(form: str, seq_len: int, head_dim: int) -> str:
    """Dense attention out = softmax(Q Kᵀ / sqrt(D)) V for Q, K, V [S, D] fp32 in ``form``."""
    s, d = seq_len, head_dim
    scale = float(np.float32(1.0 / np.sqrt(d)))
    t_in, t_sc = f"tensor<{s}x{d}xf32>", f"tensor<{s}x{s}xf32>"
    if form == "attention":
        t3 = f"tensor<1x{s}x{d}xf32>"
        m = "affine_map<(b, m, n, k1, k2) -> "
        return f"""func.func @attn(%q: {t3}, %k: {t3}, %v: {t3}) -> {t3} {{
  %scale = arith.constant {scale!r} : f32
  %e = tensor.empty() : {t3}
  %r = iree_linalg_ext.attention <{{indexing_maps = [{m}(b, m, k1)>, {m}(b, k2, k1)>,
      {m}(b, k2, n)>, {m}()>, {m}(b, m, n)>]}}>
      ins(%q, %k, %v, %scale : {t3}, {t3}, {t3}, f32) outs(%e : {t3}) {{
    ^bb0(%score: f32):
      iree_linalg_ext.yield %score : f32
  }} -> {t3}
  return %r : {t3}
}}
"""
    if form == "linalg":
        return f"""func.func @attn(%q: {t_in}, %k: {t_in}, %v: {t_in}) -> {t_in} {{
  %zero = arith.constant 0.0 : f32
  %scale = arith.constant {scale!r} : f32
  %e = tensor.empty() : {t_sc}
  %z = linalg.fill ins(%zero : f32) outs(%e : {t_sc}) -> {t_sc}
  %s = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
      affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%q, %k : {t_in}, {t_in}) outs(%z : {t_sc}) -> {t_sc}
  %ss = linalg.generic {{indexing_maps = [affine_map<(m, n) -> (m, n)>, affine_map<(m, n) -> (m, n)>],
      iterator_types = ["parallel", "parallel"]}} ins(%s : {t_sc}) outs(%e : {t_sc}) {{
    ^bb0(%a: f32, %b: f32):
      %x = arith.mulf %a, %scale : f32
      linalg.yield %x : f32
  }} -> {t_sc}
  %p = linalg.softmax dimension(1) ins(%ss : {t_sc}) outs(%e : {t_sc}) -> {t_sc}
  %e2 = tensor.empty() : {t_in}
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : {t_in}) -> {t_in}
  %o = linalg.matmul ins(%p, %v : {t_sc}, {t_in}) outs(%z2 : {t_in}) -> {t_in}
  return %o : {t_in}
}}
"""
    raise SattnError(f"IREE peer: unknown input form {form!r} (choose from {', '.join(FORMS)})")


# ---------------------------------------------------------------------------------------------
# The host program (vm-asm) as a plan
# ---------------------------------------------------------------------------------------------

@dataclass
class Dispatch:
    """One recorded dispatch: export name, workgroup count, push constants, and bindings as
    (buffer index, byte offset, byte length)."""

    export: str
    workgroups: tuple[int, int, int]
    constants: list[int]
    bindings: list[tuple[int, int, int]]

    @property
    def n_workgroups(self) -> int:
        x, y, z = self.workgroups
        return x * y * z


@dataclass
class Plan:
    """What the harness runs: buffers (``inputs[i]`` = argument ordinal or -1 for transients),
    dispatches in order, the output as (buffer, offset, length), the library query functions."""

    sizes: list[int] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    dispatches: list[Dispatch] = field(default_factory=list)
    output: tuple[int, int, int] = (0, 0, 0)
    queries: list[str] = field(default_factory=list)
    rtz_sites: int = 0  #: conversions given the qemu 7.2 work-around (qemu72_rtz_workaround)


_CONST = re.compile(r"^\s*%([\w-]+) = vm\.const\.i(?:32|64)(?:\.zero| (-?\d+))\b", re.MULTILINE)
_RODATA = re.compile(r'^\s*vm\.rodata private @(\w+) <alignment = \d+> "([^"]*)"', re.MULTILINE)
_REF_RODATA = re.compile(r"^\s*%(\w+) = vm\.const\.ref\.rodata @(\w+)", re.MULTILINE)
_LOOKUP = re.compile(r"^\s*%(\w+) = vm\.call @hal\.executable\.lookup\.function\(%\w+, %(\w+)\)", re.MULTILINE)
_DISPATCH = re.compile(r"vm\.call\.variadic @hal\.command_buffer\.dispatch\(%\w+, %\w+, %(\w+), "
                       r"%([\w-]+), %([\w-]+), %([\w-]+), %[\w-]+, \[([^\]]*)\], \[([^\]]*)\]\)")
_TUPLE = re.compile(r"\(([^()]*)\)")
_ARG_BUFFER = re.compile(r"^\s*%(\w+) = vm\.call @hal\.buffer_view\.buffer\(%arg(\d+)\)", re.MULTILINE)
_ALLOCA = re.compile(r"^\s*%(\w+) = vm\.call @hal\.device\.queue\.alloca\(([^)]*)\)", re.MULTILINE)
_EXECUTE = re.compile(r"vm\.call\.variadic @hal\.device\.queue\.execute\.indirect\([^\[]*\[([^\]]*)\]\)")
_VIEW = re.compile(r"^\s*%(\w+) = vm\.call\.variadic @hal\.buffer_view\.create\(%(\w+), %([\w-]+), %([\w-]+),", re.MULTILINE)
_RETURN = re.compile(r"^\s*vm\.return %(\w+) : !vm\.ref<!hal\.buffer_view>", re.MULTILINE)


def parse_vm_asm(text: str, header: str) -> Plan:
    """The :class:`Plan` of a module's ``--output-format=vm-asm`` text and its static-library
    header (which names the query functions)."""
    consts: dict[str, int] = {}
    for name, val in _CONST.findall(text):
        v = int(val) if val else 0
        if consts.setdefault(name, v) != v:
            raise SattnError(f"IREE peer: vm-asm constant %{name} has two values")

    def c(name: str) -> int:
        if name not in consts:
            raise SattnError(f"IREE peer: vm-asm operand %{name} is not a constant")
        return consts[name]

    rodata = dict(_RODATA.findall(text))
    ref_rodata = dict(_REF_RODATA.findall(text))
    lookups = {var: rodata[ref_rodata[buf]] for var, buf in _LOOKUP.findall(text)}
    plan = Plan(queries=re.findall(r"^(\w+_library_query)\(", header, re.MULTILINE))
    if not plan.queries:
        raise SattnError("IREE peer: the static library header names no library query function")
    # buffers: function arguments and queue allocations
    buf_index: dict[str, int] = {}
    for var, arg in _ARG_BUFFER.findall(text):
        buf_index[var] = len(plan.sizes)
        plan.sizes.append(0)
        plan.inputs.append(int(arg))
    for var, args in _ALLOCA.findall(text):
        ops = [a.strip().lstrip("%") for a in args.split(",")]
        buf_index[var] = len(plan.sizes)
        plan.sizes.append(c(ops[7]))  # (device, affinity, wait, signal, pool, types, usage, size, flags)
        plan.inputs.append(-1)
    executes = _EXECUTE.findall(text)
    if len(executes) != 1:
        raise SattnError(f"IREE peer: expected one queue.execute.indirect in the host program, "
                         f"found {len(executes)}")
    table = []
    for tup in _TUPLE.findall(executes[0]):
        ref, off, length = (x.strip().lstrip("%") for x in tup.split(","))
        if ref not in buf_index:
            raise SattnError(f"IREE peer: binding table entry %{ref} is not an argument or allocation")
        b = buf_index[ref]
        plan.sizes[b] = max(plan.sizes[b], c(off) + c(length))
        table.append((b, c(off), c(length)))
    for fn_var, wx, wy, wz, consts_list, binds in _DISPATCH.findall(text):
        if fn_var not in lookups:
            raise SattnError(f"IREE peer: dispatch of an unknown function %{fn_var}")
        constants = [c(x.strip().lstrip("%")) & 0xFFFFFFFF for x in consts_list.split(",") if x.strip()]
        bindings = []
        for tup in _TUPLE.findall(binds):
            _, slot, ref, off, length = (x.strip().lstrip("%") for x in tup.split(","))
            if ref != "null":
                raise SattnError("IREE peer: only indirect (binding-table) dispatch bindings are supported")
            tb, toff, _tlen = table[c(slot)]
            bindings.append((tb, toff + c(off), c(length)))
        plan.dispatches.append(Dispatch(lookups[fn_var], (c(wx), c(wy), c(wz)), constants, bindings))
    if not plan.dispatches:
        raise SattnError("IREE peer: no dispatch found in the host program")
    views = {v: (buf, off, length) for v, buf, off, length in _VIEW.findall(text)}
    rets = _RETURN.findall(text)
    if len(rets) != 1 or rets[0] not in views:
        raise SattnError("IREE peer: cannot find the buffer the module returns")
    buf, off, length = views[rets[0]]
    plan.output = (buf_index[buf], c(off), c(length))
    return plan


def plan_c(plan: Plan, header_name: str) -> str:
    """The plan as the C definitions ``peer_abi.h`` declares."""
    q = ", ".join(plan.queries)
    decls = "".join(f"const peer_library_header **{n}(uint32_t, const peer_environment *);\n"
                    for n in plan.queries)
    lines = [f"/* generated by sattn.backends.rvv.peer.iree from {header_name} */",
             '#include "peer_abi.h"', decls,
             f"const peer_query_fn peer_queries[] = {{{q}}};",
             f"const int peer_n_queries = {len(plan.queries)};",
             f"const size_t peer_buffer_sizes[] = {{{', '.join(map(str, plan.sizes))}}};",
             f"const int peer_buffer_input[] = {{{', '.join(map(str, plan.inputs))}}};",
             f"const int peer_n_buffers = {len(plan.sizes)};",
             f"const int peer_output_buffer = {plan.output[0]};",
             f"const size_t peer_output_offset = {plan.output[1]}, peer_output_length = {plan.output[2]};",
             "const peer_dispatch peer_dispatches[] = {"]
    for d in plan.dispatches:
        if len(d.bindings) > 16 or len(d.constants) > 64:
            raise SattnError(f"IREE peer: dispatch {d.export} has too many bindings or constants")
        consts = ", ".join(f"{x}u" for x in d.constants) or "0"
        binds = ", ".join(f"{{{b}, {o}, {n}}}" for b, o, n in d.bindings)
        lines.append(f'  {{"{d.export}", {{{d.workgroups[0]}, {d.workgroups[1]}, {d.workgroups[2]}}}, '
                     f"{len(d.constants)}, {{{consts}}}, {len(d.bindings)}, {{{binds}}}}},")
    lines += ["};", f"const int peer_n_dispatches = {len(plan.dispatches)};", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Build and run
# ---------------------------------------------------------------------------------------------

#: Vector float-to-integer conversions with a static round-towards-zero mode (RVV 1.0:
#: vfcvt / vfwcvt / vfncvt ``.rtz.``): what LLVM emits for ``fptosi`` / ``fptoui``.
_RTZ = re.compile(r"^(\s*)(vf[wn]?cvt\.rtz\.)", re.MULTILINE)


def qemu72_rtz_workaround(asm: str) -> tuple[str, int]:
    """Put ``fcvt.w.s zero, ft0, dyn`` in front of every static-rounding vector conversion.

    qemu 7.2's RISC-V translator (Debian's qemu-user) aborts with ``translate.c:213:
    decode_save_opc: Assertion `ctx->insn_start != NULL'`` when such a conversion is the first
    instruction of its translation block that touches the rounding mode: it then records the
    instruction twice (once to switch to the dynamic mode, once to the static one). In IREE's
    code the conversions come from the ``fptosi`` of the exp approximation and often follow a
    ``vsetivli``, which ends a translation block in qemu 7.2, so some code layouts hit it. A
    scalar conversion with the dynamic mode just before leaves the translator in the dynamic
    mode, so the vector conversion records itself once. It writes x0 (discarded) and may set
    accrued fflags bits, which nothing here reads: the computation is unchanged, and the extra
    instruction is counted (one per executed conversion; ``rtz_sites`` says how many sites).
    Returns the patched text and the number of sites."""
    return _RTZ.subn(lambda m: f"{m[1]}fcvt.w.s\tzero, ft0, dyn\n{m[1]}{m[2]}", asm)


@dataclass
class Built:
    """A linked harness and the plan it runs."""

    binary: Path
    plan: Plan


def build_peer(form: str, seq_len: int, head_dim: int, vlen: int) -> Built:
    """Compile ``form`` with IREE and link the harness (cached by content hash)."""
    src = mlir_source(form, seq_len, head_dim)
    tool = iree_compile()
    harness = [HERE / "harness.c", HERE / "peer_abi.h"]
    h = hashlib.sha256(src.encode() + iree_version().encode() + str(vlen).encode())
    h.update("\0".join(build.ZIG_FLAGS).encode())
    for f in [*harness, Path(__file__)]:  # this module decides the plan and the patches
        h.update(f.read_bytes())
    target = user_cache_dir() / "rvv" / f"iree-{form}-{seq_len}x{head_dim}-v{vlen}-{h.hexdigest()[:16]}"
    plan_file = target.with_suffix(".plan.c")
    with scratch_dir() as d:
        lib = d / "attn.o"
        mlir = d / "attn.mlir"
        mlir.write_text(src)
        flags = compile_flags(vlen, lib) + [f"--iree-hal-dump-executable-intermediates-to={d / 'dump'}"]
        asm = d / "attn.vmasm"
        run_tool([tool, *flags, str(mlir), "--output-format=vm-asm", "-o", str(asm)],
                 what=f"iree-compile ({form} form, S={seq_len}, D={head_dim})", timeout=900)
        plan = parse_vm_asm(asm.read_text(), lib.with_suffix(".h").read_text())
        sources = sorted((d / "dump").glob("*.s"))
        if not sources:
            raise SattnError("IREE peer: iree-compile dumped no assembly for the executables")
        patched = []
        for f in sources:
            text, n = qemu72_rtz_workaround(f.read_text())
            plan.rtz_sites += n
            out = d / f"peer_{len(patched)}.s"
            out.write_text(text)
            patched.append(str(out))
        if target.exists() and plan_file.exists():
            return Built(target, plan)
        code = plan_c(plan, "attn.h")
        (d / "plan.c").write_text(code)
        for f in harness:
            shutil.copy(f, d / f.name)
        flags_cc = [*build.ZIG_FLAGS[:8], "-I", str(d)]

        def link(out: Path) -> None:
            run_tool([*zig_cc(), *flags_cc, str(d / "harness.c"), str(d / "plan.c"), *patched,
                      "-lm", "-o", str(out)], what="linking the IREE peer harness with zig cc",
                     timeout=900)

        build._install(target, link)
        tmp = plan_file.with_name(f".{plan_file.name}.{os.getpid()}")
        tmp.write_text(code)
        os.replace(tmp, plan_file)
    return Built(target, plan)


@dataclass
class PeerRun:
    """Output and measurements of one IREE peer run (counters as the RVV runner's)."""

    form: str
    output: np.ndarray
    counters: dict[str, int]
    profile: cycle_model.VectorProfile
    model: cycle_model.ModelCycles
    plan: Plan

    def lines(self) -> list[str]:
        c = self.counters
        disp = " ".join(f"{d.export.split('_dispatch_')[-1]}:{d.n_workgroups}wg"
                        for d in self.plan.dispatches)
        return [(f"iree_config: form={self.form} iree={iree_version()} "
                 f"dispatches={len(self.plan.dispatches)} ({disp}) rtz_sites={self.plan.rtz_sites}"),
                (f"rvv_counters: total={c['instructions']} vector={c['vector']} "
                 f"vector_mem={c['vector_mem']} scalar={c['scalar']}"),
                self.model.line()]


def run(form: str, q: np.ndarray, k: np.ndarray, v: np.ndarray, *, vlen: int = 256,
        machine: cycle_model.VectorMachine | None = None, timeout: float = 3600) -> PeerRun:
    """Run dense attention of Q, K, V ([S, D] float32) as compiled by IREE in ``form``."""
    q, k, v = (np.ascontiguousarray(a, dtype=np.float32) for a in (q, k, v))
    if q.ndim != 2 or q.shape != k.shape or q.shape != v.shape:
        raise SattnError(f"IREE peer: Q, K, V must be equal [S, D] arrays, got {q.shape}, "
                         f"{k.shape}, {v.shape}")
    s, d = q.shape
    machine = machine or cycle_model.machine_for(vlen)
    built = build_peer(form, s, d, vlen)
    qemu = find_tool("qemu-riscv64")
    with scratch_dir() as wd:
        inp, outp, cnt = wd / "input.bin", wd / "output.bin", wd / "counts.txt"
        inp.write_bytes(q.tobytes() + k.tobytes() + v.tobytes())
        run_tool([qemu, "-cpu", f"rv64,v=true,vlen={vlen},vext_spec=v1.0", "-plugin",
                  f"{build.plugin_library()},out={cnt},vlen={vlen}", str(built.binary), str(inp),
                  str(outp)], what=f"IREE peer ({form} form) under qemu-riscv64", timeout=timeout)
        out = np.fromfile(outp, dtype=np.float32)
        text = cnt.read_text()
    if out.size != s * d:
        raise SattnError(f"IREE peer wrote {out.size} output values, expected {s * d}")
    counters, prof, modelled = runner.region_counters(text, machine, "IREE peer")
    return PeerRun(form, out.reshape(s, d), counters, prof, modelled, built.plan)


def reference64(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Dense attention in float64 (the comparison target of both fp32 computations)."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    s = (q @ k.T) * np.float64(np.float32(1.0 / np.sqrt(q.shape[1])))
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)) @ v


def fp32_tolerance(seq_len: int, head_dim: int) -> float:
    """Relative error bound (max-normalised) for fp32 attention against float64: the standard
    bound gamma_n = n u / (1 - n u), u = 2^-24, with n = D (score dot product) + S (softmax sum)
    + S (P·V accumulation) + 16 (exp, division and scaling, a few ulp each)."""
    u = 2.0 ** -24
    n = head_dim + 2 * seq_len + 16
    return n * u / (1 - n * u)


def available() -> bool:
    """Whether the optional ``iree`` extra is installed."""
    try:
        iree_compile()
    except ToolMissingError:
        return False
    return True


def main_skip_line() -> str:
    """The one line a benchmark prints when the extra is missing."""
    return f"rvv_vs_iree: skipped: IREE is not installed ({INSTALL_HINT})"

