// spec = "nsa": the forcing rule `select_blocks` (after the spec's own rules, which keep their
// order), the explicit override, SATTN_DISABLE_NSA, and a forced nsa without block_size.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s
// RUN: env SATTN_DISABLE_NSA=1 %sattn-opt %s -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=OFF
// RUN: echo '"sattn.sparse_attention"() { select_blocks = 4 : i64 } : () -> ()' | not %sattn-opt -pass-pipeline='builtin.module(sattn-select-spec)' 2>&1 | filecheck %s --check-prefix=NOBLOCK
// NOBLOCK: sattn-opt: error: <stdin>:1:1: 'sattn.sparse_attention' attribute 'block_size' is required by spec nsa (the selection block b; the compression block too unless comp_block_size is set)

// select_blocks set forces nsa, whatever the cost model would say.
"sattn.sparse_attention"() { select_blocks = 4 : i64, block_size = 16 : i64, window_size = 8 : i64, keep_ratio = 0.25 : f64 } : () -> ()
// CHECK: spec = "nsa", spec_rule = "select_blocks"
// OFF: spec = "sliding_window", spec_rule = "cost_model"
// The spec's rules come first: top-k, then landmark, beat select_blocks.
"sattn.sparse_attention"() { select_blocks = 4 : i64, block_size = 16 : i64, topk_k = 4 : i64 } : () -> ()
// CHECK: spec = "topk_per_query", spec_rule = "topk"
// OFF: spec = "topk_per_query", spec_rule = "topk"
"sattn.sparse_attention"() { select_blocks = 4 : i64, block_size = 16 : i64, num_landmarks = 4 : i64 } : () -> ()
// CHECK: spec = "landmark", spec_rule = "landmark"
// OFF: spec = "landmark", spec_rule = "landmark"
// spec = "nsa" given explicitly (select_blocks unset: 16), with the overlapping compression.
"sattn.sparse_attention"() { spec = "nsa", block_size = 64 : i64, comp_block_size = 32 : i64, comp_stride = 16 : i64, window_size = 512 : i64 } : () -> ()
// CHECK: spec = "nsa", {{.*}}spec_rule = "attr_spec"
// OFF: spec = "nsa", {{.*}}spec_rule = "attr_spec"
