// The cost model is target-aware: SATTN_TARGET (or the pass option target=...) picks the fitted
// weights of the RVV kernels (default), the RoCC RTL or the NumPy reference. The two ops are
// contests of the fit data (bench/data/selector_fit/, the spec's tile form) where the
// measured best differs by backend (docs/selector.md):
// (1) S=232, w=119 vs 46% of 16-token blocks: bsr on RVV (1,888,185 vs 2,728,645 modelled
//     cycles) and RoCC (54117 vs 84905 cycles), sliding_window on the reference (0.69 vs
//     1.01 ms: bsr scores its blocks in Python);
// (2) S=167 causal, w=24 vs the diagonal 32-token block: bsr on RVV (449,944 vs 486,887
//     modelled cycles, although the window retires fewer instructions, 70,041 vs 91,014: its
//     LMUL-8 vector work takes more cycles per instruction than bsr's scalar selection) and
//     RoCC (13294 vs 16896 cycles), sliding_window on the reference (0.73 vs 1.14 ms).
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=RVV
// RUN: env SATTN_TARGET=rvv %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=RVV
// RUN: env SATTN_TARGET=rocc %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=ROCC
// RUN: env SATTN_TARGET=reference %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=REF
// The pass option, and it beats the variable.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec{target=reference})' | filecheck %s --check-prefix=REF
// RUN: env SATTN_TARGET=reference %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec{target="rocc"})' | filecheck %s --check-prefix=ROCC
// The explanation names the target and each candidate's weights.
// RUN: env SATTN_TARGET=reference %sattn-opt %s --explain-selection 2>&1 >/dev/null | filecheck %s --check-prefix=EXPLAIN
// Bad targets are one-line errors.
// RUN: env SATTN_TARGET=gpu not %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' 2>&1 | filecheck %s --check-prefix=BADENV
// RUN: not %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec{target=gpu})' 2>&1 | filecheck %s --check-prefix=BADOPT
// BADENV: sattn-opt: error: environment variable SATTN_TARGET must be one of rvv, rocc, reference, got 'gpu'
// BADOPT: sattn-opt: error: sattn-select-spec option target must be one of rvv, rocc, reference, got 'gpu'

"sattn.sparse_attention"() { window_size = 119 : i64, keep_ratio = 0.46 : f64, block_size = 16 : i64, tile_M = 32 : i64, tile_D = 32 : i64, tile_S = 232 : i64 } : () -> ()
// RVV:  window_size = 119 : i64, {{.*}} spec = "bsr", spec_rule = "cost_model"
// ROCC: window_size = 119 : i64, {{.*}} spec = "bsr", spec_rule = "cost_model"
// REF:  window_size = 119 : i64, {{.*}} spec = "sliding_window", spec_rule = "cost_model"
"sattn.sparse_attention"() { window_size = 24 : i64, keep_ratio = 0.07 : f64, block_size = 32 : i64, tile_M = 16 : i64, tile_D = 64 : i64, tile_S = 167 : i64, causal = 1 : i64 } : () -> ()
// RVV:  window_size = 24 : i64, {{.*}} spec = "bsr", spec_rule = "cost_model"
// ROCC: window_size = 24 : i64, {{.*}} spec = "bsr", spec_rule = "cost_model"
// REF:  window_size = 24 : i64, {{.*}} spec = "sliding_window", spec_rule = "cost_model"

// EXPLAIN: target.mlir:27:1: sattn.sparse_attention
// EXPLAIN-NEXT: selection: spec=sliding_window rule=cost_model
// EXPLAIN-NEXT: reason: cheapest computable candidate: sliding_window 7.207e+05 (vs bsr 9.857e+05)
// EXPLAIN-NEXT: hints: force=none prefer=none l1_bytes=32768 disabled=none target=reference
// EXPLAIN-NEXT: candidate bsr {{ +}}ok {{ +}}cost=9.857e+05 [elems=2.688e+04, flops=3.441e+06, gather=1.075e+05, bias=2.688e+04, tiles_block=4, sel_calls=1, sel_elems=1.485e+04, fixed_block=1, l1_x=1, prefer_x=1] weights(reference)=[elems 1.46, flops 0.0108, gather 0.568, bias 1.01, tiles_block 5.53e+04, sel_calls 2.4e+05, sel_elems 2.08, fixed_block 3.29e+05]
// EXPLAIN-NEXT: candidate sliding_window {{ +}}chosen {{ +}}cost=7.207e+05 [elems=4.719e+04, flops=6.041e+06, tiles_band=4, fixed_band=1, gqa_x=1, prefer_x=1] weights(reference)=[elems 1.46, flops 0.0108, tiles_band 6.64e+04, fixed_band 3.21e+05]
