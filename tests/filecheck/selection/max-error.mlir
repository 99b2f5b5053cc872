// The max_error budget: when the cost model (or the bsr default) decides, an op with
// max_error gets the cheapest candidate whose max relative error against dense fp32 attention
// (on the synthetic data, through the reference) is within it; dense is the last resort.
// Errors of these ops (S=64, D=16): sliding_window 1.69, bsr 0.403, dense 0.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s
// RUN: %sattn-opt %s --explain-selection 2>&1 >/dev/null | filecheck %s --check-prefix=EXPLAIN
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-rvv)' | filecheck %s --check-prefix=RVV

// No budget: the cost model's cheapest, sliding_window.
"sattn.sparse_attention"() { seq_len = 64 : i64, head_dim = 16 : i64, window_size = 8 : i64, keep_ratio = 7.500000e-01 : f64, block_size = 16 : i64 } : () -> ()
// CHECK: block_size = 16 : i64, spec = "sliding_window", spec_rule = "cost_model"
// RVV: "sattn.rvv_call"() {seq_len = 64 : i64, {{.*}}block_size = 16 : i64, spec = "sliding_window", spec_rule = "cost_model"

// A loose budget keeps the cheapest; the budget rule decided.
"sattn.sparse_attention"() { seq_len = 64 : i64, head_dim = 16 : i64, window_size = 8 : i64, keep_ratio = 7.500000e-01 : f64, block_size = 16 : i64, max_error = 2.000000e+00 : f64 } : () -> ()
// CHECK: max_error = 2.000000e+00 : f64, spec = "sliding_window", spec_rule = "max_error"

// A budget sliding_window misses and bsr meets: the dearer bsr.
"sattn.sparse_attention"() { seq_len = 64 : i64, head_dim = 16 : i64, window_size = 8 : i64, keep_ratio = 7.500000e-01 : f64, block_size = 16 : i64, max_error = 1.000000e+00 : f64 } : () -> ()
// CHECK: max_error = 1.000000e+00 : f64, spec = "bsr", spec_rule = "max_error"
// RVV: "sattn.rvv_call"() {{{.*}}max_error = 1.000000e+00 : f64, spec = "bsr", spec_rule = "max_error"

// A budget no sparse candidate meets: dense.
"sattn.sparse_attention"() { seq_len = 64 : i64, head_dim = 16 : i64, window_size = 8 : i64, keep_ratio = 7.500000e-01 : f64, block_size = 16 : i64, max_error = 1.000000e-01 : f64 } : () -> ()
// CHECK: max_error = 1.000000e-01 : f64, spec = "dense", spec_rule = "max_error"

// Nothing computable: the bsr default is measured too.
"sattn.sparse_attention"() { seq_len = 64 : i64, head_dim = 16 : i64, block_size = 16 : i64, max_error = 1.000000e-02 : f64 } : () -> ()
// CHECK: max_error = 1.000000e-02 : f64, spec = "dense", spec_rule = "max_error"

// An explicit spec is the user's choice: the budget does not override it.
"sattn.sparse_attention"() { seq_len = 64 : i64, head_dim = 16 : i64, window_size = 8 : i64, spec = "sliding_window", max_error = 1.000000e-01 : f64 } : () -> ()
// CHECK: spec = "sliding_window", max_error = 1.000000e-01 : f64, spec_rule = "attr_spec"

// EXPLAIN: max-error.mlir:10:1: sattn.sparse_attention
// EXPLAIN-NEXT: selection: spec=sliding_window rule=cost_model
// EXPLAIN: max-error.mlir:15:1: sattn.sparse_attention
// EXPLAIN-NEXT: selection: spec=sliding_window rule=max_error
// EXPLAIN-NEXT: reason: cheapest computable candidate: sliding_window {{.*}}; cheapest candidate within max_error=2: sliding_window (sliding_window 1.69, bsr 0.403, dense 0)
// EXPLAIN: max-error.mlir:19:1: sattn.sparse_attention
// EXPLAIN-NEXT: selection: spec=bsr rule=max_error
// EXPLAIN-NEXT: reason: {{.*}}; cheapest candidate within max_error=1: bsr (sliding_window 1.69, bsr 0.403, dense 0)
// EXPLAIN-NEXT: hints:
// EXPLAIN-NEXT: candidate bsr {{ +}}chosen
// EXPLAIN-NEXT: candidate sliding_window {{ +}}over budget (err 1.69)
// EXPLAIN: max-error.mlir:24:1: sattn.sparse_attention
// EXPLAIN-NEXT: selection: spec=dense rule=max_error
// EXPLAIN-NEXT: reason: {{.*}}; cheapest candidate within max_error=0.1: dense
// EXPLAIN-NEXT: hints:
// EXPLAIN-NEXT: candidate bsr {{ +}}over budget (err 0.403)
// EXPLAIN-NEXT: candidate sliding_window {{ +}}over budget (err 1.69)
// EXPLAIN: max-error.mlir:28:1: sattn.sparse_attention
// EXPLAIN-NEXT: selection: spec=dense rule=max_error
// EXPLAIN-NEXT: reason: no cost computable: the spec's default is bsr; cheapest candidate within max_error=0.01: dense (bsr 1.77, dense 0)
// EXPLAIN: max-error.mlir:32:1: sattn.sparse_attention
// EXPLAIN-NEXT: selection: spec=sliding_window rule=attr_spec
