// The cost model is target-aware: SATTN_TARGET (or the pass option target=...) picks the fitted
// weights of the RVV kernels (default), the RoCC RTL or the NumPy reference. The two ops are
// bench-grid configurations where the measured best differs by backend (docs/selector.md):
// (1) S=64, w=24 vs a quarter of 16-token blocks: bsr on RVV and RoCC, sliding_window on the
//     reference (whose bsr pays ~50 us of block scoring and top-k in Python);
// (2) S=128: sliding_window on RVV and the reference, bsr on RoCC.
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

"sattn.sparse_attention"() { seq_len = 64 : i64, head_dim = 16 : i64, window_size = 24 : i64, keep_ratio = 0.25 : f64, block_size = 16 : i64 } : () -> ()
// RVV:  window_size = 24 : i64, keep_ratio = 2.500000e-01 : f64, block_size = 16 : i64, spec = "bsr", spec_rule = "cost_model"
// ROCC: window_size = 24 : i64, keep_ratio = 2.500000e-01 : f64, block_size = 16 : i64, spec = "bsr", spec_rule = "cost_model"
// REF:  window_size = 24 : i64, keep_ratio = 2.500000e-01 : f64, block_size = 16 : i64, spec = "sliding_window", spec_rule = "cost_model"
"sattn.sparse_attention"() { seq_len = 128 : i64, head_dim = 16 : i64, window_size = 24 : i64, keep_ratio = 0.25 : f64, block_size = 16 : i64 } : () -> ()
// RVV:  seq_len = 128 : i64, {{.*}} spec = "sliding_window", spec_rule = "cost_model"
// ROCC: seq_len = 128 : i64, {{.*}} spec = "bsr", spec_rule = "cost_model"
// REF:  seq_len = 128 : i64, {{.*}} spec = "sliding_window", spec_rule = "cost_model"

// EXPLAIN: target.mlir:22:1: sattn.sparse_attention
// EXPLAIN-NEXT: selection: spec=sliding_window rule=cost_model
// EXPLAIN-NEXT: reason: cheapest computable candidate: sliding_window 6.865e+04 (vs bsr 1.172e+05)
// EXPLAIN-NEXT: hints: force=none prefer=none l1_bytes=32768 disabled=none target=reference
// EXPLAIN-NEXT: candidate bsr {{ +}}ok {{ +}}cost=1.172e+05 [work=3.277e+04, score=2304, load=8192, fit_x=1, prefer_x=1] weights(reference)=[work 0, score 23.6, load 1.83, fixed 4.78e+04]
// EXPLAIN-NEXT: candidate sliding_window {{ +}}chosen {{ +}}cost=6.865e+04 [work=1.004e+05, load=1.638e+04, gqa_x=1, prefer_x=1] weights(reference)=[work 0, load 4.19, fixed 0]
